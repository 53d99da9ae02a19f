//! Authentication of outbound calls, and the OAuth client-credentials token cache.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Client, Idempotency, Request};
use crate::provider::ProviderError;

/// How every request of a [`Client`] is authenticated. `Debug` never shows a secret.
#[derive(Clone)]
pub enum Auth {
    None,
    /// HTTP Basic (Omise: the secret key and an empty password).
    Basic {
        username: String,
        password: String,
    },
    /// `Authorization: Bearer <token>` (Stripe's secret key).
    Bearer(String),
    /// OAuth2 client credentials: `POST {base}{token_path}` with Basic `client_id:client_secret`
    /// and `grant_type=client_credentials`; the bearer token is cached, shared by every clone of
    /// the client, fetched by one request at a time, and replaced `refresh_margin` before it
    /// expires (at most half its lifetime early) or after a 401.
    OAuthClientCredentials {
        token_path: String,
        client_id: String,
        client_secret: String,
        refresh_margin: Duration,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { .. } => f.write_str("Basic(***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::OAuthClientCredentials { token_path, .. } => {
                write!(f, "OAuthClientCredentials({token_path}, ***)")
            }
        }
    }
}

#[derive(Clone)]
struct Token {
    value: String,
    refresh_at: Instant,
}

/// The cached OAuth token of one client (and its clones).
#[derive(Default)]
pub(crate) struct TokenCache(Mutex<Option<Token>>);

impl TokenCache {
    /// Forgets `rejected` (unless another request already replaced it).
    pub(crate) async fn invalidate(&self, rejected: Option<&str>) {
        let mut cached = self.0.lock().await;
        if cached.as_ref().map(|t| t.value.as_str()) == rejected {
            *cached = None;
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    /// Seconds.
    expires_in: u64,
}

impl Client {
    /// The current OAuth access token: the cached one, or a new one. Concurrent callers wait on
    /// the same lock, so only one token request is in flight.
    pub(crate) fn token(&self) -> Pin<Box<dyn Future<Output = Result<String, ProviderError>> + Send + '_>> {
        Box::pin(async move {
            let Auth::OAuthClientCredentials {
                token_path,
                client_id,
                client_secret,
                refresh_margin,
            } = &self.auth
            else {
                return Err(ProviderError::Config("no OAuth credentials configured".into()));
            };
            let mut cached = self.tokens.0.lock().await;
            if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
                return Ok(t.value.clone());
            }
            let started = Instant::now();
            let basic = Client {
                auth: Auth::Basic {
                    username: client_id.clone(),
                    password: client_secret.clone(),
                },
                ..self.clone()
            };
            let request = Request::post(token_path.clone())
                .form(vec![("grant_type".into(), "client_credentials".into())])
                .idempotency(Idempotency::Safe);
            let token: TokenResponse = basic.json(&request).await?;
            if token
                .token_type
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
            {
                return Err(ProviderError::UnexpectedResponse {
                    provider: self.provider,
                    message: format!("token type {:?} is not Bearer", token.token_type),
                });
            }
            let lifetime = Duration::from_secs(token.expires_in);
            let usable = lifetime.saturating_sub(*refresh_margin).max(lifetime / 2);
            tracing::debug!(
                provider = self.provider,
                expires_in = token.expires_in,
                "new access token"
            );
            *cached = Some(Token {
                value: token.access_token.clone(),
                refresh_at: started + usable,
            });
            Ok(token.access_token)
        })
    }
}
