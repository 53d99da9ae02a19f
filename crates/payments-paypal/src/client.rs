//! The HTTP client: OAuth2 token cache (single-flight), timeouts, bounded retries that re-send
//! the same `PayPal-Request-Id`, one token refresh on a 401, PayPal's error JSON as a typed error.

use std::time::Duration;

use base64::Engine as _;
use payments_core::{ProviderError, RetryPolicy};
use reqwest::{Method, StatusCode};
use sha2::Digest as _;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::PayPalConfig;
use crate::transformers::{PayPalError, TokenResponse};
use crate::PROVIDER;

/// PayPal keeps `PayPal-Request-Id` values up to 108 characters.
pub const MAX_REQUEST_ID: usize = 108;

/// A `PayPal-Request-Id` for `key`: the key itself when it fits, else a digest of it (still
/// deterministic, so retries and replays of the same operation share it).
pub fn request_id(key: &str) -> String {
    if !key.is_empty() && key.len() <= MAX_REQUEST_ID && key.bytes().all(|b| b.is_ascii_graphic()) {
        key.to_string()
    } else {
        format!("sha256-{}", hex::encode(sha2::Sha256::digest(key.as_bytes())))
    }
}

#[derive(Clone)]
struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// One outbound call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// Path with leading slash (`/v2/checkout/orders`).
    pub path: String,
    /// JSON body.
    pub body: Option<Vec<u8>>,
    /// `PayPal-Request-Id`, the same on every retry.
    pub request_id: Option<String>,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Self {
        Call {
            method: Method::GET,
            path: path.into(),
            body: None,
            request_id: None,
        }
    }

    pub fn post(path: impl Into<String>, body: Vec<u8>, request_id: String) -> Self {
        Call {
            method: Method::POST,
            path: path.into(),
            body: Some(body),
            request_id: Some(request_id),
        }
    }
}

/// A failed call, before it is turned into a [`ProviderError`].
#[derive(Debug)]
pub enum CallError {
    /// PayPal answered 4xx (after the one token refresh for a 401).
    Api { status: u16, error: PayPalError },
    /// Transport failure, timeout, 5xx or 429 after the retries were used up.
    Unavailable(String),
    /// Obtaining a token failed.
    Token(ProviderError),
}

impl From<CallError> for ProviderError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Api { status, error } => error.into_provider_error(status),
            CallError::Unavailable(message) => ProviderError::Unavailable {
                provider: PROVIDER,
                message,
            },
            CallError::Token(e) => e,
        }
    }
}

/// Shared by all requests of one provider instance.
pub struct PayPalClient {
    http: reqwest::Client,
    config: PayPalConfig,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for PayPalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayPalClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PayPalClient {
    pub fn new(config: PayPalConfig) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.retry.timeout.min(Duration::from_secs(10)))
            .timeout(config.retry.timeout)
            .user_agent(concat!("payments-paypal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(PayPalClient {
            http,
            config,
            token: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &PayPalConfig {
        &self.config
    }

    fn retry(&self) -> RetryPolicy {
        self.config.retry
    }

    /// A valid access token: the cached one, or a new one. Concurrent callers wait on the same
    /// lock, so only one token request is in flight and the others reuse its result.
    async fn token(&self) -> Result<String, ProviderError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *guard = Some(fresh);
        Ok(value)
    }

    /// After a 401 with `rejected`: fetch a new token unless another request already did.
    async fn refresh_after_401(&self, rejected: &str) -> Result<String, ProviderError> {
        let mut guard = self.token.lock().await;
        if let Some(t) = guard.as_ref() {
            if t.value != rejected && Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        *guard = None;
        let fresh = self.fetch_token().await?;
        let value = fresh.value.clone();
        *guard = Some(fresh);
        Ok(value)
    }

    /// `POST /v1/oauth2/token` with Basic auth and `grant_type=client_credentials`.
    async fn fetch_token(&self) -> Result<CachedToken, ProviderError> {
        let url = format!("{}/v1/oauth2/token", self.config.api_base);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.config.client_id,
            self.config.client_secret.expose()
        ));
        let policy = self.retry();
        let mut attempt = 1;
        loop {
            tokio::time::sleep(policy.backoff(attempt)).await;
            let started = Instant::now();
            let sent = self
                .http
                .post(&url)
                .header("Authorization", format!("Basic {basic}"))
                .header("Accept", "application/json")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials")
                .timeout(policy.timeout)
                .send()
                .await;
            let outcome = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.bytes().await {
                        Ok(body) => Ok((status, body)),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            let retry_reason = match outcome {
                Ok((status, body)) if status.is_success() => {
                    let token: TokenResponse =
                        serde_json::from_slice(&body).map_err(|e| ProviderError::UnexpectedResponse {
                            provider: PROVIDER,
                            message: format!("token response: {e}"),
                        })?;
                    if token
                        .token_type
                        .as_deref()
                        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
                    {
                        return Err(ProviderError::UnexpectedResponse {
                            provider: PROVIDER,
                            message: format!("token type {:?} is not Bearer", token.token_type),
                        });
                    }
                    let lifetime = Duration::from_secs(token.expires_in);
                    let usable = lifetime
                        .saturating_sub(self.config.token_refresh_margin)
                        .max(lifetime / 2);
                    tracing::debug!(expires_in = token.expires_in, "paypal: new access token");
                    return Ok(CachedToken {
                        value: token.access_token,
                        refresh_at: started + usable,
                    });
                }
                Ok((status, body)) if RetryPolicy::retryable_status(status.as_u16()) => {
                    format!("token: HTTP {status}: {}", PayPalError::parse(&body).describe())
                }
                Ok((status, body)) => {
                    return Err(PayPalError::parse(&body).into_provider_error(status.as_u16()));
                }
                Err(e) => format!("token: {e}"),
            };
            if !policy.may_retry(attempt) {
                return Err(ProviderError::Unavailable {
                    provider: PROVIDER,
                    message: format!("{retry_reason} (after {attempt} attempts)"),
                });
            }
            tracing::warn!(attempt, reason = %retry_reason, "paypal: retrying token request");
            attempt += 1;
        }
    }

    /// Sends `call` with a Bearer token: retries transport errors, timeouts, 5xx and 429 up to
    /// the policy's attempts with the same `PayPal-Request-Id`; on a 401 refreshes the token once
    /// and repeats. Returns the 2xx body.
    pub async fn execute(&self, call: &Call) -> Result<Vec<u8>, CallError> {
        let url = format!("{}{}", self.config.api_base, call.path);
        let policy = self.retry();
        let mut token = self.token().await.map_err(CallError::Token)?;
        let mut refreshed = false;
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(call.method.clone(), &url)
                .bearer_auth(&token)
                .header("Accept", "application/json")
                .timeout(policy.timeout);
            if let Some(id) = &call.request_id {
                req = req.header("PayPal-Request-Id", id);
            }
            if let Some(body) = &call.body {
                req = req
                    .header("Content-Type", "application/json")
                    .header("Prefer", "return=representation")
                    .body(body.clone());
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.bytes().await {
                        Ok(body) => Ok((status, body)),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(if e.is_timeout() {
                    format!("timed out after {:?}", policy.timeout)
                } else {
                    e.to_string()
                }),
            };
            let reason = match outcome {
                Ok((status, body)) if status.is_success() => return Ok(body.to_vec()),
                Ok((StatusCode::UNAUTHORIZED, body)) => {
                    if refreshed {
                        return Err(CallError::Api {
                            status: 401,
                            error: PayPalError::parse(&body),
                        });
                    }
                    refreshed = true;
                    tracing::info!(path = %call.path, "paypal: 401, refreshing the access token once");
                    token = self.refresh_after_401(&token).await.map_err(CallError::Token)?;
                    // The refresh repeats the request without using up a retry attempt.
                    continue;
                }
                Ok((status, body)) if RetryPolicy::retryable_status(status.as_u16()) => {
                    format!("HTTP {status}: {}", PayPalError::parse(&body).describe())
                }
                Ok((status, body)) => {
                    return Err(CallError::Api {
                        status: status.as_u16(),
                        error: PayPalError::parse(&body),
                    })
                }
                Err(e) => e,
            };
            if !policy.may_retry(attempt) {
                return Err(CallError::Unavailable(format!(
                    "{} {}: {reason} (after {attempt} attempts)",
                    call.method, call.path
                )));
            }
            tracing::warn!(attempt, path = %call.path, %reason, "paypal: retrying with the same PayPal-Request-Id");
            attempt += 1;
            tokio::time::sleep(policy.backoff(attempt)).await;
            // A token may expire while we back off.
            token = self.token().await.map_err(CallError::Token)?;
        }
    }

    /// [`PayPalClient::execute`] and parse the JSON answer.
    pub async fn json<T: serde::de::DeserializeOwned>(&self, call: &Call) -> Result<T, ProviderError> {
        let body = self.execute(call).await?;
        serde_json::from_slice(&body).map_err(|e| ProviderError::UnexpectedResponse {
            provider: PROVIDER,
            message: format!("{} {}: {e}", call.method, call.path),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_deterministic_and_bounded() {
        assert_eq!(request_id("pay:abc:capture:0"), "pay:abc:capture:0");
        let long = "x".repeat(200);
        assert_eq!(request_id(&long), request_id(&long));
        assert!(request_id(&long).len() <= MAX_REQUEST_ID);
        assert_ne!(request_id(&long), request_id(&"y".repeat(200)));
    }
}
