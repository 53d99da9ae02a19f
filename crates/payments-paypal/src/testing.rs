//! A stateful mock PayPal on 127.0.0.1 (test builds only: `cfg(payments_mock)`), for this crate's
//! tests and the server's end-to-end tests.
//!
//! ```ignore
//! let mock = MockPayPal::start().await;
//! let provider = mock.provider();                       // configured for the mock
//! let session = provider.create_checkout(&req).await?;  // order PAYER_ACTION_REQUIRED
//! let hook = mock.approved_webhook(&session.external_id, now); // approves + signed event
//! // POST hook.body with hook.headers() to the server's /payments/webhook ...
//! mock.record_requests("my-test").await;                // for the oracle
//! ```
//!
//! What it serves: `POST /v1/oauth2/token`, `POST /v2/checkout/orders`,
//! `GET /v2/checkout/orders/{id}` (with the capture and its refunds in
//! `purchase_units[].payments`), `POST /v2/checkout/orders/{id}/capture`,
//! `POST /v2/payments/captures/{id}/refund` (the request's `custom_id` kept on the refund),
//! `POST /v1/notifications/verify-webhook-signature`,
//! and `GET /checkoutnow?token={id}` (the payer's approval page: approves the order and redirects
//! to its return URL). Bearer tokens are checked (401 otherwise); `PayPal-Request-Id` replays the
//! first answer like PayPal; duplicate invoice ids, capturing an unapproved or captured order, and
//! over-refunds give PayPal's error JSON. Routing, the token check, the request-id replays,
//! injected failures and recording are `payments_core::mock`'s.
//!
//! # The test-only webhook signature
//!
//! PayPal signs `transmission_id|transmission_time|webhook_id|crc32(raw body)` with RSA; the mock
//! has no PayPal key, so it uses a **test-only** scheme over the same message:
//! `PAYPAL-TRANSMISSION-SIG` = lowercase hex of HMAC-SHA256([`TEST_SIGNING_KEY`], message)
//! (hex, because PayPal's description requires the signature to start with a word character).
//! The mock's verify-webhook-signature handler recomputes it from the posted `transmission_id`,
//! `transmission_time` and `webhook_id` (which must equal the mock's [`TEST_WEBHOOK_ID`]) and the
//! CRC32 of the **exact bytes of the posted `webhook_event` member** (with any whitespace around
//! it). The adapter splices the raw webhook body into that member unchanged, so both sides agree
//! byte for byte, and a body changed in any way (even a trailing space) gives `FAILURE`, as does
//! a signature made with another key or for another webhook id.

use std::sync::MutexGuard;
use std::time::Duration;

pub use payments_core::mock::Fault;
use payments_core::mock::{Idempotency, Method, MockRequest, OAuth, ProviderMock, Reply, Request};
use payments_core::signature::{hmac_sha256, verify_hmac_sha256};
use payments_core::{RetryPolicy, WebhookRequest};
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::config::{PayPalConfig, Secret};
use crate::transformers::AmountWire;
use crate::webhook::{
    transmission_message, transmission_message_with_crc, HEADER_AUTH_ALGO, HEADER_CERT_URL,
    HEADER_TRANSMISSION_ID, HEADER_TRANSMISSION_SIG, HEADER_TRANSMISSION_TIME,
};
use crate::PayPalProvider;

mod fixture;
mod published;
mod refunds;

pub use fixture::PayPalFixture;
pub use published::{published_key, start_rsa_verifier, RsaKey};
pub use refunds::MockRefund;

/// The refund route (PayPal's Payments v2).
const REFUND_ROUTE: &str = "/v2/payments/captures/{id}/refund";

pub const TEST_CLIENT_ID: &str = "test-client-id";
pub const TEST_CLIENT_SECRET: &str = "test-client-secret";
/// The webhook id the mock's verification expects (PayPal's format: letters and digits).
pub const TEST_WEBHOOK_ID: &str = "1JE4291016473214C";
/// The key of the test-only signature (see the module docs).
pub const TEST_SIGNING_KEY: &[u8] = b"paypal-mock-test-signing-key";
/// A certificate URL of the shape PayPal sends (never fetched).
pub const TEST_CERT_URL: &str =
    "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-mock";
pub const TEST_AUTH_ALGO: &str = "SHA256withRSA";

/// The test-only signature: lowercase hex HMAC-SHA256 of `message` under `key`.
pub fn test_signature(key: &[u8], message: &str) -> String {
    hex::encode(hmac_sha256(key, &[message.as_bytes()]))
}

/// Unix seconds as RFC 3339 UTC (the core's helper).
pub fn rfc3339(unix: i64) -> String {
    payments_core::rfc3339_utc(unix)
}

/// The five `PAYPAL-*` headers for `body` delivered at `timestamp`, signed with the test-only
/// scheme under `key` for `webhook_id`.
pub fn sign_webhook(key: &[u8], webhook_id: &str, body: &[u8], timestamp: i64) -> Vec<(String, String)> {
    let digest = sha2::Sha256::digest([body, &timestamp.to_be_bytes()[..]].concat());
    let h = hex::encode(&digest[..16]);
    // UUID-shaped, like PayPal's transmission ids.
    let transmission_id = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    let transmission_time = rfc3339(timestamp);
    let message = transmission_message(&transmission_id, &transmission_time, webhook_id, body);
    vec![
        (HEADER_TRANSMISSION_ID.to_string(), transmission_id),
        (HEADER_TRANSMISSION_TIME.to_string(), transmission_time),
        (HEADER_TRANSMISSION_SIG.to_string(), test_signature(key, &message)),
        (HEADER_CERT_URL.to_string(), TEST_CERT_URL.to_string()),
        (HEADER_AUTH_ALGO.to_string(), TEST_AUTH_ALGO.to_string()),
        ("Content-Type".to_string(), "application/json".to_string()),
    ]
}

/// A PayPal event envelope around `resource`.
pub fn event_body(event_id: &str, event_type: &str, resource_type: &str, resource: Value) -> Vec<u8> {
    let summary = match event_type {
        "CHECKOUT.ORDER.APPROVED" => "An order has been approved by buyer",
        "PAYMENT.CAPTURE.COMPLETED" => "Payment completed",
        _ => "Mock event",
    };
    let body = json!({
        "id": event_id,
        "event_version": "1.0",
        "create_time": "2024-05-01T10:00:00.000Z",
        "resource_type": resource_type,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
        "links": [],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A capture resource as PayPal sends it in `PAYMENT.CAPTURE.*` events.
pub fn capture_resource(
    capture_id: &str,
    status: &str,
    order_id: &str,
    custom_id: &str,
    amount: &AmountWire,
) -> Value {
    json!({
        "id": capture_id,
        "status": status,
        "amount": amount,
        "final_capture": true,
        "custom_id": custom_id,
        "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
        "supplementary_data": {"related_ids": {"order_id": order_id}},
        "create_time": "2024-05-01T10:00:00Z",
        "update_time": "2024-05-01T10:00:00Z",
        "links": [],
    })
}

/// One order held by the mock.
#[derive(Debug, Clone)]
pub struct MockOrder {
    pub id: String,
    /// PayPal's order status (`PAYER_ACTION_REQUIRED`, `APPROVED`, `COMPLETED`, `VOIDED`).
    pub status: String,
    pub reference_id: String,
    pub custom_id: Option<String>,
    pub invoice_id: Option<String>,
    pub description: Option<String>,
    pub amount: AmountWire,
    pub return_url: Option<String>,
    pub cancel_url: Option<String>,
    /// What the next capture of this order reports (default: the mock's default, `COMPLETED`).
    pub capture_outcome: Option<String>,
    pub capture: Option<MockCapture>,
}

#[derive(Debug, Clone)]
pub struct MockCapture {
    pub id: String,
    pub status: String,
    pub amount: AmountWire,
    /// Its refunds, oldest first ([`MockCapture::refunded`]: the total not failed or cancelled).
    pub refunds: Vec<MockRefund>,
}

#[derive(Debug)]
struct State {
    uri: String,
    counter: u64,
    orders: Vec<MockOrder>,
    default_capture_outcome: String,
    refunds: Vec<Value>,
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        // 17 characters like PayPal's ids: prefix, digits, padding letters.
        let digits = format!("{:0>9}", self.counter);
        let mut id = format!("{prefix}{digits}MOCKPP");
        id.truncate(17);
        id
    }

    fn order_mut(&mut self, id: &str) -> Option<&mut MockOrder> {
        self.orders.iter_mut().find(|o| o.id == id)
    }
}

/// Handle to a running mock PayPal.
pub struct MockPayPal {
    mock: ProviderMock<State>,
}

impl std::fmt::Debug for MockPayPal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockPayPal").field("uri", &self.uri()).finish()
    }
}

impl MockPayPal {
    /// Starts the mock on a random port of 127.0.0.1.
    pub async fn start() -> MockPayPal {
        let state = State {
            uri: String::new(),
            counter: 0,
            orders: Vec::new(),
            default_capture_outcome: "COMPLETED".into(),
            refunds: Vec::new(),
        };
        let invalid_token = Reply::json(
            401,
            &json!({"error": "invalid_token", "error_description": "Token signature verification failed"}),
        );
        // PayPal-Request-Id: the same id on the same endpoint replays the first success (a 201
        // comes back as 200); the verification endpoint answers afresh.
        let replays = Idempotency::header("PayPal-Request-Id")
            .skip("/v1/notifications/verify-webhook-signature")
            .keep_if(|status| (200..300).contains(&status))
            .on_replay(|r| Reply {
                status: if r.status == 201 { 200 } else { r.status },
                ..r
            });
        let oauth = OAuth::client_credentials("/v1/oauth2/token", TEST_CLIENT_ID, TEST_CLIENT_SECRET)
            .expires_in(32_400)
            .extra(json!({
                "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/applications/webhooks",
                "app_id": "APP-80W284485P519543T",
                "nonce": "2024-05-01T10:00:00Zmock",
            }));
        let mock = ProviderMock::builder(crate::PROVIDER, state)
            .oauth(oauth, invalid_token)
            .fault_reply(|status| {
                error_json(
                    status,
                    "INTERNAL_SERVER_ERROR",
                    "An internal server error occurred.",
                    None,
                )
            })
            .idempotency(replays)
            .page(Method::GET, "/checkoutnow", checkout_page)
            .route(Method::POST, "/v2/checkout/orders", |st, req| {
                answer(json_body(req).and_then(|body| create_order(st, &body)))
            })
            .route(Method::GET, "/v2/checkout/orders/{id}", |st, req| {
                let id = req.param("id");
                match st.orders.iter().find(|o| o.id == id) {
                    Some(o) => Reply::json(200, &order_json(o, &st.uri)),
                    None => not_found(id),
                }
            })
            .route(Method::POST, "/v2/checkout/orders/{id}/capture", |st, req| {
                answer(capture(st, req.param("id")))
            })
            .route(Method::POST, REFUND_ROUTE, |st, req| {
                answer(json_body(req).and_then(|body| refunds::refund(st, req.param("id"), &body)))
            })
            .route(
                Method::POST,
                "/v1/notifications/verify-webhook-signature",
                |_, req| answer(verify(req)),
            )
            .not_found(|_, _| {
                error_json(
                    404,
                    "RESOURCE_NOT_FOUND",
                    "The specified resource does not exist.",
                    None,
                )
            })
            .start()
            .await;
        mock.state().uri = mock.uri();
        MockPayPal { mock }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.mock.state()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn uri(&self) -> String {
        self.mock.uri()
    }

    /// A config pointing at the mock with the test credentials and a fast retry policy
    /// (3 attempts, 10 ms backoff, 5 s per attempt).
    pub fn config(&self) -> PayPalConfig {
        PayPalConfig {
            api_base: self.uri(),
            client_id: TEST_CLIENT_ID.into(),
            client_secret: Secret::new(TEST_CLIENT_SECRET),
            webhook_id: TEST_WEBHOOK_ID.into(),
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                timeout: Duration::from_secs(5),
            },
            token_refresh_margin: Duration::from_secs(60),
        }
    }

    /// The `PAYPAL_*` variables for a server configured against the mock.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PAYPAL_API_BASE", self.uri()),
            ("PAYPAL_CLIENT_ID", TEST_CLIENT_ID.into()),
            ("PAYPAL_CLIENT_SECRET", TEST_CLIENT_SECRET.into()),
            ("PAYPAL_WEBHOOK_ID", TEST_WEBHOOK_ID.into()),
        ]
    }

    /// A provider configured with [`MockPayPal::config`].
    pub fn provider(&self) -> PayPalProvider {
        match PayPalProvider::new(self.config()) {
            Ok(p) => p,
            Err(e) => panic!("mock config must be valid: {e}"),
        }
    }

    // ------------------------------------------------------------ state helpers

    /// Number of token requests received so far.
    pub fn token_requests(&self) -> usize {
        self.mock.token_requests()
    }

    /// `expires_in` of tokens issued from now on (default 32400 s, like PayPal).
    pub fn set_token_expires_in(&self, seconds: u64) {
        self.mock.set_token_expires_in(seconds);
    }

    /// Invalidates every token issued so far (the next API call gets a 401).
    pub fn revoke_tokens(&self) {
        self.mock.revoke_tokens();
    }

    /// While on, every API call gets a 401, even with a fresh token.
    pub fn reject_all_tokens(&self, on: bool) {
        self.mock.reject_all_tokens(on);
    }

    /// The next `n` authorized API calls (not token requests) get `status` with PayPal's error JSON.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inject(Fault::Status(status), n);
    }

    /// The next `n` authorized API calls are answered normally but only after `delay`.
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.inject(Fault::LateAnswer(delay), n);
    }

    /// The next `n` authorized API calls (not token requests) meet `fault`, e.g.
    /// [`Fault::LostAnswer`]: PayPal acts on the call, the answer is lost.
    pub fn inject(&self, fault: Fault, n: usize) {
        self.mock
            .inject_when(|r| r.url.path() != "/v1/oauth2/token", fault, n);
    }

    /// The order the mock holds, if any.
    pub fn order(&self, order_id: &str) -> Option<MockOrder> {
        self.state().orders.iter().find(|o| o.id == order_id).cloned()
    }

    /// The order's JSON as `GET /v2/checkout/orders/{id}` would return it.
    pub fn order_json(&self, order_id: &str) -> Option<Value> {
        let st = self.state();
        st.orders
            .iter()
            .find(|o| o.id == order_id)
            .map(|o| order_json(o, &st.uri))
    }

    /// The newest order whose `custom_id` is our payment id.
    pub fn order_id_for_payment(&self, payment_ref: &str) -> Option<String> {
        self.state()
            .orders
            .iter()
            .rev()
            .find(|o| o.custom_id.as_deref() == Some(payment_ref))
            .map(|o| o.id.clone())
    }

    /// Marks the order approved by the payer (as if they clicked "Pay Now"). False if unknown or
    /// not awaiting approval.
    pub fn approve_order(&self, order_id: &str) -> bool {
        let mut st = self.state();
        match st.order_mut(order_id) {
            Some(o)
                if matches!(
                    o.status.as_str(),
                    "PAYER_ACTION_REQUIRED" | "CREATED" | "APPROVED"
                ) =>
            {
                o.status = "APPROVED".into();
                true
            }
            _ => false,
        }
    }

    /// Approves the newest order of our payment; returns its id.
    pub fn approve_payment(&self, payment_ref: &str) -> Option<String> {
        let id = self.order_id_for_payment(payment_ref)?;
        self.approve_order(&id).then_some(id)
    }

    /// Sets an order's status directly (`VOIDED`, ...).
    pub fn set_order_status(&self, order_id: &str, status: &str) -> bool {
        let mut st = self.state();
        st.order_mut(order_id)
            .map(|o| o.status = status.to_string())
            .is_some()
    }

    /// What the next capture of this order reports: `COMPLETED`, `DECLINED`, `PENDING`, `FAILED`.
    /// (The order itself becomes `COMPLETED` either way, like PayPal.)
    pub fn set_capture_outcome(&self, order_id: &str, capture_status: &str) -> bool {
        let mut st = self.state();
        st.order_mut(order_id)
            .map(|o| o.capture_outcome = Some(capture_status.to_string()))
            .is_some()
    }

    /// The capture outcome for orders without their own (default `COMPLETED`).
    pub fn set_default_capture_outcome(&self, capture_status: &str) {
        self.state().default_capture_outcome = capture_status.to_string();
    }

    /// The answers to the refund requests so far (PayPal's refund JSON as first answered).
    pub fn refunds(&self) -> Vec<Value> {
        self.state().refunds.clone()
    }

    /// The refunds of the order's capture as the mock holds them now (none if not captured).
    pub fn refunds_of(&self, order_id: &str) -> Vec<MockRefund> {
        self.order(order_id)
            .and_then(|o| o.capture)
            .map(|c| c.refunds)
            .unwrap_or_default()
    }

    /// Approves and captures the order at the mock, as the payer and PayPal would without our
    /// adapter (e.g. a capture the server made before a crash), with `capture_status`
    /// (`COMPLETED`, `DECLINED`, `PENDING`, ...); returns the capture id, `None` if the order is
    /// unknown or cannot be captured.
    pub fn capture_order(&self, order_id: &str, capture_status: &str) -> Option<String> {
        let mut st = self.state();
        let order = st.order_mut(order_id)?;
        if matches!(order.status.as_str(), "PAYER_ACTION_REQUIRED" | "CREATED") {
            order.status = "APPROVED".into();
        }
        order.capture_outcome = Some(capture_status.to_string());
        capture(&mut st, order_id).ok()?;
        let capture = st.order_mut(order_id)?.capture.as_ref()?;
        Some(capture.id.clone())
    }

    /// A refund of `units` (ISO minor units) of the order's capture made in PayPal's dashboard
    /// (not through the adapter: no `custom_id`), with PayPal's refund `status` (`COMPLETED`,
    /// `PENDING`, ...); returns its id, `None` if the order has no capture.
    pub fn dashboard_refund(&self, order_id: &str, units: i64, status: &str) -> Option<String> {
        self.state().dashboard_refund(order_id, units, status)
    }

    /// Moves refund `refund_id` to PayPal's refund `status` (`COMPLETED`, `PENDING`, `FAILED`,
    /// `CANCELLED`); the capture's status follows. False if unknown.
    pub fn set_refund_status(&self, refund_id: &str, status: &str) -> bool {
        self.state().set_refund_status(refund_id, status)
    }

    /// The next refund request takes effect but its answer is lost, on every attempt of the
    /// adapter's retry policy ([`MockPayPal::config`]: the retries with the same
    /// `PayPal-Request-Id` are replayed and lost too): the call fails although the refund exists.
    pub fn lose_next_refund(&self) {
        let attempts = usize::try_from(self.config().retry.max_attempts.max(1)).unwrap_or(usize::MAX);
        self.mock
            .inject(Method::POST, REFUND_ROUTE, Fault::LostAnswer, attempts);
    }

    /// From now on `method path` is answered with `status` and `body` as given (an object
    /// replayed exactly as PayPal published it).
    pub fn serve(&self, method: &str, path: &str, status: u16, body: &Value) {
        self.mock.serve(method, path, status, body);
    }

    /// Forgets every `PayPal-Request-Id`, as PayPal does after 45 days.
    pub fn forget_request_ids(&self) {
        self.mock.forget_idempotency_keys();
    }

    // ------------------------------------------------------------ webhooks

    fn next_event_id(&self) -> String {
        let mut st = self.state();
        let id = st.next_id("E");
        format!("WH-{id}")
    }

    /// Headers signing `body` for delivery at `timestamp` (the test-only scheme, correct key).
    pub fn sign(&self, body: &[u8], timestamp: i64) -> Vec<(String, String)> {
        sign_webhook(TEST_SIGNING_KEY, TEST_WEBHOOK_ID, body, timestamp)
    }

    /// A signed delivery of `event_type` about `resource`, received at `now`.
    pub fn webhook(
        &self,
        event_type: &str,
        resource_type: &str,
        resource: Value,
        now: i64,
    ) -> WebhookRequest {
        let body = event_body(&self.next_event_id(), event_type, resource_type, resource);
        WebhookRequest::new(self.sign(&body, now), body, now)
    }

    /// Approves the order (if still awaiting the payer) and returns the signed
    /// `CHECKOUT.ORDER.APPROVED` event PayPal would send. Panics for an unknown order.
    pub fn approved_webhook(&self, order_id: &str, now: i64) -> WebhookRequest {
        self.approve_order(order_id);
        let Some(resource) = self.order_json(order_id) else {
            panic!("mock PayPal has no order {order_id}");
        };
        self.webhook("CHECKOUT.ORDER.APPROVED", "checkout-order", resource, now)
    }

    /// The signed `PAYMENT.CAPTURE.<status>` event for the order's capture (status `COMPLETED`,
    /// `PENDING`, `DECLINED`, ... as the capture has it). Panics if the order was not captured.
    pub fn capture_webhook(&self, order_id: &str, now: i64) -> WebhookRequest {
        let Some(order) = self.order(order_id) else {
            panic!("mock PayPal has no order {order_id}");
        };
        let Some(capture) = order.capture.as_ref() else {
            panic!("order {order_id} has not been captured at the mock");
        };
        let resource = capture_resource(
            &capture.id,
            &capture.status,
            &order.id,
            order.custom_id.as_deref().unwrap_or_default(),
            &capture.amount,
        );
        self.webhook(
            &format!("PAYMENT.CAPTURE.{}", capture.status),
            "capture",
            resource,
            now,
        )
    }

    /// The signed `PAYMENT.CAPTURE.COMPLETED` event for a captured order.
    pub fn capture_completed_webhook(&self, order_id: &str, now: i64) -> WebhookRequest {
        let req = self.capture_webhook(order_id, now);
        assert!(
            self.order(order_id)
                .and_then(|o| o.capture)
                .is_some_and(|c| c.status == "COMPLETED"),
            "order {order_id}'s capture is not COMPLETED"
        );
        req
    }

    // ------------------------------------------------------------ recording

    /// Every request the mock received, in order.
    pub async fn received(&self) -> Vec<Request> {
        self.mock.received().await
    }

    /// Writes every request the adapter sent to the mock (exact method, path, query, headers,
    /// body) through `payments_core::oracle::record_request` under provider `paypal`; skips the
    /// browser's `/checkoutnow` visits. Returns how many were written.
    pub async fn record_requests(&self, label: &str) -> usize {
        match self.mock.record(label).await {
            Ok(n) => n,
            Err(e) => panic!("cannot record request for the oracle: {e}"),
        }
    }
}

// ---------------------------------------------------------------- responses

fn error_json(status: u16, name: &str, message: &str, issue: Option<(&str, &str)>) -> Reply {
    let mut body = json!({
        "name": name,
        "message": message,
        "debug_id": format!("mock{status}dbg"),
        "links": [{"href": "https://developer.paypal.com/docs/api/orders/v2/", "rel": "information_link", "method": "GET"}],
    });
    if let Some((issue, description)) = issue {
        body["details"] = json!([{"issue": issue, "description": description}]);
    }
    Reply::json(status, &body)
}

fn order_json(o: &MockOrder, uri: &str) -> Value {
    let mut unit = json!({
        "reference_id": o.reference_id,
        "amount": o.amount,
        "payee": {"email_address": "merchant@example.com", "merchant_id": "MOCKMERCHANT1"},
    });
    for (k, v) in [
        ("custom_id", &o.custom_id),
        ("invoice_id", &o.invoice_id),
        ("description", &o.description),
    ] {
        if let Some(v) = v {
            unit[k] = json!(v);
        }
    }
    if let Some(c) = &o.capture {
        let mut cap = capture_resource(
            &c.id,
            &c.status,
            &o.id,
            o.custom_id.as_deref().unwrap_or_default(),
            &c.amount,
        );
        if c.status == "DECLINED" || c.status == "FAILED" {
            cap["status_details"] = json!({"reason": "DECLINED_BY_RISK_FRAUD_FILTERS"});
        }
        unit["payments"] = json!({"captures": [cap]});
        if !c.refunds.is_empty() {
            let refunds: Vec<Value> = c.refunds.iter().map(|r| r.json(uri, &c.id)).collect();
            unit["payments"]["refunds"] = json!(refunds);
        }
    }
    let mut links =
        vec![json!({"href": format!("{uri}/v2/checkout/orders/{}", o.id), "rel": "self", "method": "GET"})];
    if o.status == "PAYER_ACTION_REQUIRED" || o.status == "CREATED" {
        links.push(json!({"href": format!("{uri}/checkoutnow?token={}", o.id), "rel": "payer-action", "method": "GET"}));
    }
    json!({
        "id": o.id,
        "intent": "CAPTURE",
        "status": o.status,
        "payment_source": {"paypal": {}},
        "purchase_units": [unit],
        "create_time": "2024-05-01T09:59:00Z",
        "links": links,
    })
}

/// A handler's result as the answer.
fn answer(result: Result<(u16, Value), Reply>) -> Reply {
    match result {
        Ok((status, value)) => Reply::json(status, &value),
        Err(reply) => reply,
    }
}

/// A POST body as JSON (`{}` when empty), or PayPal's 400 for one that is not.
fn json_body(req: &MockRequest<'_>) -> Result<Value, Reply> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    req.json().ok_or_else(|| {
        error_json(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed.",
            Some(("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")),
        )
    })
}

fn not_found(id: &str) -> Reply {
    error_json(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        Some((
            "INVALID_RESOURCE_ID",
            &format!("Specified resource ID {id} does not exist."),
        )),
    )
}

fn unprocessable(issue: &str, description: &str) -> Reply {
    error_json(
        422,
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically incorrect, or failed business validation.",
        Some((issue, description)),
    )
}

fn checkout_page(st: &mut State, req: &MockRequest<'_>) -> Reply {
    let token = req.query("token").unwrap_or_default();
    let Some(order) = st.order_mut(&token) else {
        return Reply::text(404, "text/plain", "no such order");
    };
    if order.status == "PAYER_ACTION_REQUIRED" || order.status == "CREATED" {
        order.status = "APPROVED".into();
    }
    let target = order.return_url.clone().unwrap_or_default();
    let sep = if target.contains('?') { '&' } else { '?' };
    Reply::redirect(&format!("{target}{sep}token={token}&PayerID=MOCKPAYER01"))
}

fn create_order(st: &mut State, body: &Value) -> Result<(u16, Value), Reply> {
    if body["intent"] != "CAPTURE" && body["intent"] != "AUTHORIZE" {
        return Err(error_json(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            Some(("MISSING_REQUIRED_PARAMETER", "intent")),
        ));
    }
    let Some(units) = body["purchase_units"].as_array().filter(|u| u.len() == 1) else {
        return Err(error_json(
            400,
            "INVALID_REQUEST",
            "Request is not well-formed, syntactically incorrect, or violates schema.",
            Some((
                "INVALID_ARRAY_LENGTH",
                "purchase_units (the mock takes exactly one)",
            )),
        ));
    };
    let unit = &units[0];
    let amount: AmountWire = match serde_json::from_value(unit["amount"].clone()) {
        Ok(a) => a,
        Err(_) => {
            return Err(error_json(
                400,
                "INVALID_REQUEST",
                "Request is not well-formed.",
                Some(("MISSING_REQUIRED_PARAMETER", "purchase_units[0].amount")),
            ))
        }
    };
    match amount.to_money() {
        Ok(m) if m.amount.is_positive() => {}
        _ => {
            return Err(unprocessable(
                "DECIMAL_PRECISION",
                "If the currency supports decimals, only two decimal place precision is supported.",
            ))
        }
    }
    let text = |v: &Value| v.as_str().map(str::to_string);
    let invoice_id = text(&unit["invoice_id"]);
    if let Some(inv) = &invoice_id {
        if st.orders.iter().any(|o| o.invoice_id.as_deref() == Some(inv)) {
            return Err(unprocessable(
                "DUPLICATE_INVOICE_ID",
                "Duplicate Invoice ID detected.",
            ));
        }
    }
    let ctx = &body["payment_source"]["paypal"]["experience_context"];
    let id = st.next_id("5O");
    let order = MockOrder {
        id,
        status: "PAYER_ACTION_REQUIRED".into(),
        reference_id: text(&unit["reference_id"]).unwrap_or_else(|| "default".into()),
        custom_id: text(&unit["custom_id"]),
        invoice_id,
        description: text(&unit["description"]),
        amount,
        return_url: text(&ctx["return_url"]),
        cancel_url: text(&ctx["cancel_url"]),
        capture_outcome: None,
        capture: None,
    };
    let value = order_json(&order, &st.uri);
    st.orders.push(order);
    Ok((201, value))
}

fn capture(st: &mut State, order_id: &str) -> Result<(u16, Value), Reply> {
    let default_outcome = st.default_capture_outcome.clone();
    let capture_id = st.next_id("3C");
    let uri = st.uri.clone();
    let Some(order) = st.order_mut(order_id) else {
        return Err(not_found(order_id));
    };
    match order.status.as_str() {
        "APPROVED" => {}
        "COMPLETED" => {
            return Err(unprocessable(
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            ))
        }
        _ => {
            return Err(unprocessable(
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment.",
            ))
        }
    }
    let outcome = order.capture_outcome.clone().unwrap_or(default_outcome);
    order.status = "COMPLETED".into();
    order.capture = Some(MockCapture {
        id: capture_id,
        status: outcome,
        amount: order.amount.clone(),
        refunds: Vec::new(),
    });
    Ok((201, order_json(order, &uri)))
}

/// The exact text of the posted `webhook_event` member, with the whitespace around it.
fn webhook_event_bytes(text: &str) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct Posted<'a> {
        #[serde(borrow)]
        webhook_event: &'a serde_json::value::RawValue,
    }
    let posted: Posted<'_> = serde_json::from_str(text).ok()?;
    let raw = posted.webhook_event.get();
    let start = (raw.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start + raw.len();
    let bytes = text.as_bytes();
    let mut s = start;
    while s > 0 && bytes[s - 1].is_ascii_whitespace() {
        s -= 1;
    }
    let mut e = end;
    while e < bytes.len() && bytes[e].is_ascii_whitespace() {
        e += 1;
    }
    text.get(s..e)
}

fn verify(req: &Request) -> Result<(u16, Value), Reply> {
    let invalid = |field: &str| {
        error_json(
            400,
            "VALIDATION_ERROR",
            "Invalid request - see details",
            Some(("MISSING_REQUIRED_FIELD", &format!("{field} is required"))),
        )
    };
    let text = std::str::from_utf8(&req.body).map_err(|_| invalid("body"))?;
    let posted: Value = serde_json::from_str(text).map_err(|_| invalid("body"))?;
    let field = |name: &str| posted[name].as_str().filter(|s| !s.is_empty());
    let mut fields = Vec::new();
    for name in [
        "auth_algo",
        "cert_url",
        "transmission_id",
        "transmission_sig",
        "transmission_time",
        "webhook_id",
    ] {
        fields.push(field(name).ok_or_else(|| invalid(name))?);
    }
    let event = webhook_event_bytes(text).ok_or_else(|| invalid("webhook_event"))?;
    if !posted["webhook_event"].is_object() {
        return Err(invalid("webhook_event"));
    }
    let (transmission_id, transmission_sig, transmission_time, webhook_id) =
        (fields[2], fields[3], fields[4], fields[5]);
    let message = transmission_message_with_crc(
        transmission_id,
        transmission_time,
        webhook_id,
        crc32fast::hash(event.as_bytes()),
    );
    let signature_ok = hex::decode(transmission_sig)
        .is_ok_and(|sig| verify_hmac_sha256(TEST_SIGNING_KEY, &[message.as_bytes()], &sig));
    let status = if signature_ok && webhook_id == TEST_WEBHOOK_ID && fields[0] == TEST_AUTH_ALGO {
        "SUCCESS"
    } else {
        "FAILURE"
    };
    Ok((200, json!({"verification_status": status})))
}
