//! PayPal on the core HTTP kit: OAuth2 client credentials (`POST /v1/oauth2/token`, a cached
//! token shared by every clone, refreshed before expiry and once after a 401), the same
//! `PayPal-Request-Id` on every retry, and PayPal's error JSON as [`ProviderError::Api`].

use payments_core::http::{ApiErrors, Auth, Client};
use payments_core::ProviderError;
use sha2::Digest as _;

use crate::config::PayPalConfig;
use crate::transformers::PayPalError;
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

/// PayPal's error JSON (REST `name`/`message`/`details`, or OAuth `error`).
#[derive(Debug, Clone, Copy)]
pub struct PayPalErrors;

impl ApiErrors for PayPalErrors {
    fn api_error(&self, status: u16, body: &[u8]) -> ProviderError {
        PayPalError::parse(body).into_provider_error(status)
    }
}

/// The client for `config`.
pub fn client(config: &PayPalConfig) -> Result<Client, ProviderError> {
    let auth = Auth::OAuthClientCredentials {
        token_path: "/v1/oauth2/token".into(),
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.expose().to_string(),
        refresh_margin: config.token_refresh_margin,
    };
    Client::new(PROVIDER, &config.api_base, auth, config.retry, PayPalErrors)
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
