//! The provider HTTP kit (feature `http`): one [`Client`] per adapter with a base URL, an
//! [`Auth`] (basic, bearer, OAuth client credentials with a shared cached token), JSON and form
//! bodies, bounded retries under [`RetryPolicy`], the provider's error JSON mapped through
//! [`ApiErrors`], and an idempotency strategy per request ([`Idempotency`]).
//!
//! Retries: only timeouts, connection failures, 429 and 5xx are retried, never another 4xx; the
//! backoff and the number of attempts come from the policy. Whether a request that may already
//! have reached the provider is sent again depends on its [`Idempotency`]:
//! - [`Idempotency::Safe`] (the default for `GET`): always;
//! - [`Idempotency::Header`]: always, with the same key in the same header on every attempt;
//! - [`Idempotency::LookupBeforeResend`]: before every re-send the adapter's [`Lookup`] searches
//!   the provider for the object by our reference; when it exists, that object is the answer and
//!   nothing is re-sent (providers without an idempotency header);
//! - [`Idempotency::LookupFirst`]: the same, and before the first attempt too, so that a second
//!   call for the same operation (the server retrying after a lost answer) finds the object the
//!   first one created instead of creating another;
//! - [`Idempotency::OnlyIfUnsent`] (the default for other methods): only when the connection was
//!   never established.

mod auth;

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

pub use auth::Auth;
use auth::TokenCache;

use crate::provider::ProviderError;
use crate::retry::RetryPolicy;

pub use reqwest::header::HeaderMap;
pub use reqwest::Method;

/// Maps a provider's error answer to [`ProviderError`]; implemented by each adapter.
pub trait ApiErrors: Send + Sync + 'static {
    /// The typed error for a non-2xx answer (usually [`ProviderError::Api`] with the provider's
    /// own code and message, see [`api_error`]).
    fn api_error(&self, status: u16, body: &[u8]) -> ProviderError;

    /// The provider's own say on retrying (Stripe's `Stripe-Should-Retry`); `None` leaves it to
    /// the status (429 and 5xx).
    fn should_retry(&self, status: u16, headers: &HeaderMap) -> Option<bool> {
        let _ = (status, headers);
        None
    }
}

/// A plain function or closure `(status, body) -> ProviderError` maps errors too.
impl<F: Fn(u16, &[u8]) -> ProviderError + Send + Sync + 'static> ApiErrors for F {
    fn api_error(&self, status: u16, body: &[u8]) -> ProviderError {
        self(status, body)
    }
}

/// An idempotency key of at most `max` printable ASCII characters: `key` itself when it fits,
/// else `sha256-<hex digest of key>` (still deterministic, so every retry and replay of the same
/// operation sends the same value).
pub fn bounded_key(key: &str, max: usize) -> String {
    use sha2::Digest as _;
    if !key.is_empty() && key.len() <= max && key.bytes().all(|b| b.is_ascii_graphic()) {
        key.to_string()
    } else {
        format!("sha256-{}", hex::encode(sha2::Sha256::digest(key.as_bytes())))
    }
}

/// The [`ProviderError::Api`] for `status` with the provider's `code` and `message` (a readable
/// fallback when the message is missing).
pub fn api_error(
    provider: &'static str,
    status: u16,
    code: Option<String>,
    message: Option<String>,
    body: &[u8],
) -> ProviderError {
    let message = message.filter(|m| !m.trim().is_empty()).unwrap_or_else(|| {
        let text: String = String::from_utf8_lossy(body).trim().chars().take(200).collect();
        if text.is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            format!("HTTP {status}: {text}")
        }
    });
    ProviderError::Api {
        provider,
        status,
        code,
        message,
    }
}

/// A provider's error JSON described by JSON pointers (RFC 6901): the first non-blank `code` and
/// `message` win, `field` (the parameter at fault) is appended as `(param: ...)` unless the
/// message names it, and `retry_header` is the provider's own `true`/`false` retry advice.
#[derive(Debug, Clone, Copy)]
pub struct JsonErrors {
    pub provider: &'static str,
    pub code: &'static [&'static str],
    pub message: &'static [&'static str],
    pub field: Option<&'static str>,
    pub retry_header: Option<&'static str>,
}

impl JsonErrors {
    /// The pointers to the provider's error code and message; no field, no retry header.
    pub const fn new(
        provider: &'static str,
        code: &'static [&'static str],
        message: &'static [&'static str],
    ) -> Self {
        JsonErrors {
            provider,
            code,
            message,
            field: None,
            retry_header: None,
        }
    }

    /// With the pointer to the parameter at fault.
    pub const fn with_field(mut self, pointer: &'static str) -> Self {
        self.field = Some(pointer);
        self
    }
}

impl ApiErrors for JsonErrors {
    fn api_error(&self, status: u16, body: &[u8]) -> ProviderError {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |p: &str| {
            v.pointer(p)
                .and_then(|x| x.as_str())
                .filter(|s| !s.trim().is_empty())
        };
        let first = |ps: &[&str]| ps.iter().find_map(|p| text(p)).map(str::to_string);
        let message = first(self.message).map(|m| match self.field.and_then(text) {
            Some(f) if !m.contains(f) => format!("{m} (param: {f})"),
            _ => m,
        });
        api_error(self.provider, status, first(self.code), message, body)
    }

    fn should_retry(&self, _status: u16, headers: &HeaderMap) -> Option<bool> {
        let value = headers.get(self.retry_header?)?.to_str().ok()?;
        Some(value.trim().eq_ignore_ascii_case("true"))
    }
}

/// Finds the object an earlier attempt may have created, by our reference, before a re-send.
#[crate::async_trait]
pub trait Lookup: Send + Sync {
    /// The existing object's JSON body, or `None` when no earlier attempt took effect.
    async fn find(&self, client: &Client) -> Result<Option<Vec<u8>>, ProviderError>;
}

/// How a request may be repeated after it may have reached the provider.
#[derive(Clone, Copy)]
pub enum Idempotency<'a> {
    Safe,
    /// `(header, key)`: re-sent unchanged on every attempt.
    Header(&'static str, &'a str),
    LookupBeforeResend(&'a dyn Lookup),
    /// [`Idempotency::LookupBeforeResend`], and a look-up before the first attempt as well.
    LookupFirst(&'a dyn Lookup),
    OnlyIfUnsent,
}

impl<'a> Idempotency<'a> {
    /// `key` in the `Idempotency-Key` header (Stripe, Mollie, and most providers with one).
    pub fn key(key: &'a str) -> Self {
        Idempotency::Header("Idempotency-Key", key)
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    /// Serialized JSON (sent as is, never re-serialized).
    Json(Vec<u8>),
    Form(Vec<(String, String)>),
}

/// One outbound call: built with [`Request::get`] / [`Request::post`] and the setters.
pub struct Request<'a> {
    pub method: Method,
    /// Appended to the base URL (`/v1/refunds`); encode ids with [`segment`].
    pub path: String,
    pub body: Body,
    pub headers: Vec<(&'static str, String)>,
    pub idempotency: Idempotency<'a>,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotency = if matches!(method, Method::GET | Method::HEAD) {
            Idempotency::Safe
        } else {
            Idempotency::OnlyIfUnsent
        };
        Request {
            method,
            path: path.into(),
            body: Body::Empty,
            headers: Vec::new(),
            idempotency,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// A JSON body serialized once.
    pub fn json(mut self, value: &impl serde::Serialize) -> Result<Self, ProviderError> {
        let bytes =
            serde_json::to_vec(value).map_err(|e| ProviderError::Config(format!("request body: {e}")))?;
        self.body = Body::Json(bytes);
        Ok(self)
    }

    /// A JSON body already serialized.
    pub fn raw_json(mut self, bytes: Vec<u8>) -> Self {
        self.body = Body::Json(bytes);
        self
    }

    /// A form body (`application/x-www-form-urlencoded`, keys kept as given: `a[b]` stays).
    pub fn form(mut self, pairs: Vec<(String, String)>) -> Self {
        self.body = Body::Form(pairs);
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn idempotency(mut self, idempotency: Idempotency<'a>) -> Self {
        self.idempotency = idempotency;
        self
    }
}

/// A 2xx answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One percent-encoded path segment (ids in paths).
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `application/x-www-form-urlencoded` with `[` and `]` kept readable in keys (Stripe's
/// `metadata[payment_id]`).
pub fn encode_form(pairs: &[(String, String)]) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k).replace("%5B", "[").replace("%5D", "]"), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The shared HTTP client of one adapter instance. Cloning shares the connection pool and the
/// OAuth token cache.
#[derive(Clone)]
pub struct Client {
    provider: &'static str,
    http: reqwest::Client,
    base: String,
    auth: Auth,
    tokens: Arc<TokenCache>,
    headers: Vec<(&'static str, String)>,
    retry: RetryPolicy,
    errors: Arc<dyn ApiErrors>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.provider)
            .field("base", &self.base)
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Why one attempt failed.
enum Failure {
    /// Worth another attempt; `arrived` says whether the request may have reached the provider.
    Retry {
        reason: String,
        arrived: bool,
        /// The error to return when no attempt is left (`None`: [`ProviderError::Unavailable`]).
        last: Option<ProviderError>,
    },
    /// The token was refused (401): refresh once and repeat without using up an attempt.
    Unauthorized(ProviderError, Option<String>),
    Final(ProviderError),
}

impl Client {
    /// A client for `base` (an absolute URL; a trailing slash is dropped).
    pub fn new(
        provider: &'static str,
        base: &str,
        auth: Auth,
        retry: RetryPolicy,
        errors: impl ApiErrors,
    ) -> Result<Self, ProviderError> {
        Ok(Client {
            provider,
            http: http_client(retry.timeout.min(Duration::from_secs(10)))?,
            base: base.trim_end_matches('/').to_string(),
            auth,
            tokens: Arc::new(TokenCache::default()),
            headers: Vec::new(),
            retry,
            errors: Arc::new(errors),
        })
    }

    /// Another connect timeout (the default is the policy's timeout, at most 10 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Result<Self, ProviderError> {
        self.http = http_client(timeout)?;
        Ok(self)
    }

    /// A header sent on every request (`Stripe-Version`, `Omise-Version`).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn provider(&self) -> &'static str {
        self.provider
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Sends `request` under the retry policy; the 2xx answer or the final error.
    pub async fn send(&self, request: &Request<'_>) -> Result<Response, ProviderError> {
        let mut attempt: u32 = 1;
        let mut refreshed = false;
        let mut arrived = false;
        loop {
            if attempt > 1 {
                tokio::time::sleep(self.retry.backoff(attempt)).await;
            }
            let lookup = match request.idempotency {
                Idempotency::LookupFirst(lookup) if attempt == 1 || arrived => Some(lookup),
                Idempotency::LookupBeforeResend(lookup) if attempt > 1 && arrived => Some(lookup),
                _ => None,
            };
            if let Some(lookup) = lookup {
                if let Some(body) = lookup.find(self).await? {
                    tracing::info!(provider = self.provider, path = %request.path, attempt, "the operation took effect earlier: not sent again");
                    return Ok(Response { status: 200, body });
                }
            }
            let failure = match self.attempt(request).await {
                Ok(response) => return Ok(response),
                Err(f) => f,
            };
            let (reason, this_arrived, last) = match failure {
                Failure::Final(e) => return Err(e),
                Failure::Unauthorized(e, token) if refreshed || token.is_none() => return Err(e),
                Failure::Unauthorized(_, token) => {
                    refreshed = true;
                    self.tokens.invalidate(token.as_deref()).await;
                    continue;
                }
                Failure::Retry {
                    reason,
                    arrived,
                    last,
                } => (reason, arrived, last),
            };
            arrived |= this_arrived;
            let what = format!("{} {}", request.method, request.path);
            if matches!(request.idempotency, Idempotency::OnlyIfUnsent) && this_arrived {
                return Err(ProviderError::Unavailable {
                    provider: self.provider,
                    message: format!(
                        "{what}: {reason}; not repeated, because it may have reached {} and it has no \
                         idempotency key: check the provider before trying again",
                        self.provider
                    ),
                });
            }
            if !self.retry.may_retry(attempt) {
                tracing::warn!(provider = self.provider, %what, attempt, "giving up: {reason}");
                return Err(last.unwrap_or_else(|| ProviderError::Unavailable {
                    provider: self.provider,
                    message: format!("{what}: {reason} (after {attempt} attempts)"),
                }));
            }
            tracing::info!(provider = self.provider, %what, attempt, "retrying: {reason}");
            attempt += 1;
        }
    }

    /// [`Client::send`] and the answer parsed as `T`.
    pub async fn json<T: DeserializeOwned>(&self, request: &Request<'_>) -> Result<T, ProviderError> {
        let response = self.send(request).await?;
        self.parse(&request.path, &response.body)
    }

    /// [`Client::send`] and the answer parsed as `T`, with the answer's JSON as it came (for
    /// [`crate::WebhookEvent::raw`] when the event is built from a re-fetched object).
    pub async fn json_raw<T: DeserializeOwned>(
        &self,
        request: &Request<'_>,
    ) -> Result<(T, serde_json::Value), ProviderError> {
        let raw: serde_json::Value = self.json(request).await?;
        let parsed = T::deserialize(&raw).map_err(|e| ProviderError::UnexpectedResponse {
            provider: self.provider,
            message: format!("{}: the answer is not the expected object: {e}", request.path),
        })?;
        Ok((parsed, raw))
    }

    /// `body` parsed as `T`, or [`ProviderError::UnexpectedResponse`] naming `what`.
    pub fn parse<T: DeserializeOwned>(&self, what: &str, body: &[u8]) -> Result<T, ProviderError> {
        serde_json::from_slice(body).map_err(|e| ProviderError::UnexpectedResponse {
            provider: self.provider,
            message: format!("{what}: the answer is not the expected object: {e}"),
        })
    }

    async fn attempt(&self, request: &Request<'_>) -> Result<Response, Failure> {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .timeout(self.retry.timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        let mut oauth_token = None;
        builder = match &self.auth {
            Auth::None => builder,
            Auth::Basic { username, password } => builder.basic_auth(username, Some(password)),
            Auth::Bearer(token) => builder.bearer_auth(token),
            Auth::OAuthClientCredentials { .. } => {
                let token = self.token().await.map_err(Failure::Final)?;
                let builder = builder.bearer_auth(&token);
                oauth_token = Some(token);
                builder
            }
        };
        for (name, value) in self.headers.iter().chain(&request.headers) {
            builder = builder.header(*name, value);
        }
        if let Idempotency::Header(name, key) = request.idempotency {
            builder = builder.header(name, key);
        }
        builder = match &request.body {
            Body::Empty => builder,
            Body::Json(bytes) => builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            Body::Form(pairs) => builder
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(encode_form(pairs)),
        };
        let response = builder.send().await.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let hint = self.errors.should_retry(status, response.headers());
        let body = response.bytes().await.map_err(|e| transport(&e))?.to_vec();
        if (200..300).contains(&status) {
            return Ok(Response { status, body });
        }
        let error = self.errors.api_error(status, &body);
        if status == 401 {
            return Err(Failure::Unauthorized(error, oauth_token));
        }
        if hint.unwrap_or_else(|| RetryPolicy::retryable_status(status)) {
            let reason = match &error {
                ProviderError::Api { message, .. } => format!("HTTP {status}: {message}"),
                ProviderError::Unavailable { message, .. } if message.contains(&status.to_string()) => {
                    message.clone()
                }
                other => format!("HTTP {status}: {other}"),
            };
            // After the last attempt a 5xx is "unavailable"; a retryable 4xx keeps the provider's error.
            let last = (status < 500).then_some(error);
            return Err(Failure::Retry {
                reason,
                arrived: true,
                last,
            });
        }
        Err(Failure::Final(error))
    }
}

fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("payments-core-http/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))
}

/// A transport failure: retryable; it may have arrived unless the connection never opened.
fn transport(e: &reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut reason = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_builder() {
        return Failure::Final(ProviderError::Config(reason));
    }
    Failure::Retry {
        reason,
        arrived: !e.is_connect(),
        last: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn forms_keep_brackets_and_encode_values_and_segments_encode_everything() {
        let pairs = [
            ("metadata[payment_id]".to_string(), "a b&c=d".to_string()),
            (
                "success_url".to_string(),
                "http://h/?x={CHECKOUT_SESSION_ID}".to_string(),
            ),
        ];
        assert_eq!(
            super::encode_form(&pairs),
            "metadata[payment_id]=a+b%26c%3Dd&success_url=http%3A%2F%2Fh%2F%3Fx%3D%7BCHECKOUT_SESSION_ID%7D"
        );
        assert_eq!(super::segment("cs_1/../x y"), "cs_1%2F..%2Fx%20y");
    }

    #[test]
    fn json_errors_follow_their_pointers() {
        use super::{ApiErrors, JsonErrors};
        use crate::provider::ProviderError::Api;
        const E: JsonErrors = JsonErrors {
            provider: "acme",
            code: &["/error/code", "/error/type"],
            message: &["/error/message", "/detail"],
            field: Some("/error/param"),
            retry_header: Some("Acme-Should-Retry"),
        };
        let e = E.api_error(
            400,
            br#"{"error":{"type":"invalid","message":"too small","param":"amount"}}"#,
        );
        assert!(
            matches!(e, Api { status: 400, code: Some(ref c), ref message, .. } if c == "invalid" && message == "too small (param: amount)"),
            "{e:?}"
        );
        let e = E.api_error(404, br#"{"detail":"no such payment"}"#);
        assert!(
            matches!(e, Api { code: None, ref message, .. } if message == "no such payment"),
            "{e:?}"
        );
        let e = E.api_error(502, b"");
        assert!(
            matches!(e, Api { ref message, .. } if message.contains("empty body")),
            "{e:?}"
        );
        let mut headers = super::HeaderMap::new();
        assert_eq!(E.should_retry(409, &headers), None);
        headers.insert("Acme-Should-Retry", "false".parse().unwrap());
        assert_eq!(E.should_retry(503, &headers), Some(false));
    }

    #[test]
    fn bounded_keys_are_deterministic_and_bounded() {
        use super::bounded_key;
        assert_eq!(bounded_key("pay:abc:capture:0", 108), "pay:abc:capture:0");
        let long = "x".repeat(200);
        assert_eq!(bounded_key(&long, 108), bounded_key(&long, 108));
        assert!(bounded_key(&long, 108).len() <= 108);
        assert_ne!(bounded_key(&long, 108), bounded_key(&"y".repeat(200), 108));
        assert_ne!(bounded_key("a b", 108), "a b", "not printable ASCII");
    }
}
