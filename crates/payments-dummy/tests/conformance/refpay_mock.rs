//! The `refpay` provider mock on 127.0.0.1 (wiremock with shared state) and the suite's
//! fixture for the reference adapter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use payments_core::conformance::{
    AdapterFixture, EventSpec, Kind, Received, Secret, SignatureCase, WireAmount,
};
use payments_core::signature::StandardWebhooks;
use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus, RefundState};
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::refpay::{Bug, Refpay, ATTEMPTS, EVENT_ID_HEADER, SIGNATURE_HEADER};

const CURRENT: &str = "whsec_cmVmcGF5IGN1cnJlbnQgc2lnbmluZyBrZXkgMzJieQ==";
const PREVIOUS: &str = "whsec_cmVmcGF5IHByZXZpb3VzIHNpZ25pbmcga2V5IDMyYg==";
const WRONG: &str = "whsec_cmVmcGF5IHdyb25nIHNpZ25pbmcga2V5IDMyYnl0ZQ==";

#[derive(Debug, Clone)]
struct Checkout {
    id: String,
    amount: i64,
    currency: String,
    reference: String,
    status: String,
    amount_refunded: i64,
    url: String,
    /// Every refund of this checkout, in order.
    refunds: Vec<Refund>,
}

#[derive(Debug, Clone)]
struct Refund {
    id: String,
    checkout: String,
    amount: i64,
    currency: String,
    status: String,
    metadata: Value,
}

impl Refund {
    fn json(&self) -> Value {
        json!({
            "id": self.id,
            "checkout": self.checkout,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "metadata": self.metadata,
        })
    }
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
    /// (path, Idempotency-Key) -> (request body, answer).
    keys: HashMap<(String, String), (Vec<u8>, Value)>,
    lose_next: bool,
    other_amount_next: bool,
    /// How many refund-create answers to lose from now on (each after it took effect, a replay
    /// included).
    lose_refund_answers: u32,
}

fn answer(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

impl State {
    fn find(&mut self, id: &str) -> Option<&mut Checkout> {
        self.checkouts.iter_mut().find(|c| c.id == id)
    }

    /// The request's path and `Idempotency-Key`, if it has one.
    fn key(request: &Request) -> Option<(String, String)> {
        let key = request.headers.get("idempotency-key")?.to_str().ok()?;
        Some((request.url.path().to_string(), key.to_string()))
    }

    /// The first answer again for a key already used on this path (refused with another body).
    fn replay(&self, key: Option<&(String, String)>, request: &Request) -> Option<ResponseTemplate> {
        let (body, stored) = self.keys.get(key?)?;
        Some(if *body == request.body {
            answer(200, stored)
        } else {
            answer(400, &json!({"error": "idempotency_key_reused"}))
        })
    }

    fn create(&mut self, request: &Request) -> ResponseTemplate {
        let key = State::key(request);
        if let Some(replayed) = self.replay(key.as_ref(), request) {
            return replayed;
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
            refunds: Vec::new(),
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

    /// A refund-create; its answer is lost (a 502 after it took effect) while
    /// `lose_refund_answers` lasts.
    fn refund(&mut self, id: &str, request: &Request) -> ResponseTemplate {
        let reply = self.make_refund(id, request);
        if self.lose_refund_answers > 0 {
            self.lose_refund_answers -= 1;
            return answer(502, &json!({"error": "bad_gateway"}));
        }
        reply
    }

    fn make_refund(&mut self, id: &str, request: &Request) -> ResponseTemplate {
        let key = State::key(request);
        if let Some(replayed) = self.replay(key.as_ref(), request) {
            return replayed;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return answer(400, &json!({"error": "invalid_json"}));
        };
        let seq = self.checkouts.iter().map(|c| c.refunds.len()).sum::<usize>() + 1;
        let Some(c) = self.find(id) else {
            return answer(404, &json!({"error": "not_found"}));
        };
        if c.status != "paid" {
            return answer(409, &json!({"error": "not_refundable"}));
        }
        if body["currency"].as_str().is_some_and(|cur| cur != c.currency) {
            return answer(400, &json!({"error": "currency_mismatch"}));
        }
        let left = c.amount - c.amount_refunded;
        let amount = match &body["amount"] {
            Value::Null => left,
            v => match v.as_i64() {
                Some(a) => a,
                None => return answer(400, &json!({"error": "invalid_amount"})),
            },
        };
        if amount <= 0 || amount > left {
            return answer(400, &json!({"error": "invalid_amount"}));
        }
        let refund = Refund {
            id: format!("re_{seq}"),
            checkout: c.id.clone(),
            amount,
            currency: c.currency.clone(),
            status: "succeeded".into(),
            metadata: match &body["metadata"] {
                Value::Object(m) => Value::Object(m.clone()),
                _ => json!({}),
            },
        };
        c.amount_refunded += amount;
        if c.amount_refunded == c.amount {
            c.status = "refunded".into();
        }
        let out = refund.json();
        c.refunds.push(refund);
        if let Some(k) = key {
            self.keys.insert(k, (request.body.clone(), out.clone()));
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
            ("POST", ["v1", "checkouts", id, "refunds"]) => self.refund(id, request),
            ("GET", ["v1", "checkouts", id, "refunds"]) => match self.find(id) {
                Some(c) => answer(
                    200,
                    &json!({"data": c.refunds.iter().map(Refund::json).collect::<Vec<_>>()}),
                ),
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
    bug: Option<Bug>,
    /// The event id each body was built for (refpay sends it in a header, not in the body).
    ids: Mutex<HashMap<Vec<u8>, String>>,
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
            bug,
            ids: Mutex::default(),
        }
    }
}

/// From refpay's docs: ISO 4217 minor units, except ISK with 2 decimals.
fn provider_units(m: Money) -> i64 {
    let iso = m.currency.exponent();
    let provider = if m.currency.code() == "ISK" { 2 } else { iso };
    m.amount.get() * 10_i64.pow(u32::from(provider - iso))
}

/// Refpay's words for a refund's state (its docs).
fn refund_status(state: RefundState) -> &'static str {
    match state {
        RefundState::Pending => "pending",
        RefundState::Succeeded => "succeeded",
        RefundState::Failed => "failed",
        RefundState::Canceled => "canceled",
    }
}

/// Standard Webhooks headers for `body` as the event `id`, with `secret`.
fn standard_headers(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<Vec<(String, String)>> {
    let mut headers = StandardWebhooks::new(&[secret.to_string()])
        .ok()?
        .sign_headers(id, timestamp, body)
        .ok()?;
    headers.push(("Content-Type".into(), "application/json".into()));
    Some(headers)
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

    fn is_refund_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path.starts_with("/v1/checkouts/") && r.path.ends_with("/refunds")
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

    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        Some(
            lock(&self.state)
                .find(&session.external_id)
                .map_or(0, |c| c.refunds.len()),
        )
    }

    /// Refpay sends a call [`ATTEMPTS`] times with the same key, and the mock replays the kept
    /// answer: every attempt's answer is lost, else the retry would hide the loss.
    async fn lose_next_refund_answer(&self) -> bool {
        lock(&self.state).lose_refund_answers = ATTEMPTS;
        true
    }

    async fn forget_idempotency_keys(&self) -> bool {
        lock(&self.state).keys.clear();
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
        let fee = spec.other_amount.map_or(units * 3 / 100 + 30, provider_units);
        let mut data = json!({
            "checkout": {
                "id": spec.session.external_id,
                "amount": units,
                "currency": currency,
                "reference": spec.request.payment_ref,
                "status": status,
                "amount_refunded": refunded,
            },
            "fee": { "amount": fee, "currency": currency },
        });
        if let (Kind::Refunded, Some(this)) = (spec.kind, spec.this_refund) {
            data["refund"] = json!({
                "id": format!("re_{}", spec.event_id),
                "checkout": spec.session.external_id,
                "amount": provider_units(this),
                "currency": currency,
                "status": "succeeded",
            });
        }
        let body = json!({ "type": event_type, "created": spec.timestamp, "data": data })
            .to_string()
            .into_bytes();
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(body.clone(), spec.event_id.clone());
        Some(body)
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        let s = match secret {
            Secret::Current => CURRENT,
            Secret::Previous => PREVIOUS,
            Secret::Wrong => WRONG,
        };
        // The id the body was built for; a body the suite changed keeps one derived from it.
        let id = self
            .ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(body)
            .cloned()
            .unwrap_or_else(|| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                body.hash(&mut h);
                format!("msg_{:016x}", h.finish())
            });
        standard_headers(s, &id, timestamp, body)
    }

    fn event_id_header(&self) -> Option<&'static str> {
        Some(EVENT_ID_HEADER)
    }

    fn sign_with_event_id(
        &self,
        body: &[u8],
        timestamp: i64,
        event_id: &str,
    ) -> Option<Vec<(String, String)>> {
        standard_headers(CURRENT, event_id, timestamp, body)
    }

    fn evidence_dir(&self) -> Option<std::path::PathBuf> {
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/refpay-evidence").into())
    }

    async fn verifier(&self, case: &SignatureCase) -> Option<Box<dyn PaymentProvider>> {
        Some(Box::new(Refpay::new(
            &self.server.uri(),
            std::slice::from_ref(&case.secret),
            self.bug,
        )))
    }

    async fn set_refund_state(&self, session: &CheckoutSession, refund_id: &str, state: RefundState) -> bool {
        let mut st = lock(&self.state);
        let Some(c) = st.find(&session.external_id) else {
            return false;
        };
        match c.refunds.iter_mut().find(|r| r.id == refund_id) {
            Some(r) => {
                r.status = refund_status(state).into();
                true
            }
            None => false,
        }
    }

    fn second_amount(&self) -> Option<&'static str> {
        Some("the event's fee object")
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
