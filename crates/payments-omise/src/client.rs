//! The HTTP client: Basic auth with the secret key, the pinned `Omise-Version`, per-attempt
//! timeouts, bounded retries of idempotent calls, and Omise's error JSON as a typed error.
//!
//! Retries. `GET` is retried on timeouts, connection failures, 5xx and 429, with backoff, up to
//! [`RetryPolicy::max_attempts`]. Omise's official documentation describes no idempotency key
//! for `POST`, so a `POST` is retried only when the connection could not be established (the
//! request never left this machine); once it may have reached Omise it is never sent again,
//! because a second `POST /charges` would create a second charge.

use payments_core::{ProviderError, RetryPolicy};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::config::{OmiseConfig, API_VERSION};
use crate::transformers::OmiseError;
use crate::PROVIDER;

/// Whether a call may be repeated after it may have reached Omise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    Safe,
    OnlyIfUnsent,
}

/// A thin Omise API client.
#[derive(Clone)]
pub struct OmiseClient {
    http: reqwest::Client,
    base: String,
    secret_key: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for OmiseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmiseClient")
            .field("base", &self.base)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// The body of an Omise error (`{"object": "error", "code", "message", "location"}`) turned
/// into [`ProviderError`]: 4xx → `Api`, 5xx → `Unavailable` (it could not be served right now).
pub fn error_from_response(status: u16, body: &[u8]) -> ProviderError {
    let parsed: Option<OmiseError> = serde_json::from_slice(body)
        .ok()
        .filter(|e: &OmiseError| e.object.as_deref() == Some("error"));
    let (code, message) = match parsed {
        Some(e) => (e.code, e.message.unwrap_or_else(|| "no message".into())),
        None => (None, snippet(body)),
    };
    if status >= 500 {
        return ProviderError::Unavailable {
            provider: PROVIDER,
            message: format!(
                "HTTP {status}{}: {message}",
                code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
            ),
        };
    }
    ProviderError::Api {
        provider: PROVIDER,
        status,
        code,
        message,
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "empty response body".into();
    }
    trimmed.chars().take(200).collect()
}

impl OmiseClient {
    pub fn new(config: &OmiseConfig) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.retry.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("payments-omise/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(OmiseClient {
            http,
            base: config.api_base.clone(),
            secret_key: config.secret_key.clone(),
            retry: config.retry,
        })
    }

    /// `GET {base}{path}`, retried.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ProviderError> {
        self.call(Method::GET, path, None, Replay::Safe).await
    }

    /// `POST {base}{path}` with a form body; never repeated once it may have reached Omise.
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(String, String)],
    ) -> Result<T, ProviderError> {
        self.call(Method::POST, path, Some(form), Replay::OnlyIfUnsent)
            .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(String, String)]>,
        replay: Replay,
    ) -> Result<T, ProviderError> {
        let url = format!("{}{}", self.base, path);
        let mut attempt: u32 = 1;
        loop {
            let delay = self.retry.backoff(attempt);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut request = self
                .http
                .request(method.clone(), &url)
                .basic_auth(&self.secret_key, Some(""))
                .header("Omise-Version", API_VERSION)
                .header(reqwest::header::ACCEPT, "application/json")
                .timeout(self.retry.timeout);
            if let Some(form) = form {
                request = request.form(form);
            }
            let may_retry = self.retry.may_retry(attempt);
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(body) => {
                            if status.is_success() {
                                return serde_json::from_slice(&body).map_err(|e| {
                                    ProviderError::UnexpectedResponse {
                                        provider: PROVIDER,
                                        message: format!("{method} {path}: {e}"),
                                    }
                                });
                            }
                            let retryable = RetryPolicy::retryable_status(status.as_u16())
                                && replay == Replay::Safe
                                && may_retry;
                            if retryable {
                                tracing::warn!(%method, path, status = status.as_u16(), attempt, "Omise call failed; retrying");
                                attempt += 1;
                                continue;
                            }
                            return Err(error_from_response(status.as_u16(), &body));
                        }
                        Err(e) => {
                            // The request reached Omise; only a replay-safe call is repeated.
                            if replay == Replay::Safe && may_retry {
                                tracing::warn!(%method, path, attempt, error = %e, "reading Omise's answer failed; retrying");
                                attempt += 1;
                                continue;
                            }
                            return Err(unavailable(&method, path, status, &e, attempt, replay));
                        }
                    }
                }
                Err(e) => {
                    let unsent = e.is_connect();
                    if may_retry && (replay == Replay::Safe || unsent) {
                        tracing::warn!(%method, path, attempt, error = %e, "Omise unreachable; retrying");
                        attempt += 1;
                        continue;
                    }
                    let message = if replay == Replay::OnlyIfUnsent && !unsent {
                        format!(
                            "{method} {path} failed after it may have reached Omise ({}); not repeated, \
                             because Omise documents no idempotency key: check the charge before trying again",
                            describe(&e)
                        )
                    } else {
                        format!("{method} {path}: {} (after {attempt} attempt(s))", describe(&e))
                    };
                    return Err(ProviderError::Unavailable {
                        provider: PROVIDER,
                        message,
                    });
                }
            }
        }
    }
}

fn unavailable(
    method: &Method,
    path: &str,
    status: StatusCode,
    e: &reqwest::Error,
    attempt: u32,
    replay: Replay,
) -> ProviderError {
    let note = if replay == Replay::OnlyIfUnsent {
        "; not repeated, check the charge before trying again"
    } else {
        ""
    };
    ProviderError::Unavailable {
        provider: PROVIDER,
        message: format!(
            "{method} {path}: HTTP {} but the body could not be read: {} (after {attempt} attempt(s)){note}",
            status.as_u16(),
            describe(e)
        ),
    }
}

/// A reqwest error without the URL (which is ours anyway) and with its kind.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
