//! PayPal's fixture for the conformance suite v2, against [`MockPayPal`]. Written from PayPal's
//! docs: amounts as decimal strings with PayPal's decimals (JPY, HUF and TWD without any), our
//! payment id in `custom_id`, orders approved by the payer and then captured, events verified
//! through PayPal's verify-webhook-signature call (no shared secret to rotate).

use std::path::PathBuf;

use payments_core::conformance::{
    AdapterFixture, EventSpec, Kind, Received, Secret, Served, SignatureCase, WireAmount,
};
use payments_core::mock::ProviderMock;
use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus, RefundState};
use serde_json::{json, Value};

use crate::testing::{
    capture_resource, event_body, published_key, sign_webhook, start_rsa_verifier, MockPayPal, RsaKey,
    TEST_SIGNING_KEY, TEST_WEBHOOK_ID,
};
use crate::transformers::AmountWire;
use crate::{PayPalProvider, HEADER_TRANSMISSION_SIG};

/// The conformance suite's fixture for PayPal (also drives the server's end-to-end test): the
/// adapter against [`MockPayPal`], whose verify-webhook-signature answers as PayPal does.
pub struct PayPalFixture {
    pub mock: MockPayPal,
    pub provider: PayPalProvider,
    /// PayPal's verify-webhook-signature for the published vectors: a real RSA check with the
    /// certificate PayPal published (see [`start_rsa_verifier`]).
    rsa_verifier: ProviderMock<Option<RsaKey>>,
}

/// This crate's `evidence/` folder.
fn evidence() -> PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/evidence").into()
}

impl PayPalFixture {
    /// Starts the mock and an adapter pointed at it.
    pub async fn start() -> Self {
        let mock = MockPayPal::start().await;
        PayPalFixture {
            provider: mock.provider(),
            rsa_verifier: start_rsa_verifier(published_key(&evidence())).await,
            mock,
        }
    }
}

/// The id of the capture of order `order_id` in the events built here (PayPal's form: capital
/// letters and digits), the same for every event of one order: a refund or a dispute names only
/// the capture, which the capture events made known.
fn capture_id(order_id: &str) -> String {
    let tail: String = order_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .skip(2)
        .collect();
    format!("CAP{tail}").to_ascii_uppercase()
}

/// A refund or dispute id unique to the event (PayPal's form).
fn id_from(prefix: &str, event_id: &str) -> String {
    let tail: String = event_id.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{prefix}{tail}").to_ascii_uppercase()
}

/// From PayPal's currency codes page: decimals PayPal uses where they differ from ISO 4217.
const PAYPAL_DECIMALS: [(&str, u8); 3] = [("HUF", 0), ("JPY", 0), ("TWD", 0)];

/// `m` as PayPal writes it, computed here (not with the adapter's helper).
fn wire(m: Money) -> AmountWire {
    let code = m.currency.code();
    let iso = u32::from(m.currency.exponent());
    let paypal = PAYPAL_DECIMALS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(iso, |(_, d)| u32::from(*d));
    let units = m.amount.get() / 10_i64.pow(iso - paypal.min(iso)) * 10_i64.pow(paypal.saturating_sub(iso));
    let value = if paypal == 0 {
        units.to_string()
    } else {
        let p = 10_i64.pow(paypal);
        format!("{}.{:0w$}", units / p, units % p, w = paypal as usize)
    };
    AmountWire {
        currency_code: code.to_string(),
        value,
    }
}

#[async_trait]
impl AdapterFixture for PayPalFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    /// PayPal takes no three-decimal currency.
    fn currencies(&self) -> Vec<&'static str> {
        vec!["USD", "THB", "JPY"]
    }

    fn provider_decimals(&self) -> Vec<(&'static str, u8)> {
        PAYPAL_DECIMALS.to_vec()
    }

    fn wire_amount(&self) -> WireAmount {
        WireAmount::Decimal
    }

    async fn received(&self) -> Option<Vec<Received>> {
        Some(self.mock.received().await.iter().map(Received::from).collect())
    }

    fn is_refund_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path.starts_with("/v2/payments/captures/") && r.path.ends_with("/refund")
    }

    fn is_checkout_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path == "/v2/checkout/orders"
    }

    fn amount_sent(&self, r: &Received) -> Option<String> {
        let body: Value = serde_json::from_slice(&r.body).ok()?;
        body["purchase_units"][0]["amount"]["value"]
            .as_str()
            .map(str::to_string)
    }

    /// No `Expired`: PayPal documents no event for an order that lapses (its Orders v2 events
    /// are APPROVED, COMPLETED, PAYMENT-APPROVAL.REVERSED); an unapproved order just ends, and
    /// the server expires it locally.
    fn event_kinds(&self) -> Vec<Kind> {
        vec![
            Kind::Succeeded,
            Kind::Failed,
            Kind::Pending,
            Kind::CaptureRequired,
            Kind::Refunded,
            Kind::Disputed,
        ]
    }

    /// As PayPal's payloads are described (Payments v2 `capture` and `refund`, Orders v2 `order`,
    /// Disputes v1 `dispute`; see `evidence/events`): captures carry our `custom_id` and their
    /// order; a refund carries this refund's `amount`, the running `total_refunded_amount` and a
    /// link up to its capture only; a dispute names the capture and its gross amount.
    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let order_id = &spec.session.external_id;
        let custom_id = &spec.request.payment_ref;
        let amount = wire(spec.amount);
        let capture = capture_id(order_id);
        let (event_type, resource_type, resource) = match spec.kind {
            Kind::CaptureRequired => {
                self.mock.approve_order(order_id);
                self.mock.set_order_status(order_id, "APPROVED");
                let mut order = self.mock.order_json(order_id)?;
                order["purchase_units"][0]["amount"] = json!(amount);
                ("CHECKOUT.ORDER.APPROVED".to_string(), "checkout-order", order)
            }
            Kind::Expired => return None,
            Kind::Succeeded | Kind::Pending | Kind::Failed => {
                let status = match spec.kind {
                    Kind::Succeeded => "COMPLETED",
                    Kind::Pending => "PENDING",
                    _ => "DECLINED",
                };
                let mut resource = capture_resource(&capture, status, order_id, custom_id, &amount);
                match spec.kind {
                    Kind::Pending => resource["status_details"] = json!({"reason": "PENDING_REVIEW"}),
                    // The second amount of a capture: what the payee receives after the fee.
                    Kind::Succeeded => {
                        if let Some(other) = spec.other_amount {
                            resource["seller_receivable_breakdown"] =
                                json!({"gross_amount": amount, "net_amount": wire(other)});
                        }
                    }
                    _ => {}
                }
                (format!("PAYMENT.CAPTURE.{status}"), "capture", resource)
            }
            Kind::Refunded => {
                let total = spec.refunded?;
                let this = wire(spec.this_refund.unwrap_or(total));
                let id = id_from("R", &spec.event_id);
                let uri = self.mock.uri();
                let resource = json!({
                    "id": id,
                    "status": "COMPLETED",
                    "amount": this,
                    "seller_payable_breakdown": {"gross_amount": this, "total_refunded_amount": wire(total)},
                    "links": [
                        {"href": format!("{uri}/v2/payments/refunds/{id}"), "rel": "self", "method": "GET"},
                        {"href": format!("{uri}/v2/payments/captures/{capture}"), "rel": "up", "method": "GET"},
                    ],
                });
                ("PAYMENT.CAPTURE.REFUNDED".to_string(), "refund", resource)
            }
            Kind::Disputed => {
                let part = Money::new((spec.amount.amount.get() / 2).max(1), spec.amount.currency);
                let id = id_from("PP-D-", &spec.event_id);
                let resource = json!({
                    "dispute_id": id,
                    "disputed_transactions": [{
                        "seller_transaction_id": capture,
                        "transaction_status": "COMPLETED",
                        "gross_amount": amount,
                    }],
                    "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
                    "status": "OPEN",
                    "dispute_amount": wire(part),
                    "dispute_life_cycle_stage": "INQUIRY",
                    "dispute_channel": "INTERNAL",
                    "links": [],
                });
                ("CUSTOMER.DISPUTE.CREATED".to_string(), "dispute", resource)
            }
        };
        Some(event_body(&spec.event_id, &event_type, resource_type, resource))
    }

    /// A refund or a dispute names the capture (neither carries the order id).
    fn event_external_id(&self, kind: Kind, session: &CheckoutSession) -> String {
        match kind {
            Kind::Refunded | Kind::Disputed => capture_id(&session.external_id),
            _ => session.external_id.clone(),
        }
    }

    /// A refund's `custom_id` is the refund's own (our refund marker), and a dispute carries
    /// none of ours.
    fn carries_payment_ref(&self, kind: Kind) -> bool {
        !matches!(kind, Kind::Refunded | Kind::Disputed)
    }

    fn second_amount(&self) -> Option<&'static str> {
        Some("the capture's seller_receivable_breakdown.net_amount (what the payee receives after the fee)")
    }

    fn evidence_dir(&self) -> Option<PathBuf> {
        Some(evidence())
    }

    async fn serve(&self, served: &Served) -> bool {
        self.mock
            .serve(&served.method, &served.path, served.status, &served.body);
        true
    }

    /// The adapter with the vector's webhook id, asking a mock PayPal that checks the RSA
    /// signature with the certificate PayPal published (not the test-only scheme).
    async fn verifier(&self, case: &SignatureCase) -> Option<Box<dyn PaymentProvider>> {
        let mut config = self.mock.config();
        config.api_base = self.rsa_verifier.uri();
        config.webhook_id = case.secret.clone();
        let provider = PayPalProvider::new(config).ok()?;
        Some(Box::new(provider))
    }

    /// PayPal's refund statuses: `PENDING`, `COMPLETED`, `FAILED`, `CANCELLED`.
    async fn set_refund_state(
        &self,
        _session: &CheckoutSession,
        refund_id: &str,
        state: RefundState,
    ) -> bool {
        let status = match state {
            RefundState::Pending => "PENDING",
            RefundState::Succeeded => "COMPLETED",
            RefundState::Failed => "FAILED",
            RefundState::Canceled => "CANCELLED",
        };
        self.mock.set_refund_status(refund_id, status)
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        match secret {
            Secret::Current => Some(sign_webhook(TEST_SIGNING_KEY, TEST_WEBHOOK_ID, body, timestamp)),
            Secret::Wrong => Some(sign_webhook(b"not-paypal", TEST_WEBHOOK_ID, body, timestamp)),
            Secret::Previous => None,
        }
    }

    fn signature_header(&self) -> Option<&'static str> {
        Some(HEADER_TRANSMISSION_SIG)
    }

    /// Every status but `Expired` (a voided order is `Canceled`): paid, failed and refunded
    /// orders are captured at the mock (`COMPLETED`, `DECLINED`; refunded in PayPal's dashboard).
    fn statuses(&self) -> Vec<PaymentStatus> {
        vec![
            PaymentStatus::Pending,
            PaymentStatus::RequiresCapture,
            PaymentStatus::Succeeded,
            PaymentStatus::Failed,
            PaymentStatus::Canceled,
            PaymentStatus::Refunded,
        ]
    }

    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        let id = &session.external_id;
        match status {
            PaymentStatus::Pending => self.mock.order(id).is_some(),
            PaymentStatus::RequiresCapture => self.mock.approve_order(id),
            PaymentStatus::Canceled => self.mock.set_order_status(id, "VOIDED"),
            PaymentStatus::Succeeded => self.mock.capture_order(id, "COMPLETED").is_some(),
            PaymentStatus::Failed => self.mock.capture_order(id, "DECLINED").is_some(),
            PaymentStatus::Refunded => {
                let captured = self.mock.capture_order(id, "COMPLETED").is_some();
                let amount = self.mock.order(id).and_then(|o| o.amount.to_money().ok());
                let full = amount.map(|m| m.amount.get());
                captured
                    && full.is_some_and(|units| self.mock.dashboard_refund(id, units, "COMPLETED").is_some())
            }
            PaymentStatus::Expired => false,
        }
    }

    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        Some(self.mock.refunds_of(&session.external_id).len())
    }

    async fn lose_next_refund_answer(&self) -> bool {
        self.mock.lose_next_refund();
        true
    }

    async fn forget_idempotency_keys(&self) -> bool {
        self.mock.forget_request_ids();
        true
    }

    /// [`MockPayPal::env_vars`]: the server asks the mock to verify each webhook.
    fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
        Some(self.mock.env_vars())
    }
}
