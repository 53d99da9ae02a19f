//! The HTTP client: authentication, the pinned API version, per-attempt timeouts and bounded
//! retries that re-send the same `Idempotency-Key`, and Stripe's error JSON as a typed error.

use std::time::Duration;

use payments_core::{ProviderError, RetryPolicy};
use serde::de::DeserializeOwned;

use crate::config::StripeConfig;
use crate::transformers::{ErrorBody, Form};
use crate::{NAME, STRIPE_VERSION};

/// Stripe keeps idempotency keys of at most 255 characters.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// A thin client for Stripe's form-encoded API.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: url::Url,
    secret_key: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// One attempt's failure, before deciding whether to retry.
enum Failure {
    /// Timeout, connection failure, 5xx, 429: worth another attempt with the same key.
    Retryable(String, Option<ProviderError>),
    /// Final (4xx, a response we cannot read).
    Final(ProviderError),
}

impl StripeClient {
    pub fn new(config: &StripeConfig) -> Result<Self, ProviderError> {
        let connect = config.retry.timeout.min(Duration::from_secs(10));
        let http = reqwest::Client::builder()
            .connect_timeout(connect)
            .user_agent(concat!("payments-stripe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(StripeClient {
            http,
            base: config.api_base().clone(),
            secret_key: config.secret_key().to_string(),
            retry: config.retry,
        })
    }

    /// `{base}/{segments...}` with every segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<url::Url, ProviderError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ProviderError::Config("STRIPE_API_BASE cannot be a base URL".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// `POST` a form with an idempotency key (re-sent unchanged on every retry).
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        form: &Form,
        idempotency_key: &str,
    ) -> Result<T, ProviderError> {
        if idempotency_key.trim().is_empty() || idempotency_key.len() > MAX_IDEMPOTENCY_KEY_LEN {
            return Err(ProviderError::Config(format!(
                "a Stripe Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters, got {}",
                idempotency_key.len()
            )));
        }
        let url = self.url(segments)?;
        let body = form.encode();
        self.send(reqwest::Method::POST, url, Some((body, idempotency_key)))
            .await
    }

    /// `GET` (safe to retry; no idempotency key needed).
    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ProviderError> {
        let url = self.url(segments)?;
        self.send(reqwest::Method::GET, url, None).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: url::Url,
        body: Option<(String, &str)>,
    ) -> Result<T, ProviderError> {
        let mut attempt = 1;
        loop {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .timeout(self.retry.timeout)
                .bearer_auth(&self.secret_key)
                .header("Stripe-Version", STRIPE_VERSION)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some((text, key)) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header("Idempotency-Key", *key)
                    .body(text.clone());
            }
            let failure = match self.attempt::<T>(req).await {
                Ok(value) => return Ok(value),
                Err(f) => f,
            };
            match failure {
                Failure::Final(e) => return Err(e),
                Failure::Retryable(message, last) => {
                    if !self.retry.may_retry(attempt) {
                        tracing::warn!(%method, path = url.path(), attempt, "stripe call failed: {message}");
                        return Err(last.unwrap_or(ProviderError::Unavailable {
                            provider: NAME,
                            message: format!("{message} (after {attempt} attempts)"),
                        }));
                    }
                    attempt += 1;
                    let delay = self.retry.backoff(attempt);
                    tracing::info!(
                        %method,
                        path = url.path(),
                        attempt,
                        ?delay,
                        "retrying stripe call with the same idempotency key: {message}"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, Failure> {
        let response = req.send().await.map_err(|e| transport_failure(&e))?;
        let status = response.status().as_u16();
        let should_retry = response
            .headers()
            .get("Stripe-Should-Retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("true"));
        let request_id = response
            .headers()
            .get("Request-Id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Reading the body is part of the timed attempt.
        let bytes = response.bytes().await.map_err(|e| transport_failure(&e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::Final(ProviderError::UnexpectedResponse {
                    provider: NAME,
                    message: format!("HTTP {status} body is not the expected object: {e}"),
                })
            });
        }
        let api_error = api_error(status, &bytes);
        let retry = should_retry.unwrap_or_else(|| RetryPolicy::retryable_status(status));
        if let Some(id) = &request_id {
            tracing::debug!(status, request_id = %id, "stripe answered with an error");
        }
        if retry {
            let message = match &api_error {
                ProviderError::Api { message, .. } => format!("HTTP {status}: {message}"),
                other => other.to_string(),
            };
            // After the last attempt a 5xx is "unavailable"; a retryable 4xx (429, 409 in use)
            // keeps Stripe's own error.
            let last = if status >= 500 { None } else { Some(api_error) };
            Err(Failure::Retryable(message, last))
        } else {
            Err(Failure::Final(api_error))
        }
    }
}

fn transport_failure(e: &reqwest::Error) -> Failure {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // Never include the URL's credentials (there are none) or the request; the error text is
    // reqwest's description.
    let message = format!("{what}: {e}");
    if e.is_builder() {
        Failure::Final(ProviderError::Config(message))
    } else {
        Failure::Retryable(message, None)
    }
}

/// Stripe's error JSON as [`ProviderError::Api`] with Stripe's code (or error type) and message.
pub fn api_error(status: u16, body: &[u8]) -> ProviderError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => {
            let code = error.code.or(error.decline_code).or(error.error_type);
            let mut message = error
                .message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| format!("HTTP {status} without a message"));
            if let Some(param) = error.param.filter(|p| !p.is_empty()) {
                if !message.contains(&param) {
                    message.push_str(&format!(" (param: {param})"));
                }
            }
            ProviderError::Api {
                provider: NAME,
                status,
                code,
                message,
            }
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let snippet: String = text.chars().take(200).collect();
            ProviderError::Api {
                provider: NAME,
                status,
                code: None,
                message: if snippet.trim().is_empty() {
                    format!("HTTP {status} with an empty body")
                } else {
                    format!("HTTP {status}: {snippet}")
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_becomes_typed_error() {
        let body = br#"{"error":{"type":"invalid_request_error","code":"amount_too_small","message":"Amount must be at least 10.00 thb","param":"line_items[0][price_data][unit_amount]"}}"#;
        match api_error(400, body) {
            ProviderError::Api {
                provider,
                status,
                code,
                message,
            } => {
                assert_eq!(provider, "stripe");
                assert_eq!(status, 400);
                assert_eq!(code.as_deref(), Some("amount_too_small"));
                assert!(
                    message.starts_with("Amount must be at least 10.00 thb"),
                    "{message}"
                );
                assert!(message.contains("unit_amount"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let e = api_error(401, br#"{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****"}}"#);
        assert!(
            matches!(e, ProviderError::Api { status: 401, code: Some(ref c), .. } if c == "invalid_request_error")
        );
        let e = api_error(502, b"<html>bad gateway</html>");
        assert!(matches!(
            e,
            ProviderError::Api {
                status: 502,
                code: None,
                ..
            }
        ));
    }
}
