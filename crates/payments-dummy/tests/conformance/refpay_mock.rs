//! The `refpay` provider mock on 127.0.0.1 (wiremock with shared state) and the suite's
//! fixture for the reference adapter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Received, Secret, WireAmount};
use payments_core::signature::StripeStyleScheme;
use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus};
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::refpay::{Bug, Refpay, SIGNATURE_HEADER};

const CURRENT: &str = "whsec_refpay_current";
const PREVIOUS: &str = "whsec_refpay_previous";
const WRONG: &str = "whsec_refpay_wrong";

#[derive(Debug, Clone)]
struct Checkout {
    id: String,
    amount: i64,
    currency: String,
    reference: String,
    status: String,
    amount_refunded: i64,
    url: String,
}

impl Checkout {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "url": self.url,
            "amount": self.amount,
            "currency": self.currency,
            "reference": self.reference,
            "status": self.status,
            "amount_refunded": self.amount_refunded,
        })
    }
}

#[derive(Debug, Default)]
struct State {
    base: String,
    checkouts: Vec<Checkout>,
    /// Idempotency-Key -> (request body, answer).
    keys: HashMap<String, (Vec<u8>, Value)>,
    lose_next: bool,
    other_amount_next: bool,
}

fn answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

impl State {
    fn find(&mut self, id: &str) -> Option<&mut Checkout> {
        self.checkouts.iter_mut().find(|c| c.id == id)
    }

    fn create(&mut self, request: &Request) -> ResponseTemplate {
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some((body, stored)) = key.as_ref().and_then(|k| self.keys.get(k)) {
            if *body == request.body {
                return answer(200, stored);
            }
            return answer(400, &json!({"error": "idempotency_key_reused"}));
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return answer(400, &json!({"error": "invalid_json"}));
        };
        let (Some(amount), Some(currency), Some(reference)) = (
            body["amount"].as_i64(),
            body["currency"].as_str(),
            body["reference"].as_str(),
        ) else {
            return answer(400, &json!({"error": "missing_parameter"}));
        };
        let extra = i64::from(std::mem::take(&mut self.other_amount_next));
        let id = format!("chk_{}", self.checkouts.len() + 1);
        let checkout = Checkout {
            url: format!("{}/pay/{id}", self.base),
            id,
            amount: amount + extra,
            currency: currency.to_string(),
            reference: reference.to_string(),
            status: "open".into(),
            amount_refunded: 0,
        };
        let out = checkout.json();
        self.checkouts.push(checkout);
        if let Some(k) = key {
            self.keys.insert(k, (request.body.clone(), out.clone()));
        }
        if std::mem::take(&mut self.lose_next) {
            // It took effect; the answer is lost.
            return answer(502, &json!({"error": "bad_gateway"}));
        }
        answer(200, &out)
    }

    fn respond(&mut self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_string();
        let method = request.method.as_str().to_ascii_uppercase();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), parts.as_slice()) {
            ("POST", ["v1", "checkouts"]) => self.create(request),
            ("GET", ["v1", "checkouts", id]) => match self.find(id) {
                Some(c) => answer(200, &c.json()),
                None => answer(404, &json!({"error": "not_found"})),
            },
            ("POST", ["v1", "checkouts", id, "capture"]) => match self.find(id) {
                Some(c) if c.status == "authorized" || c.status == "paid" => {
                    c.status = "paid".into();
                    answer(200, &c.json())
                }
                Some(_) => answer(409, &json!({"error": "not_capturable"})),
                None => answer(404, &json!({"error": "not_found"})),
            },
            _ => answer(404, &json!({"error": "not_found"})),
        }
    }
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        lock(&self.0).respond(request)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The reference adapter (or a distorted one) with its mock.
pub struct RefpayFixture {
    server: MockServer,
    state: Arc<Mutex<State>>,
    provider: Refpay,
}

impl RefpayFixture {
    pub async fn start(bug: Option<Bug>) -> RefpayFixture {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            base: server.uri(),
            ..State::default()
        }));
        Mock::given(any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        let provider = Refpay::new(&server.uri(), &[CURRENT.into(), PREVIOUS.into()], bug);
        RefpayFixture {
            server,
            state,
            provider,
        }
    }
}

/// From refpay's docs: ISO 4217 minor units, except ISK with 2 decimals.
fn provider_units(m: Money) -> i64 {
    let iso = m.currency.exponent();
    let provider = if m.currency.code() == "ISK" { 2 } else { iso };
    m.amount.get() * 10_i64.pow(u32::from(provider - iso))
}

fn status_name(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Pending => "open",
        PaymentStatus::RequiresCapture => "authorized",
        PaymentStatus::Succeeded => "paid",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Expired => "expired",
        PaymentStatus::Canceled => "canceled",
        PaymentStatus::Refunded => "refunded",
    }
}

#[async_trait]
impl AdapterFixture for RefpayFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    fn currencies(&self) -> Vec<&'static str> {
        vec!["USD", "EUR", "JPY", "KWD", "ISK"]
    }

    fn provider_decimals(&self) -> Vec<(&'static str, u8)> {
        vec![("ISK", 2)]
    }

    fn wire_amount(&self) -> WireAmount {
        WireAmount::MinorUnits
    }

    async fn received(&self) -> Option<Vec<Received>> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        Some(requests.iter().map(Received::from).collect())
    }

    fn is_checkout_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path == "/v1/checkouts"
    }

    fn amount_sent(&self, r: &Received) -> Option<String> {
        let body: Value = serde_json::from_slice(&r.body).ok()?;
        Some(body["amount"].to_string())
    }

    async fn checkouts_at_provider(&self, payment_ref: &str) -> Option<usize> {
        Some(
            lock(&self.state)
                .checkouts
                .iter()
                .filter(|c| c.reference == payment_ref)
                .count(),
        )
    }

    async fn lose_next_checkout_answer(&self) -> bool {
        lock(&self.state).lose_next = true;
        true
    }

    async fn answer_next_checkout_with_other_amount(&self, _asked: Money) -> bool {
        lock(&self.state).other_amount_next = true;
        true
    }

    fn event_kinds(&self) -> Vec<Kind> {
        Kind::ALL.to_vec()
    }

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let (event_type, status) = match spec.kind {
            Kind::Succeeded => ("checkout.paid", "paid"),
            Kind::Failed => ("checkout.failed", "failed"),
            Kind::Pending => ("checkout.processing", "processing"),
            Kind::Expired => ("checkout.expired", "expired"),
            Kind::CaptureRequired => ("checkout.authorized", "authorized"),
            Kind::Refunded => ("checkout.refunded", "refunded"),
            Kind::Disputed => ("checkout.disputed", "paid"),
        };
        let units = provider_units(spec.amount);
        let refunded = spec.refunded.map_or(0, provider_units);
        if let Some(c) = lock(&self.state).find(&spec.session.external_id) {
            c.status = status.into();
            c.amount_refunded = refunded;
        }
        let currency = spec.amount.currency.code();
        let body = json!({
            "id": spec.event_id,
            "type": event_type,
            "created": spec.timestamp,
            "data": {
                "checkout": {
                    "id": spec.session.external_id,
                    "amount": units,
                    "currency": currency,
                    "reference": spec.request.payment_ref,
                    "status": status,
                    "amount_refunded": refunded,
                },
                "fee": { "amount": units * 3 / 100 + 30, "currency": currency },
            },
        });
        Some(body.to_string().into_bytes())
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        let s = match secret {
            Secret::Current => CURRENT,
            Secret::Previous => PREVIOUS,
            Secret::Wrong => WRONG,
        };
        let value = StripeStyleScheme::new(SIGNATURE_HEADER, &[s.to_string()], 300)
            .header_value(timestamp, body)
            .ok()?;
        Some(vec![
            (SIGNATURE_HEADER.to_string(), value),
            ("Content-Type".into(), "application/json".into()),
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
            PaymentStatus::RequiresCapture,
            PaymentStatus::Succeeded,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
            PaymentStatus::Canceled,
            PaymentStatus::Refunded,
        ]
    }

    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        match lock(&self.state).find(&session.external_id) {
            Some(c) => {
                c.status = status_name(status).into();
                true
            }
            None => false,
        }
    }
}
