//! A kit for provider mocks (feature `mock`): a real HTTP server on 127.0.0.1 (wiremock) that
//! answers like a provider, so an adapter's `testing.rs` only describes the provider's
//! behaviour (its objects, rules and error JSON) and the kit does the rest:
//!
//! - **routes over shared state**: `route(Method::POST, "/v1/things/{id}", |state, req| ...)`;
//!   each handler gets `&mut S` (the mock's typed state, behind a `Mutex` the test can also read
//!   and change through [`ProviderMock::state`]) and the request with its path parameters;
//! - **an auth check** ([`Auth`]: basic, bearer, any header, a check of your own over the
//!   state, or tokens from an OAuth 2 client-credentials endpoint the mock serves ([`OAuth`]))
//!   in front of every API route; a refused request gets the provider's own answer
//!   (e.g. 401 with its error JSON) and never reaches a handler;
//! - **fault injection per route** ([`Fault`]): a 5xx (in the provider's error format) for the
//!   next *n* requests, a timeout (no effect, answered only after a delay longer than the
//!   client's timeout), a late answer and a lost answer (the handler runs and the state changes,
//!   but the client never gets its answer);
//! - **idempotency keys** ([`Idempotency`]): a provider's idempotency header replays the first
//!   answer for the same key (and, if the provider does, refuses the key with other parameters);
//! - **recording**: every received request, exactly as received; [`ProviderMock::record`] hands
//!   the API requests to [`crate::oracle::record_request`] in one call (the files CI checks with
//!   `../shared/oracles/check-requests`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use payments_core::mock::{Auth, Fault, Idempotency, Method, ProviderMock, Reply};
//! use serde_json::json;
//!
//! #[derive(Default)]
//! struct Acme { orders: Vec<String> }
//!
//! let mock = ProviderMock::builder("acme", Acme::default())
//!     .auth(Auth::bearer("sk_test_1"), Reply::json(401, &json!({"error": "unauthorized"})))
//!     .fault_reply(|status| Reply::json(status, &json!({"error": "internal"})))
//!     .idempotency(Idempotency::header("Idempotency-Key"))
//!     .route(Method::POST, "/v1/orders", |state: &mut Acme, _req| {
//!         state.orders.push(format!("ord_{}", state.orders.len() + 1));
//!         Reply::json(201, &json!({"id": state.orders.last()}))
//!     })
//!     .route(Method::GET, "/v1/orders/{id}", |state: &mut Acme, req| {
//!         match state.orders.iter().find(|o| *o == req.param("id")) {
//!             Some(id) => Reply::json(200, &json!({"id": id})),
//!             None => Reply::json(404, &json!({"error": "not_found"})),
//!         }
//!     })
//!     .start()
//!     .await;
//! // mock.uri() is the adapter's API base.
//! mock.inject(Method::POST, "/v1/orders", Fault::Status(503), 1); // 5xx once
//! mock.inject(Method::POST, "/v1/orders", Fault::LostAnswer, 1); // created, answer lost
//! // ... run the adapter: its retry with the same key gets the first answer again ...
//! assert_eq!(mock.state().orders.len(), 1);
//! mock.record("my-test").await?; // target/oracle-requests/acme/my-test-*.json
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Respond};

/// The mock server underneath, for adapters' `testing` modules (they have no wiremock
/// dependency of their own; `cfg(payments_mock)` compiles them: see the feature `mock`).
pub use wiremock;
pub use wiremock::http::Method;
pub use wiremock::{Request, ResponseTemplate};

/// An answer of the mock: status, headers, body and an optional delay. Handlers return it; the
/// kit can read it back (to keep it for idempotent replays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub delay: Option<Duration>,
}

impl Reply {
    /// `status` with no body.
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
        }
    }

    /// `body` as JSON (`Content-Type: application/json`).
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::text(status, "application/json", body.to_string())
    }

    /// `body` with `content_type` (e.g. `text/html; charset=utf-8` for a hosted page).
    pub fn text(status: u16, content_type: &str, body: impl Into<String>) -> Reply {
        let mut r = Reply::new(status).header("Content-Type", content_type);
        r.body = body.into().into_bytes();
        r
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::new(302).header("Location", location)
    }

    /// Adds a header (a second one of the same name replaces the first).
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sent only after `delay`.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    /// The body as JSON, if it is.
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl From<Reply> for ResponseTemplate {
    fn from(r: Reply) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(r.status);
        let mut content_type = String::new();
        for (k, v) in &r.headers {
            if k.eq_ignore_ascii_case("content-type") {
                content_type.clone_from(v);
            } else {
                t = t.insert_header(k.as_str(), v.as_str());
            }
        }
        if !r.body.is_empty() || !content_type.is_empty() {
            t = t.set_body_raw(r.body, &content_type);
        }
        match r.delay {
            Some(d) => t.set_delay(d),
            None => t,
        }
    }
}

/// A provider's idempotency header, kept per (path, key) for `POST` routes: the same key again
/// gets the first answer again, without running the handler.
pub struct Idempotency {
    header: String,
    skip: Vec<String>,
    conflict: Option<KeyReply>,
    on_replay: Box<dyn Fn(Reply) -> Reply + Send + Sync>,
    keep: Box<dyn Fn(u16) -> bool + Send + Sync>,
}

impl Idempotency {
    /// Keys in `header` (e.g. `Idempotency-Key`, `PayPal-Request-Id`); answers with a status
    /// below 500 other than 429 are kept and replayed whatever the body of the replay.
    pub fn header(name: &str) -> Idempotency {
        Idempotency {
            header: name.to_ascii_lowercase(),
            skip: Vec::new(),
            conflict: None,
            on_replay: Box::new(|r| r),
            keep: Box::new(|status| status < 500 && status != 429),
        }
    }

    /// A key reused with another body gets `reply(key)` instead of the replay (Stripe's
    /// `idempotency_error`).
    pub fn conflict(mut self, reply: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Idempotency {
        self.conflict = Some(Box::new(reply));
        self
    }

    /// Changes a replayed answer (e.g. marks it with a header, or `201` becomes `200`).
    pub fn on_replay(mut self, change: impl Fn(Reply) -> Reply + Send + Sync + 'static) -> Idempotency {
        self.on_replay = Box::new(change);
        self
    }

    /// Which answers are kept for replay, by status.
    pub fn keep_if(mut self, keep: impl Fn(u16) -> bool + Send + Sync + 'static) -> Idempotency {
        self.keep = Box::new(keep);
        self
    }

    /// Routes matching `pattern` ignore the header.
    pub fn skip(mut self, pattern: &str) -> Idempotency {
        self.skip.push(pattern.to_string());
        self
    }
}

/// How the mock recognizes an authorized caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic base64(user:password)` (an API key as user with an empty password
    /// is Omise's and Stripe's form; client id and secret PayPal's token endpoint's).
    Basic { user: String, password: String },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// A header of the provider's own, e.g. `X-Api-Key: <key>`.
    Header { name: String, value: String },
}

impl Auth {
    pub fn basic(user: &str, password: &str) -> Auth {
        Auth::Basic {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    pub fn bearer(token: &str) -> Auth {
        Auth::Bearer(token.to_string())
    }

    pub fn header(name: &str, value: &str) -> Auth {
        Auth::Header {
            name: name.to_string(),
            value: value.to_string(),
        }
    }

    /// Whether `request` carries exactly these credentials.
    pub fn accepts(&self, request: &Request) -> bool {
        let value = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        match self {
            Auth::Basic { user, password } => {
                let expected = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                value("authorization").and_then(|v| v.strip_prefix("Basic ")) == Some(expected.as_str())
            }
            Auth::Bearer(token) => {
                value("authorization").and_then(|v| v.strip_prefix("Bearer ")) == Some(token.as_str())
            }
            Auth::Header {
                name,
                value: expected,
            } => value(name) == Some(expected.as_str()),
        }
    }
}

/// An OAuth 2 client-credentials token endpoint (RFC 6749 §4.4) the mock serves: `POST` with
/// Basic client credentials and `grant_type=client_credentials` gets
/// `{"access_token", "token_type": "Bearer", "expires_in", ...extra}`; wrong credentials get
/// `401 {"error": "invalid_client"}`, another grant `400 {"error": "unsupported_grant_type"}`.
/// The API routes then accept only the tokens it issued (see [`ProviderMock::revoke_tokens`]).
#[derive(Debug, Clone)]
pub struct OAuth {
    path: String,
    client: Auth,
    expires_in: u64,
    extra: Value,
}

impl OAuth {
    pub fn client_credentials(path: &str, client_id: &str, client_secret: &str) -> OAuth {
        OAuth {
            path: path.to_string(),
            client: Auth::basic(client_id, client_secret),
            expires_in: 3_600,
            extra: Value::Null,
        }
    }

    /// The `expires_in` of tokens issued (default 3600 s; change later with
    /// [`ProviderMock::set_token_expires_in`]).
    pub fn expires_in(mut self, seconds: u64) -> OAuth {
        self.expires_in = seconds;
        self
    }

    /// Fields of the provider's own added to every token answer (e.g. `scope`, `app_id`).
    pub fn extra(mut self, fields: Value) -> OAuth {
        self.extra = fields;
        self
    }
}

/// The tokens an [`OAuth`] endpoint issued.
#[derive(Debug, Default)]
struct Tokens {
    issued: Vec<String>,
    requests: usize,
    expires_in: u64,
    reject_all: bool,
}

impl Tokens {
    fn accepts(&self, request: &Request) -> bool {
        let bearer = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        !self.reject_all && bearer.is_some_and(|b| self.issued.iter().any(|t| t == b))
    }

    fn issue(&mut self, oauth: &OAuth, request: &MockRequest<'_>) -> Reply {
        self.requests += 1;
        if !oauth.client.accepts(request) {
            let body = serde_json::json!({"error": "invalid_client", "error_description": "Client Authentication failed"});
            return Reply::json(401, &body);
        }
        let grant = request.form().into_iter().find(|(k, _)| k == "grant_type");
        if grant.is_none_or(|(_, v)| v != "client_credentials") {
            let body = serde_json::json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"});
            return Reply::json(400, &body);
        }
        let token = format!("mockToken{:06}{}", self.requests, unique_id("", 8));
        self.issued.push(token.clone());
        let mut body = serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        });
        if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), &oauth.extra) {
            b.extend(extra.clone());
        }
        Reply::json(200, &body)
    }
}

/// A failure injected with [`ProviderMock::inject`]. Only requests that passed the auth check
/// meet a fault; pages never do.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The provider's error answer with this status (the builder's
    /// [`MockBuilder::fault_reply`]); the handler does not run. `Status(500)` once is "5xx once".
    Status(u16),
    /// This exact answer (a [`Reply`] `.into()`, or any wiremock template) instead of the
    /// handler's; the handler does not run.
    Reply(ResponseTemplate),
    /// The request has no effect and is answered (with the fault reply for 504) only after this
    /// delay: choose one longer than the client's timeout.
    Timeout(Duration),
    /// The handler runs (the state changes) and its answer is sent only after this delay: with a
    /// delay longer than the client's timeout, the request took effect but the client never
    /// learns it.
    LateAnswer(Duration),
    /// The handler runs (the state changes) but its answer is lost on the way back: the client
    /// gets the fault reply for 502, as from a proxy whose upstream connection broke.
    LostAnswer,
}

/// A request as a handler sees it: the received request (through `Deref`) and the values of the
/// route pattern's `{name}` segments.
#[derive(Debug)]
pub struct MockRequest<'a> {
    request: &'a Request,
    params: Vec<(String, String)>,
    base: &'a str,
}

impl std::ops::Deref for MockRequest<'_> {
    type Target = Request;
    fn deref(&self) -> &Request {
        self.request
    }
}

impl MockRequest<'_> {
    /// The path segment the route pattern names `{name}`; empty if the pattern has none.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter's (first) value.
    pub fn query(&self, name: &str) -> Option<String> {
        self.request
            .url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body as `application/x-www-form-urlencoded` pairs, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_pairs(&self.request.body)
    }

    /// The body as JSON (`None` if it is not JSON).
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.request.body).ok()
    }

    /// The body as a JSON object whatever its encoding: the JSON object of a JSON body (by
    /// `Content-Type`), else the form fields with bracketed keys nested as providers mean them
    /// (`metadata[id]=7&a[b][c]=x` → `{"metadata": {"id": "7"}, "a": {"b": {"c": "x"}}}`, values
    /// as strings). Empty when the body is neither.
    pub fn body_object(&self) -> Map<String, Value> {
        let is_json = self
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            return match self.json() {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
        }
        let mut out = Map::new();
        for (key, value) in self.form() {
            let (head, rest) = key.split_once('[').unwrap_or((key.as_str(), ""));
            let path = rest.trim_end_matches(']').split("][").filter(|p| !p.is_empty());
            let mut map = &mut out;
            let mut name = head.to_string();
            for part in path {
                let slot = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                map = match slot {
                    Value::Object(m) => m,
                    _ => unreachable!("made an object above"),
                };
                name = part.to_string();
            }
            map.insert(name, Value::String(value));
        }
        out
    }

    /// `http://127.0.0.1:<port>`: the mock's own base address (for links in answers).
    pub fn base_uri(&self) -> &str {
        self.base
    }
}

/// A fresh id: `prefix` then `len` lower-case letters and digits (at least the base-36 count of
/// ids made so far). Never the same twice in a process; the rest is random, so ids of separate
/// runs differ as a provider's would.
pub fn unique_id(prefix: &str, len: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut count = Vec::new();
    loop {
        count.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    let mut out = String::from(prefix);
    let mut round = 0u64;
    while out.len() - prefix.len() + count.len() < len {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(round);
        let mut x = h.finish();
        for _ in 0..12 {
            out.push(char::from(DIGITS[(x % 36) as usize]));
            x /= 36;
        }
        round += 1;
    }
    out.truncate(prefix.len() + len.saturating_sub(count.len()));
    out.extend(count.iter().rev().map(|&b| char::from(b)));
    out
}

/// A form body as pairs, in order.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

type Params = Vec<(String, String)>;
/// A request body and the answer it got.
type Kept = (Vec<u8>, Reply);
type Handler<S> = Box<dyn Fn(&mut S, &MockRequest<'_>) -> Reply + Send + Sync>;
type Check<S> = Box<dyn Fn(&S, &Request) -> bool + Send + Sync>;
type KeyReply = Box<dyn Fn(&str) -> Reply + Send + Sync>;
type FaultReply = Box<dyn Fn(u16) -> Reply + Send + Sync>;
type Matcher = Box<dyn Fn(&Request) -> bool + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Behind the auth check, recorded, may meet faults.
    Api,
    /// No auth check (the handler checks what it needs), recorded, may meet faults.
    Public,
    /// A page the payer's browser opens: no auth, not recorded, no faults.
    Page,
}

struct Route<S> {
    method: Method,
    pattern: String,
    kind: Kind,
    handler: Handler<S>,
}

/// `Some(params)` if `path` matches `pattern`: literal segments, `{name}` for one segment, or a
/// trailing `*` for "starts with".
fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    if let Some(prefix) = pattern.strip_suffix('*') {
        return path.starts_with(prefix).then(Vec::new);
    }
    let mut params = Vec::new();
    let mut want = pattern.trim_start_matches('/').split('/');
    let mut got = path.trim_start_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) if !g.is_empty() => params.push((name.to_string(), g.to_string())),
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            },
            _ => return None,
        }
    }
}

struct Injected {
    matches: Matcher,
    fault: Fault,
    remaining: usize,
    /// `(method, path)` for an answer given by [`ProviderMock::serve`]: a later one replaces it.
    served: Option<(String, String)>,
}

struct Shared<S> {
    base: String,
    state: Mutex<S>,
    faults: Mutex<Vec<Injected>>,
    routes: Vec<Route<S>>,
    auth: Option<(Check<S>, Reply)>,
    not_found: Option<Handler<S>>,
    fault_reply: FaultReply,
    idempotency: Option<Idempotency>,
    /// (path, key) -> (request body, answer)
    kept: Mutex<HashMap<(String, String), Kept>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S> Shared<S> {
    fn find(&self, request: &Request) -> Option<(&Route<S>, Params)> {
        self.routes.iter().find_map(|r| {
            if r.method != request.method {
                return None;
            }
            match_pattern(&r.pattern, request.url.path()).map(|p| (r, p))
        })
    }

    fn is_page(&self, request: &Request) -> bool {
        self.find(request).is_some_and(|(r, _)| r.kind == Kind::Page)
    }

    fn take_fault(&self, request: &Request) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let f = faults
            .iter_mut()
            .find(|f| f.remaining > 0 && (f.matches)(request))?;
        f.remaining -= 1;
        Some(f.fault.clone())
    }

    fn answer(&self, request: &Request) -> ResponseTemplate {
        let found = self.find(request);
        let kind = found.as_ref().map_or(Kind::Api, |(r, _)| r.kind);
        let mut state = lock(&self.state);
        if kind == Kind::Api {
            if let Some((check, rejected)) = &self.auth {
                if !check(&state, request) {
                    return rejected.clone().into();
                }
            }
        }
        let fault = if kind == Kind::Page {
            None
        } else {
            self.take_fault(request)
        };
        let run = |state: &mut S| match &found {
            Some((route, params)) => self.run_kept(route, request, || {
                (route.handler)(
                    state,
                    &MockRequest {
                        request,
                        params: params.clone(),
                        base: &self.base,
                    },
                )
            }),
            None => match &self.not_found {
                Some(h) => h(
                    state,
                    &MockRequest {
                        request,
                        params: Vec::new(),
                        base: &self.base,
                    },
                ),
                None => Reply::new(404),
            },
        };
        match fault {
            None => run(&mut state).into(),
            Some(Fault::Status(status)) => (self.fault_reply)(status).into(),
            Some(Fault::Reply(reply)) => reply,
            Some(Fault::Timeout(delay)) => (self.fault_reply)(504).delay(delay).into(),
            Some(Fault::LateAnswer(delay)) => run(&mut state).delay(delay).into(),
            Some(Fault::LostAnswer) => {
                let _lost = run(&mut state);
                (self.fault_reply)(502).into()
            }
        }
    }

    /// Runs `handler` through the idempotency rules, if any apply to this request.
    fn run_kept(&self, route: &Route<S>, request: &Request, handler: impl FnOnce() -> Reply) -> Reply {
        let Some(idem) = &self.idempotency else {
            return handler();
        };
        let path = request.url.path();
        let key = request
            .headers
            .get(idem.header.as_str())
            .and_then(|v| v.to_str().ok());
        let applies = route.kind != Kind::Page
            && request.method == Method::POST
            && !idem.skip.iter().any(|p| match_pattern(p, path).is_some());
        let Some(key) = key.filter(|_| applies) else {
            return handler();
        };
        let slot = (path.to_string(), key.to_string());
        if let Some((body, reply)) = lock(&self.kept).get(&slot) {
            return match &idem.conflict {
                Some(conflict) if *body != request.body => conflict(key),
                _ => (idem.on_replay)(reply.clone()),
            };
        }
        let reply = handler();
        if (idem.keep)(reply.status) {
            lock(&self.kept).insert(slot, (request.body.clone(), reply.clone()));
        }
        reply
    }
}

struct Responder<S>(Arc<Shared<S>>);

impl<S: Send + 'static> Respond for Responder<S> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.answer(request)
    }
}

/// Describes a provider mock; [`MockBuilder::start`] runs it. Routes are tried in the order
/// they were added.
pub struct MockBuilder<S> {
    provider: &'static str,
    state: S,
    routes: Vec<Route<S>>,
    auth: Option<(Check<S>, Reply)>,
    not_found: Option<Handler<S>>,
    fault_reply: FaultReply,
    idempotency: Option<Idempotency>,
    tokens: Arc<Mutex<Tokens>>,
}

impl<S: Send + 'static> MockBuilder<S> {
    /// API routes accept only requests with these credentials; others get `rejected`.
    pub fn auth(self, auth: Auth, rejected: Reply) -> Self {
        self.auth_with(move |_, request| auth.accepts(request), rejected)
    }

    /// API routes accept only requests for which `check` (over the state, e.g. the tokens the
    /// mock issued) is true; others get `rejected`.
    pub fn auth_with(
        mut self,
        check: impl Fn(&S, &Request) -> bool + Send + Sync + 'static,
        rejected: Reply,
    ) -> Self {
        self.auth = Some((Box::new(check), rejected));
        self
    }

    /// Serves `oauth`'s token endpoint (a public route, subject to faults) and makes the API
    /// routes accept only the tokens it issued; others get `rejected`.
    pub fn oauth(self, oauth: OAuth, rejected: Reply) -> Self {
        lock(&self.tokens).expires_in = oauth.expires_in;
        let tokens = Arc::clone(&self.tokens);
        let this = self.auth_with(move |_, request| lock(&tokens).accepts(request), rejected);
        let tokens = Arc::clone(&this.tokens);
        let path = oauth.path.clone();
        this.public_route(Method::POST, &path, move |_, request| {
            lock(&tokens).issue(&oauth, request)
        })
    }

    /// An API route: behind the auth check, recorded, subject to faults. `pattern` is a path with
    /// `{name}` segments (read with [`MockRequest::param`]).
    pub fn route(
        self,
        method: Method,
        pattern: &str,
        handler: impl Fn(&mut S, &MockRequest<'_>) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.add(method, pattern, Kind::Api, Box::new(handler))
    }

    /// A route without the mock's auth check (the handler checks what it needs, e.g. an OAuth
    /// token endpoint taking client credentials); recorded, subject to faults.
    pub fn public_route(
        self,
        method: Method,
        pattern: &str,
        handler: impl Fn(&mut S, &MockRequest<'_>) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.add(method, pattern, Kind::Public, Box::new(handler))
    }

    /// A page the payer's browser opens (a hosted checkout): no auth check, no faults, and not
    /// among the [`ProviderMock::api_requests`] that are recorded for the oracles.
    pub fn page(
        self,
        method: Method,
        pattern: &str,
        handler: impl Fn(&mut S, &MockRequest<'_>) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.add(method, pattern, Kind::Page, Box::new(handler))
    }

    /// The answer to an authorized request no route matches (default: an empty 404).
    pub fn not_found(
        mut self,
        handler: impl Fn(&mut S, &MockRequest<'_>) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.not_found = Some(Box::new(handler));
        self
    }

    /// The provider's error answer for an injected status (default: the status with
    /// `{"error": "injected fault"}`).
    pub fn fault_reply(mut self, reply: impl Fn(u16) -> Reply + Send + Sync + 'static) -> Self {
        self.fault_reply = Box::new(reply);
        self
    }

    /// The provider's idempotency header and how it replays (none by default).
    pub fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = Some(idempotency);
        self
    }

    fn add(mut self, method: Method, pattern: &str, kind: Kind, handler: Handler<S>) -> Self {
        self.routes.push(Route {
            method,
            pattern: pattern.to_string(),
            kind,
            handler,
        });
        self
    }

    /// Starts the mock on a free port of 127.0.0.1. Dropping the returned value stops it.
    pub async fn start(self) -> ProviderMock<S> {
        let server = MockServer::start().await;
        let shared = Arc::new(Shared {
            base: server.uri(),
            state: Mutex::new(self.state),
            faults: Mutex::new(Vec::new()),
            routes: self.routes,
            auth: self.auth,
            not_found: self.not_found,
            fault_reply: self.fault_reply,
            idempotency: self.idempotency,
            kept: Mutex::new(HashMap::new()),
        });
        Mock::given(any())
            .respond_with(Responder(Arc::clone(&shared)))
            .named(format!("mock {}", self.provider))
            .mount(&server)
            .await;
        ProviderMock {
            provider: self.provider,
            server,
            shared,
            tokens: self.tokens,
        }
    }
}

/// A running provider mock over state `S`.
pub struct ProviderMock<S> {
    provider: &'static str,
    server: MockServer,
    shared: Arc<Shared<S>>,
    tokens: Arc<Mutex<Tokens>>,
}

impl<S> std::fmt::Debug for ProviderMock<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderMock")
            .field("provider", &self.provider)
            .field("uri", &self.server.uri())
            .finish()
    }
}

impl<S: Send + 'static> ProviderMock<S> {
    /// A mock of `provider` (the name its recordings are filed under) starting from `state`.
    pub fn builder(provider: &'static str, state: S) -> MockBuilder<S> {
        MockBuilder {
            provider,
            state,
            routes: Vec::new(),
            auth: None,
            not_found: None,
            fault_reply: Box::new(|status| {
                Reply::json(status, &serde_json::json!({"error": "injected fault"}))
            }),
            idempotency: None,
            tokens: Arc::default(),
        }
    }

    /// `http://127.0.0.1:<port>`: the adapter's API base.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The underlying wiremock server.
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// The mock's state, locked (the handlers wait meanwhile: drop the guard before the next
    /// request).
    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.shared.state)
    }

    /// How many requests the [`OAuth`] token endpoint received.
    pub fn token_requests(&self) -> usize {
        lock(&self.tokens).requests
    }

    /// Forgets every idempotency key kept so far, as the provider does once a key's lifetime has
    /// passed: the same key again is a new request.
    pub fn forget_idempotency_keys(&self) {
        lock(&self.shared.kept).clear();
    }

    /// Invalidates every token issued so far (the next API call gets a 401).
    pub fn revoke_tokens(&self) {
        lock(&self.tokens).issued.clear();
    }

    /// While on, every API call gets a 401, even with a fresh token.
    pub fn reject_all_tokens(&self, on: bool) {
        lock(&self.tokens).reject_all = on;
    }

    /// `expires_in` of the tokens issued from now on.
    pub fn set_token_expires_in(&self, seconds: u64) {
        lock(&self.tokens).expires_in = seconds;
    }

    /// The next `times` requests with `method` whose path matches `pattern` (as in
    /// [`MockBuilder::route`], or a prefix ending in `*`) meet `fault`. Faults are used in the
    /// order they were injected.
    pub fn inject(&self, method: Method, pattern: &str, fault: Fault, times: usize) {
        let pattern = pattern.to_string();
        self.inject_when(
            move |r| r.method == method && match_pattern(&pattern, r.url.path()).is_some(),
            fault,
            times,
        );
    }

    /// From now on, `method path` (exactly this path) is answered with `status` and `body` as
    /// given, the handler not run: for replaying an object exactly as the provider published
    /// it (the conformance suite's `serve` hook). A later `serve` of the same method and path
    /// replaces it; faults injected before it still come first.
    pub fn serve(&self, method: &str, path: &str, status: u16, body: &Value) {
        let key = (method.to_ascii_uppercase(), path.to_string());
        let (m, p) = key.clone();
        let reply: ResponseTemplate = Reply::json(status, body).into();
        let mut faults = lock(&self.shared.faults);
        faults.retain(|f| f.served.as_ref() != Some(&key));
        faults.push(Injected {
            matches: Box::new(move |r| r.method.as_str() == m && r.url.path() == p),
            fault: Fault::Reply(reply),
            remaining: usize::MAX,
            served: Some(key),
        });
    }

    /// The next `times` requests for which `matches` is true meet `fault`.
    pub fn inject_when(
        &self,
        matches: impl Fn(&Request) -> bool + Send + Sync + 'static,
        fault: Fault,
        times: usize,
    ) {
        lock(&self.shared.faults).push(Injected {
            matches: Box::new(matches),
            fault,
            remaining: times,
            served: None,
        });
    }

    /// Every request received (pages too), in order, exactly as received.
    pub async fn received(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// The requests received other than [pages](MockBuilder::page): what the adapter sent.
    pub async fn api_requests(&self) -> Vec<Request> {
        let mut all = self.received().await;
        all.retain(|r| !self.shared.is_page(r));
        all
    }

    /// How many requests with `method` and exactly `path` were received.
    pub async fn count(&self, method: Method, path: &str) -> usize {
        self.received()
            .await
            .iter()
            .filter(|r| r.method == method && r.url.path() == path)
            .count()
    }

    /// Writes every [API request](ProviderMock::api_requests) received so far through
    /// [`crate::oracle::record_request`] (under this mock's provider name, files named after
    /// `label`); returns how many.
    pub async fn record(&self, label: &str) -> std::io::Result<usize> {
        let requests = self.api_requests().await;
        crate::oracle::record_wiremock(self.provider, label, &requests, |_| true)
    }
}

#[cfg(test)]
mod tests;
