//! PayPal's fixture for the conformance suite v2, against [`MockPayPal`]. Written from PayPal's
//! docs: amounts as decimal strings with PayPal's decimals (JPY, HUF and TWD without any), our
//! payment id in `custom_id`, orders approved by the payer and then captured, events verified
//! through PayPal's verify-webhook-signature call (no shared secret to rotate).

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Received, Secret, WireAmount};
use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus};
use serde_json::{json, Value};

use crate::testing::{
    capture_resource, event_body, sign_webhook, MockPayPal, TEST_SIGNING_KEY, TEST_WEBHOOK_ID,
};
use crate::transformers::AmountWire;
use crate::{PayPalProvider, HEADER_TRANSMISSION_SIG};

/// The conformance suite's fixture for PayPal (also drives the server's end-to-end test): the
/// adapter against [`MockPayPal`], whose verify-webhook-signature answers as PayPal does.
pub struct PayPalFixture {
    pub mock: MockPayPal,
    pub provider: PayPalProvider,
}

impl PayPalFixture {
    /// Starts the mock and an adapter pointed at it.
    pub async fn start() -> Self {
        let mock = MockPayPal::start().await;
        PayPalFixture {
            provider: mock.provider(),
            mock,
        }
    }
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

    fn event_kinds(&self) -> Vec<Kind> {
        vec![
            Kind::Succeeded,
            Kind::Failed,
            Kind::Pending,
            Kind::Expired,
            Kind::CaptureRequired,
            Kind::Refunded,
        ]
    }

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let order_id = &spec.session.external_id;
        let custom_id = &spec.request.payment_ref;
        let amount = wire(spec.amount);
        let (event_type, resource_type, resource) = match spec.kind {
            Kind::CaptureRequired | Kind::Expired => {
                let (event_type, status) = if spec.kind == Kind::Expired {
                    ("CHECKOUT.ORDER.VOIDED", "VOIDED")
                } else {
                    self.mock.approve_order(order_id);
                    ("CHECKOUT.ORDER.APPROVED", "APPROVED")
                };
                self.mock.set_order_status(order_id, status);
                let mut order = self.mock.order_json(order_id)?;
                order["purchase_units"][0]["amount"] = json!(amount);
                (event_type.to_string(), "checkout-order", order)
            }
            Kind::Succeeded | Kind::Pending | Kind::Failed => {
                let status = match spec.kind {
                    Kind::Succeeded => "COMPLETED",
                    Kind::Pending => "PENDING",
                    _ => "DECLINED",
                };
                let capture_id = format!("CAP-{}", spec.event_id);
                let resource = capture_resource(&capture_id, status, order_id, custom_id, &amount);
                (format!("PAYMENT.CAPTURE.{status}"), "capture", resource)
            }
            Kind::Refunded => {
                let refunded = wire(spec.refunded?);
                let resource = json!({
                    "id": format!("REF-{}", spec.event_id),
                    "status": "COMPLETED",
                    "amount": refunded,
                    "custom_id": custom_id,
                    "seller_payable_breakdown": { "total_refunded_amount": refunded },
                    "supplementary_data": { "related_ids": { "order_id": order_id } },
                    "links": [],
                });
                ("PAYMENT.CAPTURE.REFUNDED".to_string(), "refund", resource)
            }
            Kind::Disputed => return None,
        };
        Some(event_body(&spec.event_id, &event_type, resource_type, resource))
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
