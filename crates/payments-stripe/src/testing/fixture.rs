//! Stripe's fixture for the conformance suite v2, against [`MockStripe`]. Written from
//! Stripe's docs: amounts in the currency's smallest unit (ISK with 2 decimals), three-decimal
//! amounts ending in 0; Checkout Session events carry our `metadata[payment_id]`, Charge and
//! Dispute objects name the PaymentIntent but carry no metadata of ours. Stripe keeps an
//! idempotency key's first answer, so a refund whose answer is lost stays lost on every retry
//! only when each attempt's answer is lost; the mock keeps the refund and its metadata.

use std::time::Duration;

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Received, Secret};
use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus, RetryPolicy};
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
        let config = StripeConfig::new(TEST_SECRET_KEY, &format!("{CURRENT},{PREVIOUS}"))
            .and_then(|c| c.with_api_base(&mock.uri()))
            .expect("config")
            .with_retry(RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(40),
                timeout: Duration::from_secs(2),
            });
        let provider = StripeProvider::new(config).expect("provider");
        StripeFixture { mock, provider }
    }

    fn payment_intent(&self, session_id: &str) -> Option<String> {
        self.mock.session(session_id)?["payment_intent"]
            .as_str()
            .map(str::to_string)
    }
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

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let id = &spec.session.external_id;
        let units = stripe_units(spec.amount);
        let currency = spec.amount.currency.code_lowercase();
        let (event_type, object) = match spec.kind {
            Kind::Succeeded | Kind::Pending | Kind::Failed | Kind::Expired => {
                let (event_type, status, paid) = match spec.kind {
                    Kind::Succeeded => ("checkout.session.completed", "complete", "paid"),
                    Kind::Pending => ("checkout.session.completed", "complete", "unpaid"),
                    Kind::Failed => ("checkout.session.async_payment_failed", "complete", "unpaid"),
                    _ => ("checkout.session.expired", "expired", "unpaid"),
                };
                let mut session = self.mock.set_session_status(id, status, paid)?;
                session["amount_total"] = json!(units);
                session["currency"] = json!(currency);
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
            Kind::CaptureRequired => return None,
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
