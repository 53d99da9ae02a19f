//! The dummy's fixture for the conformance suite (v2): webhooks signed HMAC-SHA256 with the
//! current or the previous of two secrets, or a wrong one.

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Secret};
use payments_core::{async_trait, CheckoutSession, PaymentProvider, PaymentStatus};

use crate::{DummyProvider, SIGNATURE_HEADER};

/// The webhook secrets the fixture's adapter (and the server it configures) holds: current, previous.
pub const SECRETS: &str = "s3cret-new,s3cret-old";

/// The conformance suite's fixture for the dummy (also drives the server's end-to-end test):
/// the adapter with a current and a previous webhook secret; it talks to no provider.
pub struct DummyFixture {
    pub provider: DummyProvider,
    /// Refunded so far per payment (the dummy reports refunds one at a time, so the fixture
    /// turns the suite's running total into the next refund).
    refunded: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl DummyFixture {
    /// The dummy adapter, as the server would build it with [`SECRETS`].
    pub fn new() -> Self {
        DummyFixture {
            provider: DummyProvider::new(SECRETS, "http://127.0.0.1:8000").expect("secrets"),
            refunded: Default::default(),
        }
    }

    /// The same as [`DummyFixture::new`] (the dummy has no mock to start); for the server's
    /// end-to-end test, which starts every fixture this way.
    pub async fn start() -> Self {
        Self::new()
    }
}

impl Default for DummyFixture {
    fn default() -> Self {
        Self::new()
    }
}

fn signer(secret: &str) -> DummyProvider {
    DummyProvider::new(secret, "http://127.0.0.1:8000").expect("a secret")
}

#[async_trait]
impl AdapterFixture for DummyFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    /// The dummy takes any ISO 4217 currency in ISO minor units.
    fn currencies(&self) -> Vec<&'static str> {
        vec!["USD", "JPY", "KWD"]
    }

    fn no_authorization_because(&self) -> Option<&'static str> {
        Some("the dummy has no authorization step: its payments are paid or not")
    }

    fn no_evidence_because(&self) -> Option<&'static str> {
        Some("the dummy is its own provider: its payloads and API are defined by this crate")
    }

    fn event_kinds(&self) -> Vec<Kind> {
        vec![
            Kind::Succeeded,
            Kind::Failed,
            Kind::Pending,
            Kind::Expired,
            Kind::Refunded,
            Kind::Disputed,
        ]
    }

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        if spec.kind == Kind::Refunded {
            let total = spec.refunded?.amount;
            let this = {
                let mut done = self.refunded.lock().ok()?;
                let so_far = done.entry(spec.request.payment_ref.clone()).or_insert(0);
                let this = total.get() - *so_far;
                *so_far = total.get();
                this
            };
            let req = self
                .provider
                .signed_refund_webhook(
                    &spec.event_id,
                    &spec.request.payment_ref,
                    spec.amount,
                    &format!("dummy_re_{}", spec.event_id),
                    payments_core::MinorUnits(this),
                    spec.timestamp,
                )
                .ok()?;
            return Some(req.body);
        }
        let event_type = match spec.kind {
            Kind::Succeeded => "payment.succeeded",
            Kind::Failed => "payment.failed",
            Kind::Pending => "payment.pending",
            Kind::Expired => "checkout.session.expired",
            Kind::Disputed => crate::DISPUTE_EVENT,
            _ => return None,
        };
        let req = self
            .provider
            .signed_webhook(
                &spec.event_id,
                event_type,
                &spec.request.payment_ref,
                spec.amount,
                spec.timestamp,
            )
            .ok()?;
        Some(req.body)
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        let with = match secret {
            Secret::Current => signer("s3cret-new"),
            Secret::Previous => signer("s3cret-old"),
            Secret::Wrong => signer("not-the-secret"),
        };
        with.sign(body, timestamp).ok()
    }

    /// The dummy keeps no payments: any checkout it made can be refunded as if paid.
    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        let _ = session;
        status == PaymentStatus::Succeeded
    }

    /// The refunds the dummy made for the payment (its own books).
    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        self.provider()
            .list_refunds(&session.external_id)
            .await
            .ok()
            .map(|r| r.len())
    }

    fn signature_header(&self) -> Option<&'static str> {
        Some(SIGNATURE_HEADER)
    }

    fn stale_by(&self) -> Option<i64> {
        Some(301)
    }

    /// `PAYMENT_WEBHOOK_SECRET`: the dummy's current and previous secrets.
    fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
        Some(vec![("PAYMENT_WEBHOOK_SECRET", SECRETS.to_string())])
    }
}
