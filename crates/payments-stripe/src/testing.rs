//! A mock Stripe on 127.0.0.1 and webhook signing helpers (test builds only: `cfg(payments_mock)`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use payments_core::{conformance::sample_checkout_request, PaymentProvider};
//! use payments_stripe::testing::MockStripe;
//!
//! let stripe = MockStripe::start().await;
//! let provider = stripe.provider(); // or stripe.config() / stripe.env_vars()
//! let request = sample_checkout_request("pay_1");
//! let session = provider.create_checkout(&request).await?; // answered by the mock
//! // A paid checkout.session.completed, signed with the mock's webhook secret; the mock's own
//! // GET for the session now reports it complete and paid as well.
//! let hook = stripe.signed_checkout_completed(&session.external_id, "pay_1", request.amount, 1_700_000_000);
//! // POST hook.body with hook.headers() to the server's webhook endpoint ...
//! stripe.record_requests("my-test").await?; // for ../shared/oracles/check-requests
//! # Ok(()) }
//! ```
//!
//! The mock behaves like Stripe where the adapter can tell: bearer authentication with the
//! configured key, form bodies with bracketed keys, `Idempotency-Key` replay (same key and
//! parameters: the first answer again; same key, other parameters: `idempotency_error`), Stripe's
//! error JSON, sessions that start `open`/`unpaid` without a PaymentIntent, sessions listed by
//! their PaymentIntent, the charge behind a paid session, and refunds limited to what is left to
//! refund. Routing, the key check, injected failures and recording are
//! `payments_core::mock`'s: [`MockStripe::inject`] answers the next requests with any response
//! (a 5xx, a delayed answer, an error JSON from [`error_response`]), [`MockStripe::inject_fault`]
//! with one of the kit's faults (e.g. [`Fault::LostAnswer`]: the session is created, the answer
//! lost).

use std::sync::MutexGuard;
use std::time::Duration;

pub use payments_core::mock::Fault;
use payments_core::mock::{Auth, Idempotency, Method, ProviderMock, Reply, Request, ResponseTemplate};
use payments_core::signature::StripeStyleScheme;
use payments_core::{Money, RetryPolicy, WebhookRequest};
use serde_json::{json, Value};

use crate::config::StripeConfig;
use crate::transformers::STRIPE_EXPONENTS;
use crate::{StripeProvider, NAME, SIGNATURE_HEADER};
use state::{error, Intent, State};

/// The secret key the mock accepts.
pub const TEST_SECRET_KEY: &str = "sk_test_51MockStripeKeyForLocalTestsOnly";
/// The webhook signing secret the mock's helpers sign with.
pub const TEST_WEBHOOK_SECRET: &str = "whsec_mock_stripe_test_secret_0123456789";

/// Path prefix of the mock's hosted checkout pages (`{uri}/c/pay/{session id}`).
pub const CHECKOUT_PAGE_PREFIX: &str = "/c/pay/";

/// A webhook body and its `Stripe-Signature`.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    pub body: Vec<u8>,
    /// The `Stripe-Signature` header value.
    pub signature: String,
    pub timestamp: i64,
}

impl SignedWebhook {
    /// `Stripe-Signature` and `Content-Type`, as Stripe sends them.
    pub fn headers(&self) -> Vec<(String, String)> {
        vec![
            (SIGNATURE_HEADER.to_string(), self.signature.clone()),
            (
                "Content-Type".to_string(),
                "application/json; charset=utf-8".to_string(),
            ),
        ]
    }

    /// As the adapter's `parse_webhook` takes it, received at `received_at`.
    pub fn request(&self, received_at: i64) -> WebhookRequest {
        WebhookRequest::new(self.headers(), self.body.clone(), received_at)
    }
}

/// `t={timestamp},v1={hex HMAC-SHA256 of "{t}.{body}"}` with `secret`, exactly as Stripe signs.
pub fn sign_webhook(secret: &str, body: &[u8], timestamp: i64) -> String {
    let scheme = StripeStyleScheme::new(SIGNATURE_HEADER, &[secret.to_string()], 300);
    match scheme.header_value(timestamp, body) {
        Ok(v) => v,
        Err(e) => panic!("signing with a non-empty secret cannot fail: {e}"),
    }
}

/// An event envelope (`{"id", "object": "event", "type", "data": {"object"}, ...}`) as bytes.
pub fn event_body(event_id: &str, event_type: &str, object: Value, created: i64, livemode: bool) -> Vec<u8> {
    let event = json!({
        "id": event_id,
        "object": "event",
        "api_version": crate::STRIPE_VERSION,
        "created": created,
        "data": { "object": object },
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type,
    });
    event.to_string().into_bytes()
}

/// `money` in Stripe's units (ISK × 100, MGA ÷ 100); panics on an amount Stripe cannot express.
pub fn stripe_units(money: Money) -> i64 {
    match STRIPE_EXPONENTS.to_provider(money) {
        Ok(v) => v,
        Err(e) => panic!("{money} cannot be expressed in Stripe's units: {e}"),
    }
}

/// A completed, paid Checkout Session object for `payment_ref`.
pub fn paid_session_object(session_id: &str, payment_ref: &str, amount: Money, created: i64) -> Value {
    let units = stripe_units(amount);
    json!({
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": units,
        "amount_total": units,
        "client_reference_id": payment_ref,
        "created": created,
        "currency": amount.currency.code_lowercase(),
        "customer_details": { "email": "payer@example.com" },
        "expires_at": created + 86_400,
        "livemode": false,
        "metadata": { "payment_id": payment_ref },
        "mode": "payment",
        "payment_intent": format!("pi_{}", id_suffix("test")),
        "payment_method_types": ["card"],
        "payment_status": "paid",
        "status": "complete",
        "url": null,
    })
}

/// The body of a `checkout.session.completed` event (paid) for `session_id` and `payment_ref`
/// of `amount`, created at `timestamp`.
pub fn checkout_completed_body(
    session_id: &str,
    payment_ref: &str,
    amount: Money,
    timestamp: i64,
) -> Vec<u8> {
    event_body(
        &format!("evt_{}", id_suffix("test")),
        "checkout.session.completed",
        paid_session_object(session_id, payment_ref, amount, timestamp),
        timestamp,
        false,
    )
}

/// A signed `checkout.session.completed` (paid) event, signed with `secret` at `timestamp`.
pub fn signed_checkout_completed(
    secret: &str,
    session_id: &str,
    payment_ref: &str,
    amount: Money,
    timestamp: i64,
) -> SignedWebhook {
    let body = checkout_completed_body(session_id, payment_ref, amount, timestamp);
    SignedWebhook {
        signature: sign_webhook(secret, &body, timestamp),
        body,
        timestamp,
    }
}

/// A fresh id suffix such as `test_a1b2c3...` (random enough for tests).
fn id_suffix(mode: &str) -> String {
    payments_core::mock::unique_id(&format!("{mode}_a1"), 30)
}

fn now() -> i64 {
    payments_core::unix_now()
}

// ---------------------------------------------------------------------------------------------
// The mock server

/// Stripe's answer headers around `body`.
fn reply(status: u16, body: &Value) -> Reply {
    Reply::json(status, body)
        .header("Request-Id", &format!("req_{}", id_suffix("mock")))
        .header("Stripe-Version", crate::STRIPE_VERSION)
}

/// An object or Stripe's error, answered.
fn answer(result: Result<Value, (u16, Value)>) -> Reply {
    match result {
        Ok(body) => reply(200, &body),
        Err((status, body)) => reply(status, &body),
    }
}

/// The `expand[]` values of a request's query (`expand[]=a&expand[0]=b`).
fn expansions(request: &Request) -> Vec<String> {
    request
        .url
        .query_pairs()
        .filter(|(k, _)| k == "expand" || k.starts_with("expand["))
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// A Stripe error body, for [`MockStripe::inject`]: `{"error": {"type", "code", "message"}}`.
pub fn error_response(status: u16, error_type: &str, code: Option<&str>, message: &str) -> ResponseTemplate {
    error_reply(status, error_type, code, message).into()
}

fn error_reply(status: u16, error_type: &str, code: Option<&str>, message: &str) -> Reply {
    let (status, body) = error(status, error_type, code, message, None);
    reply(status, &body)
}

/// The mock Stripe server. Dropping it stops the server.
pub struct MockStripe {
    mock: ProviderMock<State>,
    secret_key: String,
    webhook_secret: String,
}

impl std::fmt::Debug for MockStripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockStripe").field("uri", &self.uri()).finish()
    }
}

impl MockStripe {
    /// Starts a mock on 127.0.0.1 that accepts [`TEST_SECRET_KEY`].
    pub async fn start() -> MockStripe {
        Self::start_with_keys(TEST_SECRET_KEY, TEST_WEBHOOK_SECRET).await
    }

    /// Starts a mock that accepts `secret_key`; the helpers sign with `webhook_secret`.
    pub async fn start_with_keys(secret_key: &str, webhook_secret: &str) -> MockStripe {
        let unauthorized = error_reply(
            401,
            "invalid_request_error",
            None,
            "Invalid API Key provided: sk_test_****",
        );
        // Stripe keeps the answer to a POST under its key (except 5xx and 429) and refuses the
        // key with other parameters.
        let idempotency = Idempotency::header("Idempotency-Key")
            .conflict(|key| {
                error_reply(
                    400,
                    "idempotency_error",
                    None,
                    &format!(
                        "Keys for idempotent requests can only be used with the same parameters they were \
                         first used with. Try using a key other than '{key}' if you meant to execute a \
                         different request."
                    ),
                )
            })
            .on_replay(|r| r.header("Idempotent-Replayed", "true"));
        let mock = ProviderMock::builder(NAME, State::default())
            .auth(Auth::bearer(secret_key), unauthorized)
            .fault_reply(|status| error_reply(status, "api_error", None, "An unknown error occurred"))
            .idempotency(idempotency)
            .page(
                Method::GET,
                &format!("{CHECKOUT_PAGE_PREFIX}{{id}}"),
                |_, request| {
                    let page = format!(
                        "<!doctype html><title>Mock Stripe Checkout</title><p>Checkout session {}</p>",
                        request.param("id")
                    );
                    Reply::text(200, "text/html; charset=utf-8", page)
                },
            )
            .route(Method::POST, "/v1/checkout/sessions", |state, request| {
                let (status, body) = state.create_session(&request.form(), request.base_uri());
                reply(status, &body)
            })
            .route(Method::GET, "/v1/checkout/sessions", |state, request| {
                let query = payments_core::mock::form_pairs(request.url.query().unwrap_or("").as_bytes());
                answer(state.list_sessions(&query))
            })
            .route(Method::GET, "/v1/checkout/sessions/{id}", |state, request| {
                answer(state.get_session(request.param("id"), &expansions(request)))
            })
            .route(
                Method::POST,
                "/v1/checkout/sessions/{id}/expire",
                |state, request| answer(state.expire(request.param("id"))),
            )
            .route(Method::GET, "/v1/charges/{id}", |state, request| {
                answer(state.get_charge(request.param("id")))
            })
            .route(Method::POST, "/v1/refunds", |state, request| {
                answer(state.refund(&request.form()))
            })
            .route(Method::GET, "/v1/refunds", |state, request| {
                let query = payments_core::mock::form_pairs(request.url.query().unwrap_or("").as_bytes());
                answer(state.list_refunds(&query))
            })
            .not_found(|_, request| {
                let path = request.url.path();
                let (status, body) = error(
                    404,
                    "invalid_request_error",
                    None,
                    &format!("Unrecognized request URL ({}: {path}).", request.method),
                    None,
                );
                reply(status, &body)
            })
            .start()
            .await;
        MockStripe {
            mock,
            secret_key: secret_key.to_string(),
            webhook_secret: webhook_secret.to_string(),
        }
    }

    /// `http://127.0.0.1:<port>`: the value for `STRIPE_API_BASE`.
    pub fn uri(&self) -> String {
        self.mock.uri()
    }

    /// The underlying wiremock server (to mount more mocks or inspect requests).
    pub fn server(&self) -> &payments_core::mock::wiremock::MockServer {
        self.mock.server()
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    pub fn webhook_secret(&self) -> &str {
        &self.webhook_secret
    }

    /// The variables for [`StripeConfig::from_lookup`] (or a server's environment) that point at
    /// this mock.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STRIPE_SECRET_KEY", self.secret_key.clone()),
            ("STRIPE_WEBHOOK_SECRET", self.webhook_secret.clone()),
            ("STRIPE_API_BASE", self.uri()),
            ("STRIPE_WEBHOOK_TOLERANCE_SECS", "300".to_string()),
        ]
    }

    /// A ready configuration pointing at this mock, with quick retries (3 attempts, 10-40 ms
    /// backoff, 2 s per attempt).
    pub fn config(&self) -> StripeConfig {
        let config = StripeConfig::new(&self.secret_key, &self.webhook_secret)
            .and_then(|c| c.with_api_base(&self.uri()));
        match config {
            Ok(c) => c.with_retry(RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(40),
                timeout: Duration::from_secs(2),
            }),
            Err(e) => panic!("mock configuration: {e}"),
        }
    }

    /// An adapter configured with [`MockStripe::config`].
    pub fn provider(&self) -> StripeProvider {
        match StripeProvider::new(self.config()) {
            Ok(p) => p,
            Err(e) => panic!("mock provider: {e}"),
        }
    }

    /// Answers the next `times` requests matching `method` and `path` with `response` (e.g. a
    /// 500, an error body from [`error_response`], or a delayed 200 to cause a timeout), before
    /// the default behaviour resumes.
    pub async fn inject(
        &self,
        http_method: &str,
        request_path: &str,
        response: ResponseTemplate,
        times: u64,
    ) {
        self.inject_fault(
            http_method,
            request_path,
            Fault::Reply(response),
            usize::try_from(times).unwrap_or(usize::MAX),
        );
    }

    /// The next `times` requests matching `method` and `path` (`{name}` for any segment) meet
    /// `fault`, e.g. [`Fault::LostAnswer`]: Stripe acts on the request but the answer is lost.
    pub fn inject_fault(&self, http_method: &str, request_path: &str, fault: Fault, times: usize) {
        match http_method.to_ascii_uppercase().parse::<Method>() {
            Ok(m) => self.mock.inject(m, request_path, fault, times),
            Err(e) => panic!("{http_method:?} is not an HTTP method: {e}"),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.mock.state()
    }

    /// The session as Stripe would return it now.
    pub fn session(&self, session_id: &str) -> Option<Value> {
        self.state().sessions.get(session_id).cloned()
    }

    /// Ids of all sessions created, in creation order.
    pub fn session_ids(&self) -> Vec<String> {
        self.state().created.clone()
    }

    /// The id of the session created last.
    pub fn last_session_id(&self) -> Option<String> {
        self.state().created.last().cloned()
    }

    /// The latest session created for our payment id (`metadata[payment_id]`).
    pub fn session_for_payment(&self, payment_ref: &str) -> Option<Value> {
        let state = self.state();
        state
            .created
            .iter()
            .rev()
            .filter_map(|id| state.sessions.get(id))
            .find(|s| s["metadata"]["payment_id"] == payment_ref)
            .cloned()
    }

    /// Sets what Stripe reports for a session (`status`: open | complete | expired;
    /// `payment_status`: paid | unpaid | no_payment_required). A paid session gets a PaymentIntent
    /// `pi_...` with one charge `ch_...` (the same suffix), which refunds then refer to. Returns
    /// the session, or `None` if it does not exist.
    pub fn set_session_status(&self, session_id: &str, status: &str, payment_status: &str) -> Option<Value> {
        let mut state = self.state();
        let session = state.sessions.get_mut(session_id)?;
        session["status"] = json!(status);
        session["payment_status"] = json!(payment_status);
        if status != "open" {
            session["url"] = Value::Null;
        }
        let mut new_payment = None;
        if payment_status == "paid" && session["payment_intent"].is_null() {
            let pi = format!("pi_{}", id_suffix("test"));
            session["payment_intent"] = json!(pi);
            let intent = Intent {
                session: session_id.to_string(),
                charge: format!("ch_{}", &pi[3..]),
                amount: session["amount_total"].as_i64().unwrap_or(0),
                currency: session["currency"].as_str().unwrap_or("usd").to_string(),
            };
            new_payment = Some((pi, intent));
        }
        let snapshot = session.clone();
        if let Some((pi, intent)) = new_payment {
            state.intents.insert(pi, intent);
        }
        Some(snapshot)
    }

    /// The PaymentIntent behind a session (or PaymentIntent, or charge) id, once it is paid.
    pub fn payment_intent_of(&self, id: &str) -> Option<String> {
        self.state().intent_id(id)
    }

    /// The charge behind a session, PaymentIntent or charge id, as Stripe reports it now
    /// (`amount_refunded` counts every refund that is not failed or canceled).
    pub fn charge(&self, id: &str) -> Option<Value> {
        let state = self.state();
        state.charge_json(&state.intent_id(id)?)
    }

    /// Every refund of the payment behind a session, PaymentIntent or charge id, oldest first.
    pub fn refunds_of(&self, id: &str) -> Vec<Value> {
        let state = self.state();
        let Some(pi) = state.intent_id(id) else {
            return Vec::new();
        };
        state
            .refunds
            .iter()
            .filter(|r| r["payment_intent"] == pi.as_str())
            .cloned()
            .collect()
    }

    /// The refund `refund_id` as Stripe reports it now.
    pub fn refund(&self, refund_id: &str) -> Option<Value> {
        self.state()
            .refunds
            .iter()
            .find(|r| r["id"] == refund_id)
            .cloned()
    }

    /// A refund made in Stripe's Dashboard (not through the adapter: no idempotency key, no
    /// metadata of ours) of the payment behind a session, PaymentIntent or charge id; `None`
    /// refunds what is left. The refund object, or Stripe's error body when it refuses.
    pub fn refund_in_dashboard(&self, id: &str, amount: Option<i64>) -> Result<Value, Value> {
        let mut state = self.state();
        let pi = state.intent_id(id).unwrap_or_else(|| id.to_string());
        let mut form = vec![("payment_intent".to_string(), pi)];
        form.extend(amount.map(|a| ("amount".to_string(), a.to_string())));
        state.refund(&form).map_err(|(_, body)| body)
    }

    /// Moves a refund to another `status` (`pending`, `succeeded`, `failed`, `canceled`), as
    /// Stripe does when a refund fails later: a failed or canceled refund no longer counts in
    /// its charge's `amount_refunded`. Returns the refund, or `None` if it does not exist.
    pub fn set_refund_status(&self, refund_id: &str, status: &str) -> Option<Value> {
        self.state().set_refund_status(refund_id, status)
    }

    /// The signed `charge.refund.updated` event Stripe sends about a refund's current state.
    pub fn signed_refund_updated(&self, refund_id: &str, timestamp: i64) -> Option<SignedWebhook> {
        let refund = self.refund(refund_id)?;
        Some(self.signed_event("charge.refund.updated", refund, timestamp))
    }

    /// The signed `charge.refunded` event Stripe sends with the charge behind a session,
    /// PaymentIntent or charge id as it now stands (`amount_refunded`: the cumulative total).
    pub fn signed_charge_refunded(&self, id: &str, timestamp: i64) -> Option<SignedWebhook> {
        let charge = self.charge(id)?;
        Some(self.signed_event("charge.refunded", charge, timestamp))
    }

    /// Forgets every idempotency key, as Stripe does after 24 hours: the same key again is a new
    /// request.
    pub fn forget_idempotency_keys(&self) {
        self.mock.forget_idempotency_keys();
    }

    /// The payer paid: `complete` + `paid`.
    pub fn complete_session(&self, session_id: &str) -> Option<Value> {
        self.set_session_status(session_id, "complete", "paid")
    }

    /// The session expired unpaid.
    pub fn expire_session(&self, session_id: &str) -> Option<Value> {
        self.set_session_status(session_id, "expired", "unpaid")
    }

    /// Signs `body` at `timestamp` with the mock's webhook secret.
    pub fn sign(&self, body: &[u8], timestamp: i64) -> String {
        sign_webhook(&self.webhook_secret, body, timestamp)
    }

    /// `event_type` about `object`, signed at `timestamp`.
    pub fn signed_event(&self, event_type: &str, object: Value, timestamp: i64) -> SignedWebhook {
        let body = event_body(
            &format!("evt_{}", id_suffix("test")),
            event_type,
            object,
            timestamp,
            false,
        );
        SignedWebhook {
            signature: self.sign(&body, timestamp),
            body,
            timestamp,
        }
    }

    /// A signed `checkout.session.completed` (paid) event for `session_id`, `payment_ref` and
    /// `amount` at `timestamp`; a session this mock created is completed as well (so a later
    /// `GET` agrees) and its stored fields are used.
    pub fn signed_checkout_completed(
        &self,
        session_id: &str,
        payment_ref: &str,
        amount: Money,
        timestamp: i64,
    ) -> SignedWebhook {
        let object = match self.complete_session(session_id) {
            Some(mut stored) => {
                stored["amount_total"] = json!(stripe_units(amount));
                stored["currency"] = json!(amount.currency.code_lowercase());
                stored["client_reference_id"] = json!(payment_ref);
                stored["metadata"]["payment_id"] = json!(payment_ref);
                stored
            }
            None => paid_session_object(session_id, payment_ref, amount, timestamp),
        };
        self.signed_event("checkout.session.completed", object, timestamp)
    }

    /// Every request the mock received (including checkout page views).
    pub async fn received_requests(&self) -> Vec<Request> {
        self.mock.received().await
    }

    /// The API requests (everything but checkout page views) the mock received, in order.
    pub async fn api_requests(&self) -> Vec<Request> {
        self.mock.api_requests().await
    }

    /// Writes every API request the mock received, exactly as received, through
    /// [`payments_core::oracle::record_request`] (provider `stripe`, files named after `label`).
    /// Returns how many were written.
    pub async fn record_requests(&self, label: &str) -> std::io::Result<usize> {
        self.mock.record(label).await
    }
}
mod fixture;
mod state;
pub use fixture::StripeFixture;
