//! Stripe's fixture for the conformance suite v2, against [`MockStripe`]. Written from
//! Stripe's docs: amounts in the currency's smallest unit (ISK with 2 decimals), three-decimal
//! amounts ending in 0; Checkout Session events carry our `metadata[payment_id]`, Charge and
//! Dispute objects name the PaymentIntent but carry no metadata of ours. Stripe keeps an
//! idempotency key's first answer, so a refund whose answer is lost stays lost on every retry
//! only when each attempt's answer is lost; the mock keeps the refund and its metadata.

use std::path::PathBuf;
use std::time::Duration;

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Received, Secret, Served, SignatureCase};
use payments_core::{
    async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus, RefundState, RetryPolicy,
};
use serde_json::json;

use crate::testing::{self, MockStripe, TEST_SECRET_KEY};
use crate::{StripeConfig, StripeProvider, SIGNATURE_HEADER};

const CURRENT: &str = "whsec_suite_current_0123456789";
const PREVIOUS: &str = "whsec_suite_previous_0123456789";
const WRONG: &str = "whsec_suite_wrong_0123456789";

/// The conformance suite's fixture for Stripe (also drives the server's end-to-end test):
/// the adapter against [`MockStripe`], with a current and a previous webhook secret.
pub struct StripeFixture {
    pub mock: MockStripe,
    pub provider: StripeProvider,
}

impl StripeFixture {
    /// Starts the mock and an adapter pointed at it.
    pub async fn start() -> Self {
        let mock = MockStripe::start().await;
        let provider = adapter(&mock, &format!("{CURRENT},{PREVIOUS}")).expect("provider");
        StripeFixture { mock, provider }
    }

    fn payment_intent(&self, session_id: &str) -> Option<String> {
        self.mock.session(session_id)?["payment_intent"]
            .as_str()
            .map(str::to_string)
    }
}

/// The adapter pointed at `mock`, verifying webhooks with `webhook_secrets`, with quick retries.
fn adapter(mock: &MockStripe, webhook_secrets: &str) -> Option<StripeProvider> {
    let config = StripeConfig::new(TEST_SECRET_KEY, webhook_secrets)
        .and_then(|c| c.with_api_base(&mock.uri()))
        .ok()?
        .with_retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            timeout: Duration::from_secs(2),
        });
    StripeProvider::new(config).ok()
}

/// From Stripe's docs: the smallest currency unit, with ISK at 2 decimals.
fn stripe_units(m: Money) -> i64 {
    let iso = m.currency.exponent();
    let stripe = if m.currency.code() == "ISK" { 2 } else { iso };
    m.amount.get() * 10_i64.pow(u32::from(stripe - iso))
}

#[async_trait]
impl AdapterFixture for StripeFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    fn currencies(&self) -> Vec<&'static str> {
        vec!["USD", "THB", "JPY", "KWD", "ISK"]
    }

    fn provider_decimals(&self) -> Vec<(&'static str, u8)> {
        vec![("ISK", 2)]
    }

    async fn received(&self) -> Option<Vec<Received>> {
        Some(
            self.mock
                .api_requests()
                .await
                .iter()
                .map(Received::from)
                .collect(),
        )
    }

    fn is_refund_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path == "/v1/refunds"
    }

    fn is_checkout_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path == "/v1/checkout/sessions"
    }

    fn amount_sent(&self, r: &Received) -> Option<String> {
        url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "line_items[0][price_data][unit_amount]")
            .map(|(_, v)| v.into_owned())
    }

    async fn checkouts_at_provider(&self, payment_ref: &str) -> Option<usize> {
        let ids = self.mock.session_ids();
        Some(
            ids.iter()
                .filter_map(|id| self.mock.session(id))
                .filter(|s| s["metadata"]["payment_id"] == payment_ref)
                .count(),
        )
    }

    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        Some(self.mock.refunds_of(&session.external_id).len())
    }

    /// Every attempt of the next refund loses its answer (the first one stores the refund; the
    /// retries with the same key get Stripe's replay of that answer, lost as well).
    async fn lose_next_refund_answer(&self) -> bool {
        let attempts = self.provider.config().retry.max_attempts;
        let times = usize::try_from(attempts).unwrap_or(usize::MAX);
        self.mock
            .inject_fault("POST", "/v1/refunds", testing::Fault::LostAnswer, times);
        true
    }

    async fn forget_idempotency_keys(&self) -> bool {
        self.mock.forget_idempotency_keys();
        true
    }

    async fn lose_next_checkout_answer(&self) -> bool {
        self.mock
            .inject_fault("POST", "/v1/checkout/sessions", testing::Fault::LostAnswer, 1);
        true
    }

    /// Stripe answers with a valid open session for 100 units more than asked.
    async fn answer_next_checkout_with_other_amount(&self, asked: Money) -> bool {
        let id = "cs_test_other_amount";
        let other = Money::new(asked.amount.get() + 100, asked.currency);
        let mut session = testing::paid_session_object(id, "pay_other", other, payments_core::unix_now());
        session["status"] = json!("open");
        session["payment_status"] = json!("unpaid");
        session["url"] = json!(format!("{}/c/pay/{id}", self.mock.uri()));
        let answer = payments_core::mock::ResponseTemplate::new(200).set_body_json(session);
        self.mock.inject("POST", "/v1/checkout/sessions", answer, 1).await;
        true
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

    /// Checkout Session events carry the session as it now stands at the mock, with
    /// `amount_total` (what is paid) and `amount_subtotal` (before discounts and taxes: the
    /// suite's other amount when it asks for one). Refunds: `charge.refunded` with the charge's
    /// running `amount_refunded` (on API version 2023-08-16 a charge no longer carries its
    /// `refunds` list, so this refund's own amount is nowhere in that payload). Authorized, not
    /// captured: `checkout.session.completed` with `payment_status: unpaid` and a PaymentIntent
    /// (Stripe's Checkout with `capture_method: manual`, which this adapter never asks for).
    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let id = &spec.session.external_id;
        let units = stripe_units(spec.amount);
        let currency = spec.amount.currency.code_lowercase();
        let (event_type, object) = match spec.kind {
            Kind::Succeeded | Kind::Pending | Kind::Failed | Kind::Expired | Kind::CaptureRequired => {
                let (event_type, status, paid) = match spec.kind {
                    Kind::Succeeded => ("checkout.session.completed", "complete", "paid"),
                    Kind::Pending | Kind::CaptureRequired => {
                        ("checkout.session.completed", "complete", "unpaid")
                    }
                    Kind::Failed => ("checkout.session.async_payment_failed", "complete", "unpaid"),
                    _ => ("checkout.session.expired", "expired", "unpaid"),
                };
                let mut session = self.mock.set_session_status(id, status, paid)?;
                session["amount_total"] = json!(units);
                session["amount_subtotal"] = json!(spec.other_amount.map_or(units, stripe_units));
                session["currency"] = json!(currency);
                if spec.kind == Kind::CaptureRequired {
                    // The PaymentIntent Checkout confirmed, now `requires_capture`.
                    session["payment_intent"] = json!(format!("pi_{}", &id[3..]));
                }
                (event_type, session)
            }
            Kind::Refunded | Kind::Disputed => {
                self.mock.complete_session(id)?;
                let pi = self.payment_intent(id)?;
                let charge = format!("ch_{}", &pi[3..]);
                if spec.kind == Kind::Refunded {
                    let refunded = stripe_units(spec.refunded?);
                    let charge = json!({
                        "id": charge, "object": "charge", "amount": units,
                        "amount_captured": units, "amount_refunded": refunded,
                        "currency": currency, "captured": true, "paid": true,
                        "payment_intent": pi, "refunded": refunded == units,
                        "status": "succeeded", "metadata": {},
                    });
                    ("charge.refunded", charge)
                } else {
                    let dispute = json!({
                        "id": format!("dp_{}", &pi[3..]), "object": "dispute", "amount": units,
                        "charge": charge, "currency": currency, "payment_intent": pi,
                        "reason": "fraudulent", "status": "needs_response", "metadata": {},
                    });
                    ("charge.dispute.created", dispute)
                }
            }
        };
        Some(testing::event_body(
            &spec.event_id,
            event_type,
            object,
            spec.timestamp,
            false,
        ))
    }

    fn event_external_id(&self, kind: Kind, session: &CheckoutSession) -> String {
        match kind {
            Kind::Refunded | Kind::Disputed => self.payment_intent(&session.external_id).unwrap_or_default(),
            _ => session.external_id.clone(),
        }
    }

    fn carries_payment_ref(&self, kind: Kind) -> bool {
        !matches!(kind, Kind::Refunded | Kind::Disputed)
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        let s = match secret {
            Secret::Current => CURRENT,
            Secret::Previous => PREVIOUS,
            Secret::Wrong => WRONG,
        };
        Some(vec![
            (
                SIGNATURE_HEADER.to_string(),
                testing::sign_webhook(s, body, timestamp),
            ),
            ("Content-Type".into(), "application/json; charset=utf-8".into()),
        ])
    }

    fn signature_header(&self) -> Option<&'static str> {
        Some(SIGNATURE_HEADER)
    }

    fn stale_by(&self) -> Option<i64> {
        Some(301)
    }

    fn statuses(&self) -> Vec<PaymentStatus> {
        vec![
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Expired,
            PaymentStatus::Refunded,
        ]
    }

    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        let id = &session.external_id;
        match status {
            // A new session is open and unpaid.
            PaymentStatus::Pending => self.mock.session(id).is_some(),
            PaymentStatus::Succeeded => self.mock.complete_session(id).is_some(),
            PaymentStatus::Expired => self.mock.expire_session(id).is_some(),
            // Paid, then refunded in full (in the Dashboard): the session stays complete and paid.
            PaymentStatus::Refunded => {
                self.mock.complete_session(id).is_some() && self.mock.refund_in_dashboard(id, None).is_ok()
            }
            _ => false,
        }
    }

    fn evidence_dir(&self) -> Option<PathBuf> {
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/evidence").into())
    }

    async fn serve(&self, served: &Served) -> bool {
        self.mock
            .mock
            .serve(&served.method, &served.path, served.status, &served.body);
        true
    }

    /// The adapter with the vector's secret as its only webhook secret (Stripe verifies
    /// offline: no mock is asked).
    async fn verifier(&self, case: &SignatureCase) -> Option<Box<dyn PaymentProvider>> {
        adapter(&self.mock, &case.secret).map(|p| Box::new(p) as Box<dyn PaymentProvider>)
    }

    /// Stripe's refund `status` words are the suite's: `pending`, `succeeded`, `failed`,
    /// `canceled` (docs.stripe.com/api/refunds/object).
    async fn set_refund_state(&self, session: &CheckoutSession, refund_id: &str, state: RefundState) -> bool {
        let ours = self
            .mock
            .refunds_of(&session.external_id)
            .iter()
            .any(|r| r["id"] == refund_id);
        let word = match state {
            RefundState::Pending => "pending",
            RefundState::Succeeded => "succeeded",
            RefundState::Failed => "failed",
            RefundState::Canceled => "canceled",
        };
        ours && self.mock.set_refund_status(refund_id, word).is_some()
    }

    fn second_amount(&self) -> Option<&'static str> {
        Some("the Checkout Session's amount_subtotal (amount_total is what is paid)")
    }

    /// [`MockStripe::env_vars`], with the fixture's current and previous webhook secrets.
    fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
        let mut vars = self.mock.env_vars();
        for (name, value) in &mut vars {
            if *name == "STRIPE_WEBHOOK_SECRET" {
                *value = format!("{CURRENT},{PREVIOUS}");
            }
        }
        Some(vars)
    }
}
