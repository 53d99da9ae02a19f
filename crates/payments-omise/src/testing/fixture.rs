//! Omise's fixture for the conformance suite v2, against [`MockOmise`]. Written from Omise's
//! docs: amounts in the currency's smallest unit (ISO 4217), `metadata[payment_id]` echoed on
//! the charge, events verified by signature and then by re-fetching the charge.

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Received, Secret};
use payments_core::mock::Fault;
use payments_core::{async_trait, CheckoutSession, PaymentProvider, PaymentStatus};

use crate::testing::{
    sign_headers, MockOmise, TEST_OLD_WEBHOOK_SECRET, TEST_SECRET_KEY, TEST_WEBHOOK_SECRET,
    WRONG_WEBHOOK_SECRET,
};
use crate::{OmiseProvider, SIGNATURE_HEADER};

/// The conformance suite's fixture for Omise (also drives the server's end-to-end test): the
/// adapter against [`MockOmise`], with a current and a previous webhook secret.
pub struct OmiseFixture {
    pub mock: MockOmise,
    pub provider: OmiseProvider,
    tolerance: i64,
}

impl OmiseFixture {
    /// Starts the mock and an adapter pointed at it.
    pub async fn start() -> Self {
        let mock = MockOmise::start().await;
        let mut config = mock.config();
        config.webhook_secrets = vec![TEST_WEBHOOK_SECRET.into(), TEST_OLD_WEBHOOK_SECRET.into()];
        let tolerance = config.webhook_tolerance_secs;
        OmiseFixture {
            provider: OmiseProvider::new(config).expect("valid config"),
            mock,
            tolerance,
        }
    }
}

fn status_name(status: PaymentStatus) -> Option<&'static str> {
    Some(match status {
        PaymentStatus::Pending => "pending",
        PaymentStatus::Succeeded => "successful",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Expired => "expired",
        PaymentStatus::Canceled => "reversed",
        _ => return None,
    })
}

#[async_trait]
impl AdapterFixture for OmiseFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    /// Omise takes no three-decimal currency.
    fn currencies(&self) -> Vec<&'static str> {
        vec!["THB", "USD", "JPY"]
    }

    async fn received(&self) -> Option<Vec<Received>> {
        let requests = self.mock.received_requests().await;
        Some(requests.iter().map(Received::from).collect())
    }

    fn is_refund_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path.starts_with("/charges/") && r.path.ends_with("/refunds")
    }

    fn is_checkout_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path == "/charges"
    }

    fn amount_sent(&self, r: &Received) -> Option<String> {
        url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "amount")
            .map(|(_, v)| v.into_owned())
    }

    async fn checkouts_at_provider(&self, payment_ref: &str) -> Option<usize> {
        Some(self.mock.charges_for_payment(payment_ref).len())
    }

    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        self.mock.charge(&session.external_id)?;
        Some(self.mock.refunds_of(&session.external_id).len())
    }

    /// Omise takes no idempotency key: the refund is stored, its 502 is not retried.
    async fn lose_next_refund_answer(&self) -> bool {
        self.mock.lose_next_refund_answer();
        true
    }

    async fn forget_idempotency_keys(&self) -> bool {
        self.mock.forget_idempotency_keys();
        true
    }

    async fn lose_next_checkout_answer(&self) -> bool {
        self.mock.inject("POST", "/charges", Fault::LostAnswer, 1);
        true
    }

    fn event_kinds(&self) -> Vec<Kind> {
        vec![
            Kind::Succeeded,
            Kind::Failed,
            Kind::Pending,
            Kind::Expired,
            Kind::Refunded,
        ]
    }

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let id = &spec.session.external_id;
        if spec.kind == Kind::Refunded {
            // Omise announces each refund on its own (`refund.create`): the refund that brings
            // the charge's refunded total to what the suite names.
            let total = spec.refunded?.amount.get();
            self.mock.charge(id)?;
            self.mock.set_charge_status(id, "successful");
            self.mock.set_charge_amount(id, spec.amount.amount.get());
            let already = self.mock.charge(id)?["refunded_amount"].as_i64().unwrap_or(0);
            let refund = self.mock.refund_at_omise(id, total - already)?;
            return Some(self.mock.refund_event(id, &refund).1);
        }
        let (key, status) = match spec.kind {
            Kind::Succeeded => ("charge.complete", "successful"),
            Kind::Failed => ("charge.complete", "failed"),
            Kind::Pending => ("charge.complete", "pending"),
            Kind::Expired => ("charge.expire", "expired"),
            _ => return None,
        };
        self.mock.charge(id)?;
        self.mock.set_charge_status(id, status);
        // The re-fetched charge is the truth: it holds the amount the suite names.
        self.mock.set_charge_amount(id, spec.amount.amount.get());
        Some(self.mock.charge_event(key, id).1)
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        let s = match secret {
            Secret::Current => TEST_WEBHOOK_SECRET,
            Secret::Previous => TEST_OLD_WEBHOOK_SECRET,
            Secret::Wrong => WRONG_WEBHOOK_SECRET,
        };
        Some(sign_headers(s, timestamp, body))
    }

    fn signature_header(&self) -> Option<&'static str> {
        Some(SIGNATURE_HEADER)
    }

    fn stale_by(&self) -> Option<i64> {
        Some(self.tolerance + 1)
    }

    fn statuses(&self) -> Vec<PaymentStatus> {
        vec![
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
            PaymentStatus::Canceled,
        ]
    }

    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        match (status_name(status), self.mock.charge(&session.external_id)) {
            (Some(name), Some(_)) => {
                self.mock.set_charge_status(&session.external_id, name);
                true
            }
            _ => false,
        }
    }

    /// The mock's `OMISE_*` variables, with the fixture's current and previous webhook secrets.
    fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
        Some(vec![
            ("OMISE_SECRET_KEY", TEST_SECRET_KEY.into()),
            ("OMISE_API_BASE", self.mock.uri()),
            (
                "OMISE_WEBHOOK_SECRET",
                format!("{TEST_WEBHOOK_SECRET},{TEST_OLD_WEBHOOK_SECRET}"),
            ),
        ])
    }
}
