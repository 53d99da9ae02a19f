//! A stateful mock of the Omise API on 127.0.0.1 (test builds only: `cfg(payments_mock)`), for this
//! crate's tests and the web server's end-to-end tests.
//!
//! ```ignore
//! use payments_omise::testing::MockOmise;
//! use payments_core::PaymentProvider;
//!
//! let omise = MockOmise::start().await;            // real HTTP on 127.0.0.1
//! let provider = omise.provider();                 // or OmiseProvider::new(omise.config())
//! let session = provider.create_checkout(&request).await?;   // POST /charges at the mock
//! omise.set_charge_status(&session.external_id, "successful"); // the payer paid
//! let webhook = omise.signed_charge_complete(&session.external_id, payments_core::unix_now());
//! // deliver `webhook` (headers + body) to the server's webhook route; it re-fetches the charge.
//! omise.record_requests("e2e").await.unwrap();     // writes every request the mock received
//! ```
//!
//! What it serves (Basic auth with [`TEST_SECRET_KEY`] required, else 401 like Omise):
//! `POST /charges` (form or JSON; a pending charge `chrg_test_...` with `authorize_uri`,
//! `return_uri`, metadata echoed, upper-case currency; Omise's minimums enforced),
//! `GET /charges/{id}` (the current stored state; 404 `not_found`),
//! `POST /charges/{id}/refunds` (metadata kept), `GET /charges/{id}/refunds` (Omise's list
//! object, `limit`/`offset`/`order`), `GET /charges/{id}/refunds/{id}`, `GET /events/{id}`,
//! `GET /search?scope=charge&query=...` (id, description and metadata values searched),
//! `GET /disputes/{id}` (disputes opened with [`MockOmise::open_dispute`]), any path answered as
//! published through [`MockOmise::serve`],
//! the hosted page behind `authorize_uri` (`GET /payments/{id}/authorize`, no key; add
//! `?result=successful` or `?result=failed` to settle the charge like a payer and be redirected
//! to `return_uri`), and injected failures or delays ([`MockOmise::fail_next`],
//! [`MockOmise::delay_next`], [`MockOmise::lose_next_refund_answer`]). Tests move a refund to
//! another status with [`MockOmise::set_refund_status`] and make one "in the dashboard" with
//! [`MockOmise::refund_at_omise`]. Routing, the key check, the failures and the recording are
//! `payments_core::mock`'s.

use std::collections::BTreeMap;
use std::sync::MutexGuard;
use std::time::Duration;

use payments_core::mock::{Auth, Fault, Method, MockRequest, ProviderMock, Reply, Request};
use payments_core::{RetryPolicy, WebhookRequest};
use serde_json::{json, Map, Value};

use crate::config::{OmiseConfig, API_VERSION};
use crate::webhook::OmiseSignature;
use crate::{OmiseProvider, PROVIDER};

/// The secret key the mock accepts.
pub const TEST_SECRET_KEY: &str = "skey_test_5mockomisesecretkey";
/// The webhook secret the mock signs with (base64, as the dashboard shows it).
pub const TEST_WEBHOOK_SECRET: &str = "b21pc2UtbW9jay13ZWJob29rLXNlY3JldC0x";
/// An older secret, for rotation tests.
pub const TEST_OLD_WEBHOOK_SECRET: &str = "b21pc2UtbW9jay13ZWJob29rLXNlY3JldC0w";
/// A secret the adapter is never configured with.
pub const WRONG_WEBHOOK_SECRET: &str = "bm90LXRoZS1vbWlzZS1zZWNyZXQ=";

/// Omise-style signature headers (`Omise-Signature`, `Omise-Signature-Timestamp`) for `body`
/// at `timestamp` with a base64 `secret`.
pub fn sign_headers(secret_base64: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    let sig = match OmiseSignature::from_base64_secrets(&[secret_base64], 300) {
        Ok(s) => s,
        Err(e) => panic!("test secret {secret_base64:?} is not base64: {e}"),
    };
    match sig.headers(timestamp, body) {
        Ok(h) => h,
        Err(e) => panic!("signing failed: {e}"),
    }
}

#[derive(Debug, Default)]
struct State {
    base_uri: String,
    charges: BTreeMap<String, Value>,
    /// Charge ids in creation order.
    charge_order: Vec<String>,
    /// (charge id, refund id) → refund.
    refunds: BTreeMap<(String, String), Value>,
    /// Dispute id → dispute.
    disputes: BTreeMap<String, Value>,
    events: BTreeMap<String, Value>,
    /// The amount the next `POST /charges` creates instead of the one asked.
    next_charge_amount: Option<i64>,
}

/// A fresh id like Omise's (`chrg_test_5y4oqn9l0ypdcd1ad5x`).
fn new_id(prefix: &str) -> String {
    payments_core::mock::unique_id(&format!("{prefix}_test_"), 19)
}

/// Omise's error body.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({
        "object": "error",
        "location": format!("https://www.omise.co/api-errors#{}", code.replace('_', "-")),
        "code": code,
        "message": message,
    })
}

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, &error_body(code, message))
}

/// Unix seconds as RFC 3339 UTC (the core's helper).
pub fn iso8601(unix: i64) -> String {
    payments_core::rfc3339_utc(unix)
}

fn int_field(body: &Map<String, Value>, key: &str) -> Option<i64> {
    match body.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn str_field(body: &Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The Omise-hosted page behind `authorize_uri` (no API key: the payer's browser opens it).
/// `GET /payments/{id}/authorize` shows the charge; `?result=successful` (or `failed`) settles
/// it like the payer would and redirects to the charge's `return_uri`, as Omise does.
fn hosted_page(state: &mut State, request: &MockRequest<'_>) -> Reply {
    let Some(charge) = state.charges.get_mut(request.param("id")) else {
        return Reply::text(404, "text/plain", "unknown charge");
    };
    match request.query("result").as_deref() {
        Some(status @ ("successful" | "failed")) if charge["status"] == "pending" => {
            set_status(charge, status);
            Reply::redirect(charge["return_uri"].as_str().unwrap_or("/"))
        }
        Some(_) => Reply::text(409, "text/plain", "this charge is no longer pending"),
        None => {
            let html = format!(
                "<!doctype html><title>Mock Omise</title><h1>Pay {} {}</h1>\
                 <a href=\"?result=successful\">Pay</a> <a href=\"?result=failed\">Fail</a>",
                charge["amount"], charge["currency"]
            );
            Reply::text(200, "text/html", html)
        }
    }
}

/// Sets a charge's status and the fields Omise changes with it.
fn set_status(c: &mut Value, status: &str) {
    c["status"] = json!(status);
    let paid = status == "successful";
    c["paid"] = json!(paid);
    c["authorized"] = json!(paid || status == "reversed");
    c["expired"] = json!(status == "expired");
    c["reversed"] = json!(status == "reversed");
    if paid {
        c["paid_at"] = json!(iso8601(payments_core::unix_now()));
    }
    if status == "failed" {
        c["failure_code"] = json!("payment_rejected");
        c["failure_message"] = json!("the payment was rejected by the wallet");
    } else {
        c["failure_code"] = Value::Null;
        c["failure_message"] = Value::Null;
    }
}

fn create_charge(state: &mut State, body: &Map<String, Value>) -> Reply {
    let Some(amount) = int_field(body, "amount") else {
        return error(400, "invalid_charge", "amount is required and must be an integer");
    };
    let Some(currency) = str_field(body, "currency").map(|c| c.to_ascii_uppercase()) else {
        return error(400, "invalid_charge", "currency is required");
    };
    let minimum = match currency.as_str() {
        "THB" => Some(2_000),
        "JPY" | "SGD" | "MYR" => Some(100),
        _ => None,
    };
    if let Some(min) = minimum {
        if amount < min {
            return error(400, "invalid_charge", &format!("amount must be at least {min}"));
        }
    }
    if currency == "THB" && amount > 15_000_000 {
        return error(400, "invalid_charge", "amount must be less than 15000000");
    }
    let source_type = match body.get("source") {
        Some(Value::Object(m)) => m.get("type").and_then(Value::as_str).map(str::to_string),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let Some(source_type) = source_type else {
        return error(400, "invalid_charge", "source or card is required");
    };
    let Some(return_uri) = str_field(body, "return_uri") else {
        return error(
            400,
            "invalid_charge",
            "return_uri is required for redirect sources",
        );
    };
    let metadata = match body.get("metadata") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => json!({}),
    };
    // An armed fault: Omise creates (and answers with) another amount than asked.
    let amount = state.next_charge_amount.take().unwrap_or(amount);
    let id = new_id("chrg");
    let source_id = new_id("src");
    let now = payments_core::unix_now();
    let charge = json!({
        "object": "charge",
        "id": id,
        "location": format!("/charges/{id}"),
        "livemode": false,
        "amount": amount,
        "net": amount,
        "fee": 0,
        "currency": currency,
        "description": body.get("description").cloned().unwrap_or(Value::Null),
        "metadata": metadata,
        "status": "pending",
        "capture": true,
        "authorized": false,
        "paid": false,
        "reversed": false,
        "expired": false,
        "voided": false,
        "refunded_amount": 0,
        "refunds": {"object": "list", "data": [], "limit": 20, "offset": 0, "total": 0,
            "location": format!("/charges/{id}/refunds")},
        "failure_code": null,
        "failure_message": null,
        "return_uri": return_uri,
        "authorize_uri": format!("{}/payments/{id}/authorize", state.base_uri),
        "source": {"object": "source", "id": source_id, "type": source_type, "flow": "redirect",
            "amount": amount, "currency": currency},
        "created_at": iso8601(now),
        "expires_at": iso8601(now + 7 * 86_400),
    });
    state.charge_order.push(id.clone());
    state.charges.insert(id, charge.clone());
    Reply::json(200, &charge)
}

/// `GET /search?scope=charge&query=...`: the charges where the query is found in the id, the
/// description or a metadata value (case-insensitive), newest first, in Omise's search object.
fn search(state: &mut State, request: &MockRequest<'_>) -> Reply {
    if request.query("scope").as_deref() != Some("charge") {
        return error(
            400,
            "bad_request",
            "scope is not supported by this mock (only charge)",
        );
    }
    let query = request.query("query").unwrap_or_default().to_lowercase();
    let found = |c: &Value| {
        let metadata = c["metadata"].as_object().into_iter().flatten().map(|(_, v)| v);
        [&c["id"], &c["description"]]
            .into_iter()
            .chain(metadata)
            .filter_map(Value::as_str)
            .any(|text| text.to_lowercase().contains(&query))
    };
    let data: Vec<Value> = (state.charge_order.iter().rev())
        .filter_map(|id| state.charges.get(id))
        .filter(|c| found(c))
        .cloned()
        .collect();
    Reply::json(
        200,
        &json!({"object": "search", "scope": "charge", "query": query, "filters": {},
            "order": "reverse_chronological", "page": 1, "per_page": 30, "total": data.len(),
            "total_pages": 1, "location": "/search", "data": data}),
    )
}

fn create_refund(state: &mut State, charge_id: &str, body: &Map<String, Value>) -> Reply {
    let Some(charge) = state.charges.get(charge_id).cloned() else {
        return error(404, "not_found", &format!("charge {charge_id} was not found"));
    };
    let Some(amount) = int_field(body, "amount").filter(|a| *a > 0) else {
        return error(400, "invalid_amount", "amount is required and must be positive");
    };
    if charge["status"] != "successful" {
        return error(
            400,
            "failed_refund",
            "charge is not successful and cannot be refunded",
        );
    }
    let total = charge["amount"].as_i64().unwrap_or(0);
    let refunded = charge["refunded_amount"].as_i64().unwrap_or(0);
    if amount > total - refunded {
        return error(
            400,
            "invalid_amount",
            "amount exceeds the amount that can be refunded",
        );
    }
    let id = new_id("rfnd");
    let metadata = match body.get("metadata") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => json!({}),
    };
    let refund = json!({
        "object": "refund",
        "id": id,
        "location": format!("/charges/{charge_id}/refunds/{id}"),
        "livemode": false,
        "amount": amount,
        "currency": charge["currency"],
        "charge": charge_id,
        "status": "closed",
        "voided": false,
        "metadata": metadata,
        "created_at": iso8601(payments_core::unix_now()),
    });
    if let Some(c) = state.charges.get_mut(charge_id) {
        c["refunded_amount"] = json!(refunded + amount);
        if let Some(list) = c["refunds"]["data"].as_array_mut() {
            list.push(refund.clone());
        }
        let n = c["refunds"]["data"].as_array().map_or(0, Vec::len);
        c["refunds"]["total"] = json!(n);
    }
    state.refunds.insert((charge_id.to_string(), id), refund.clone());
    Reply::json(200, &refund)
}

/// `GET /charges/{id}/refunds?limit=&offset=&order=`: the charge's refunds as they stand, in
/// Omise's list object (`chronological` by default).
fn list_refunds(state: &mut State, request: &MockRequest<'_>) -> Reply {
    let charge_id = request.param("id");
    let Some(charge) = state.charges.get(charge_id) else {
        return error(404, "not_found", &format!("charge {charge_id} was not found"));
    };
    let number = |name: &str, default: usize| match request.query(name) {
        None => Some(default),
        Some(v) => v.parse::<usize>().ok(),
    };
    let (Some(limit), Some(offset)) = (number("limit", 20), number("offset", 0)) else {
        return error(400, "bad_request", "limit and offset must be integers");
    };
    if !(1..=100).contains(&limit) {
        return error(400, "bad_request", "limit must be between 1 and 100");
    }
    let order = request.query("order").unwrap_or_else(|| "chronological".into());
    let ids = charge["refunds"]["data"].as_array().cloned().unwrap_or_default();
    let mut all: Vec<Value> = (ids.iter())
        .filter_map(|r| r["id"].as_str())
        .filter_map(|id| state.refunds.get(&(charge_id.to_string(), id.to_string())))
        .cloned()
        .collect();
    match order.as_str() {
        "chronological" => {}
        "reverse_chronological" => all.reverse(),
        _ => {
            return error(
                400,
                "bad_request",
                "order must be chronological or reverse_chronological",
            )
        }
    }
    let data: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    Reply::json(
        200,
        &json!({"object": "list", "data": data, "limit": limit, "offset": offset, "total": all.len(),
            "order": order, "location": format!("/charges/{charge_id}/refunds"),
            "from": "1970-01-01T00:00:00Z", "to": iso8601(payments_core::unix_now())}),
    )
}

/// Whether a refund in `status` has returned (or will return) its amount: not when it failed or
/// was cancelled.
fn counts(status: &str) -> bool {
    !payments_core::RefundState::from_provider(status).is_void()
}

/// A running mock Omise API.
pub struct MockOmise {
    mock: ProviderMock<State>,
}

impl std::fmt::Debug for MockOmise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockOmise").field("uri", &self.uri()).finish()
    }
}

impl MockOmise {
    /// Starts the mock on 127.0.0.1 (a random port).
    pub async fn start() -> Self {
        let stored = |found: Option<&Value>, what: &str, id: &str| match found {
            Some(v) => Reply::json(200, v),
            None => error(404, "not_found", &format!("{what} {id} was not found")),
        };
        let mock = ProviderMock::builder(PROVIDER, State::default())
            .auth(
                Auth::basic(TEST_SECRET_KEY, ""),
                error(401, "authentication_failure", "authentication failed"),
            )
            .fault_reply(|status| {
                let code = if status >= 500 {
                    "internal_error"
                } else {
                    "injected_error"
                };
                error(status, code, "injected failure")
            })
            .page(Method::GET, "/payments/{id}/authorize", hosted_page)
            .route(Method::POST, "/charges", |state, r| {
                create_charge(state, &r.body_object())
            })
            .route(Method::GET, "/charges/{id}", move |state, r| {
                stored(state.charges.get(r.param("id")), "charge", r.param("id"))
            })
            .route(Method::POST, "/charges/{id}/refunds", |state, r| {
                create_refund(state, r.param("id"), &r.body_object())
            })
            .route(Method::GET, "/charges/{id}/refunds", list_refunds)
            .route(Method::GET, "/charges/{id}/refunds/{rid}", move |state, r| {
                let key = (r.param("id").to_string(), r.param("rid").to_string());
                stored(state.refunds.get(&key), "refund", r.param("rid"))
            })
            .route(Method::GET, "/disputes/{id}", move |state, r| {
                stored(state.disputes.get(r.param("id")), "dispute", r.param("id"))
            })
            .route(Method::GET, "/search", search)
            .route(Method::GET, "/events/{id}", move |state, r| {
                stored(state.events.get(r.param("id")), "event", r.param("id"))
            })
            .not_found(|_, r| {
                let what = format!("{} {} is not a known endpoint", r.method, r.url.path());
                error(404, "not_found", &what)
            })
            .start()
            .await;
        mock.state().base_uri = mock.uri();
        MockOmise { mock }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        self.mock.uri()
    }

    /// A configuration pointing at the mock: test secret key, [`TEST_WEBHOOK_SECRET`], and fast
    /// retries (3 attempts, 10 ms backoff, 2 s per attempt).
    pub fn config(&self) -> OmiseConfig {
        let mut config = OmiseConfig::new(TEST_SECRET_KEY);
        config.api_base = self.uri();
        config.webhook_secrets = vec![TEST_WEBHOOK_SECRET.to_string()];
        config.retry = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
        };
        config.connect_timeout = Duration::from_secs(1);
        config
    }

    /// Like [`MockOmise::config`] with no webhook secret: events are verified by re-fetch only.
    pub fn config_without_webhook_secret(&self) -> OmiseConfig {
        let mut config = self.config();
        config.webhook_secrets.clear();
        config
    }

    /// The environment a server would read to use the mock (`OMISE_SECRET_KEY`,
    /// `OMISE_API_BASE`, `OMISE_WEBHOOK_SECRET`).
    pub fn env_vars(&self) -> Vec<(String, String)> {
        vec![
            ("OMISE_SECRET_KEY".into(), TEST_SECRET_KEY.into()),
            ("OMISE_API_BASE".into(), self.uri()),
            ("OMISE_WEBHOOK_SECRET".into(), TEST_WEBHOOK_SECRET.into()),
        ]
    }

    /// An adapter configured with [`MockOmise::config`].
    pub fn provider(&self) -> OmiseProvider {
        match OmiseProvider::new(self.config()) {
            Ok(p) => p,
            Err(e) => panic!("mock config is invalid: {e}"),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.mock.state()
    }

    /// Stores a charge directly (as if created earlier) and returns its id. `payment_ref` goes
    /// into `metadata.payment_id`.
    pub fn insert_charge(
        &self,
        amount: i64,
        currency: &str,
        status: &str,
        payment_ref: Option<&str>,
    ) -> String {
        let mut state = self.state();
        let metadata = match payment_ref {
            Some(p) => json!({"payment_id": p, "receipt_id": "1"}),
            None => json!({}),
        };
        // Direct insertion skips the API's limits so tests can store any amount.
        let id = new_id("chrg");
        let now = payments_core::unix_now();
        let charge = json!({
            "object": "charge", "id": id, "location": format!("/charges/{id}"), "livemode": false,
            "amount": amount, "currency": currency.to_ascii_uppercase(), "description": null,
            "metadata": metadata,
            "status": "pending", "capture": true, "authorized": false, "paid": false,
            "reversed": false, "expired": false, "voided": false, "refunded_amount": 0,
            "refunds": {"object": "list", "data": [], "total": 0},
            "failure_code": null, "failure_message": null,
            "return_uri": "http://127.0.0.1/return",
            "authorize_uri": format!("{}/payments/{id}/authorize", state.base_uri),
            "source": {"object": "source", "type": crate::DEFAULT_SOURCE_TYPE, "flow": "redirect"},
            "created_at": iso8601(now),
        });
        state.charge_order.push(id.clone());
        state.charges.insert(id.clone(), charge);
        drop(state);
        self.set_charge_status(&id, status);
        id
    }

    /// The stored charge, as `GET /charges/{id}` would return it.
    pub fn charge(&self, id: &str) -> Option<Value> {
        self.state().charges.get(id).cloned()
    }

    /// Every stored charge id.
    pub fn charge_ids(&self) -> Vec<String> {
        self.state().charges.keys().cloned().collect()
    }

    /// The charges whose `metadata.payment_id` is `payment_ref`.
    pub fn charges_for_payment(&self, payment_ref: &str) -> Vec<Value> {
        self.state()
            .charges
            .values()
            .filter(|c| c["metadata"]["payment_id"] == payment_ref)
            .cloned()
            .collect()
    }

    /// The id of the newest charge whose `metadata.payment_id` is `payment_ref`.
    pub fn charge_id_for_payment(&self, payment_ref: &str) -> Option<String> {
        let state = self.state();
        state
            .charge_order
            .iter()
            .rev()
            .find(|id| {
                state
                    .charges
                    .get(*id)
                    .is_some_and(|c| c["metadata"]["payment_id"] == payment_ref)
            })
            .cloned()
    }

    /// Changes what Omise reports for a charge: `successful`, `failed`, `pending`, `expired`
    /// or `reversed` (with the fields Omise sets alongside). Panics on an unknown charge.
    pub fn set_charge_status(&self, id: &str, status: &str) {
        self.update_charge(id, |c| set_status(c, status));
    }

    /// Changes the amount Omise reports for a charge (in Omise units).
    pub fn set_charge_amount(&self, id: &str, amount: i64) {
        self.update_charge(id, |c| c["amount"] = json!(amount));
    }

    /// Arbitrary change to a stored charge. Panics on an unknown charge.
    pub fn update_charge(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.state();
        match state.charges.get_mut(id) {
            Some(c) => change(c),
            None => panic!("the mock has no charge {id}"),
        }
    }

    /// Removes a charge (so that Omise "does not know" it any more).
    pub fn forget_charge(&self, id: &str) {
        self.state().charges.remove(id);
    }

    /// The next `times` requests with this method whose path starts with `path_prefix` get
    /// HTTP `status` with Omise's error JSON (`internal_error` for 5xx).
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, times: usize) {
        self.inject(method, path_prefix, Fault::Status(status), times);
    }

    /// The next `times` matching requests are processed normally but answered after `delay`
    /// (to make the client time out after the request reached "Omise").
    pub fn delay_next(&self, method: &str, path_prefix: &str, delay: Duration, times: usize) {
        self.inject(method, path_prefix, Fault::LateAnswer(delay), times);
    }

    /// The next `times` requests with this method whose path starts with `path_prefix` meet
    /// `fault` (e.g. [`Fault::LostAnswer`]: Omise acts, the answer is lost).
    pub fn inject(&self, method: &str, path_prefix: &str, fault: Fault, times: usize) {
        match method.to_ascii_uppercase().parse::<Method>() {
            Ok(m) => self.mock.inject(m, &format!("{path_prefix}*"), fault, times),
            Err(e) => panic!("{method:?} is not an HTTP method: {e}"),
        }
    }

    /// An event `{object: "event", id: "evnt_test_...", key, data, ...}` around `data`, stored
    /// for `GET /events/{id}`; returns (event id, exact body bytes).
    pub fn event(&self, key: &str, data: Value) -> (String, Vec<u8>) {
        let mut state = self.state();
        let id = new_id("evnt");
        let event = json!({
            "object": "event",
            "id": id,
            "livemode": false,
            "location": format!("/events/{id}"),
            "webhook_deliveries": [],
            "key": key,
            "created_at": iso8601(payments_core::unix_now()),
            "data": data,
        });
        let body = match serde_json::to_vec(&event) {
            Ok(b) => b,
            Err(e) => panic!("event serialization: {e}"),
        };
        state.events.insert(id.clone(), event);
        (id, body)
    }

    /// A `key` event whose data is the charge as currently stored.
    pub fn charge_event(&self, key: &str, charge_id: &str) -> (String, Vec<u8>) {
        let Some(charge) = self.charge(charge_id) else {
            panic!("the mock has no charge {charge_id}");
        };
        self.event(key, charge)
    }

    /// A refund made in Omise's dashboard (as `POST /charges/{id}/refunds` would make it);
    /// its id, or `None` when Omise would refuse it.
    pub fn refund_at_omise(&self, charge_id: &str, amount: i64) -> Option<String> {
        let mut state = self.state();
        let before = state.refunds.len();
        let mut body = Map::new();
        body.insert("amount".into(), json!(amount));
        let _ = create_refund(&mut state, charge_id, &body);
        if state.refunds.len() == before {
            return None;
        }
        let list = state.charges.get(charge_id)?["refunds"]["data"]
            .as_array()?
            .clone();
        list.last()?["id"].as_str().map(str::to_string)
    }

    /// Every refund of a charge as Omise has it now, oldest first.
    pub fn refunds_of(&self, charge_id: &str) -> Vec<Value> {
        let state = self.state();
        let Some(charge) = state.charges.get(charge_id) else {
            return Vec::new();
        };
        (charge["refunds"]["data"].as_array().into_iter().flatten())
            .filter_map(|r| r["id"].as_str())
            .filter_map(|id| state.refunds.get(&(charge_id.to_string(), id.to_string())))
            .cloned()
            .collect()
    }

    /// The refund `refund_id` of a charge as Omise has it now.
    pub fn refund(&self, charge_id: &str, refund_id: &str) -> Option<Value> {
        let key = (charge_id.to_string(), refund_id.to_string());
        self.state().refunds.get(&key).cloned()
    }

    /// Moves a refund to another `status` (Omise's `pending` or `closed`, or e.g. `failed` for a
    /// refund that did not go through): one that no longer counts gives its amount back to the
    /// charge's `refunded_amount` (and one that counts again takes it). Returns the refund, or
    /// `None` if it does not exist.
    pub fn set_refund_status(&self, charge_id: &str, refund_id: &str, status: &str) -> Option<Value> {
        let mut state = self.state();
        let key = (charge_id.to_string(), refund_id.to_string());
        let refund = state.refunds.get_mut(&key)?;
        let was = counts(refund["status"].as_str().unwrap_or("closed"));
        refund["status"] = json!(status);
        let amount = refund["amount"].as_i64().unwrap_or(0);
        let updated = refund.clone();
        let change = match (was, counts(status)) {
            (true, false) => -amount,
            (false, true) => amount,
            _ => 0,
        };
        if let Some(c) = state.charges.get_mut(charge_id) {
            let refunded = c["refunded_amount"].as_i64().unwrap_or(0);
            c["refunded_amount"] = json!(refunded + change);
            let listed = c["refunds"]["data"].as_array_mut().into_iter().flatten();
            for r in listed.filter(|r| r["id"] == refund_id) {
                *r = updated.clone();
            }
        }
        Some(updated)
    }

    /// The next `POST /charges/{id}/refunds` creates the refund but its answer is lost (a 502).
    pub fn lose_next_refund_answer(&self) {
        self.mock
            .inject(Method::POST, "/charges/{id}/refunds", Fault::LostAnswer, 1);
    }

    /// Forgets every kept idempotency key (Omise keeps none: nothing changes).
    pub fn forget_idempotency_keys(&self) {
        self.mock.forget_idempotency_keys();
    }

    /// From now on `method path` (exactly this path) is answered with `status` and `body` as
    /// given (an object exactly as Omise published it; the kit's `ProviderMock::serve`): a later
    /// call for the same path replaces the answer.
    pub fn serve(&self, method: &str, path: &str, status: u16, body: &Value) {
        self.mock.serve(method, path, status, body);
    }

    /// The next `POST /charges` creates a charge of `amount` (Omise units) whatever it asked,
    /// and answers with it (for the adapter's refusal of a checkout of another amount).
    pub fn answer_next_charge_with_amount(&self, amount: i64) {
        self.state().next_charge_amount = Some(amount);
    }

    /// A dispute opened on a stored charge (of `amount` in Omise units, in the charge's
    /// currency), as `GET /disputes/{id}` returns it (shape of omise-php's published fixture
    /// `disputes/dspt_test_6344e4i5yv427gaj1s2-get.json`); its id.
    pub fn open_dispute(&self, charge_id: &str, amount: i64) -> String {
        let mut state = self.state();
        let currency = match state.charges.get(charge_id) {
            Some(c) => c["currency"].clone(),
            None => panic!("the mock has no charge {charge_id}"),
        };
        let id = new_id("dspt");
        let now = iso8601(payments_core::unix_now());
        let dispute = json!({
            "object": "dispute", "id": id, "livemode": false, "location": format!("/disputes/{id}"),
            "currency": currency, "amount": amount, "funding_amount": amount,
            "funding_currency": currency, "metadata": {}, "charge": charge_id,
            "documents": {"object": "list", "data": [], "limit": 20, "offset": 0, "total": 0,
                "location": format!("/disputes/{id}/documents"), "order": "chronological"},
            "transactions": [], "admin_message": null, "message": null,
            "reason_code": "goods_or_services_not_provided",
            "reason_message": "Merchandise/Services Not Received",
            "status": "open", "closed_at": null, "created_at": now,
        });
        if let Some(c) = state.charges.get_mut(charge_id) {
            c["dispute"] = dispute.clone();
            c["disputable"] = json!(false);
        }
        state.disputes.insert(id.clone(), dispute);
        id
    }

    /// A `dispute.create` event ("Dispute has been opened") for a stored dispute.
    pub fn dispute_event(&self, dispute_id: &str) -> (String, Vec<u8>) {
        let dispute = self.state().disputes.get(dispute_id).cloned();
        let Some(dispute) = dispute else {
            panic!("the mock has no dispute {dispute_id}");
        };
        self.event("dispute.create", dispute)
    }

    /// A `refund.create` event for a stored refund.
    pub fn refund_event(&self, charge_id: &str, refund_id: &str) -> (String, Vec<u8>) {
        let refund = self
            .state()
            .refunds
            .get(&(charge_id.to_string(), refund_id.to_string()))
            .cloned();
        let Some(refund) = refund else {
            panic!("the mock has no refund {refund_id} of {charge_id}");
        };
        self.event("refund.create", refund)
    }

    /// The signed `refund.create` webhook Omise sends for a stored refund, received at `now`
    /// (the adapter re-fetches the refund: it reports the refund's current status).
    pub fn signed_refund_event(&self, charge_id: &str, refund_id: &str, now: i64) -> WebhookRequest {
        let (_, body) = self.refund_event(charge_id, refund_id);
        WebhookRequest::new(self.sign(&body, now), body, now)
    }

    /// Headers signing `body` at `timestamp` with [`TEST_WEBHOOK_SECRET`], the way Omise does.
    pub fn sign(&self, body: &[u8], timestamp: i64) -> Vec<(String, String)> {
        sign_headers(TEST_WEBHOOK_SECRET, timestamp, body)
    }

    /// A signed `charge.complete` webhook for a stored charge, received at `now`.
    pub fn signed_charge_complete(&self, charge_id: &str, now: i64) -> WebhookRequest {
        let (_, body) = self.charge_event("charge.complete", charge_id);
        WebhookRequest::new(self.sign(&body, now), body, now)
    }

    /// Every request the mock received, in order (the payer's page views too).
    pub async fn received_requests(&self) -> Vec<Request> {
        self.mock.received().await
    }

    /// How many requests with `method` and exactly `path` the mock received.
    pub async fn count(&self, method: &str, path: &str) -> usize {
        self.received_requests()
            .await
            .iter()
            .filter(|r| r.method.as_str().eq_ignore_ascii_case(method) && r.url.path() == path)
            .count()
    }

    /// Writes every API request received so far (not the payer's page views) through
    /// `payments_core::oracle::record_request` (provider `omise`, exact method, path, query,
    /// headers and body); returns how many.
    pub async fn record_requests(&self, label: &str) -> std::io::Result<usize> {
        self.mock.record(label).await
    }

    /// The pinned API version the adapter must send.
    pub fn expected_version(&self) -> &'static str {
        API_VERSION
    }
}
mod fixture;
pub use fixture::OmiseFixture;
