//! Configuration from the environment (`PAYPAL_*`).

use std::time::Duration;

use payments_core::config::{base_url, invalid, Vars};
use payments_core::{ProviderError, RetryPolicy};

/// PayPal's sandbox REST host, the default for `PAYPAL_API_BASE`.
pub const SANDBOX_API_BASE: &str = "https://api-m.sandbox.paypal.com";
/// PayPal's live REST host.
pub const LIVE_API_BASE: &str = "https://api-m.paypal.com";

/// The variables [`PayPalConfig::from_lookup`] reads: (name, one-line description).
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "PAYPAL_API_BASE",
        "PayPal REST host (default https://api-m.sandbox.paypal.com; live: https://api-m.paypal.com)",
    ),
    (
        "PAYPAL_CLIENT_ID",
        "client id of the PayPal REST app (Developer Dashboard > Apps & Credentials)",
    ),
    ("PAYPAL_CLIENT_SECRET", "secret of that REST app (never logged)"),
    (
        "PAYPAL_WEBHOOK_ID",
        "id of the webhook registered for <SITE_BASE_URL>/payments/webhook/paypal (used to verify events)",
    ),
];

/// A secret string that never shows up in `Debug` output (the core's).
pub use payments_core::config::Secret;

/// Everything the adapter needs.
#[derive(Debug, Clone)]
pub struct PayPalConfig {
    /// Base URL without trailing slash (`https://api-m.sandbox.paypal.com`).
    pub api_base: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The id PayPal gave the webhook registration; part of every signed webhook message.
    pub webhook_id: String,
    /// Attempts, backoff and per-attempt timeout of every outbound call.
    pub retry: RetryPolicy,
    /// A cached access token is replaced this long before PayPal says it expires (at most half
    /// of its lifetime).
    pub token_refresh_margin: Duration,
}

impl PayPalConfig {
    /// A config with the default retry policy; validates like [`PayPalConfig::from_lookup`].
    pub fn new(base: &str, id: &str, secret: &str, webhook: &str) -> Result<Self, ProviderError> {
        let vars = [
            ("API_BASE", base),
            ("CLIENT_ID", id),
            ("CLIENT_SECRET", secret),
            ("WEBHOOK_ID", webhook),
        ];
        Self::from_lookup(&|k| {
            vars.iter()
                .find(|(n, _)| k.strip_prefix("PAYPAL_") == Some(n))
                .map(|v| v.1.into())
        })
    }

    /// Reads the `PAYPAL_*` variables through `lookup` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let vars = Vars(lookup);
        let (sandbox, live) = (SANDBOX_API_BASE, LIVE_API_BASE);
        let base = vars.get("PAYPAL_API_BASE").unwrap_or_else(|| sandbox.into());
        let api_base = base_url("PAYPAL_API_BASE", &base, false, &format!("{sandbox} or {live}"))?;
        let client_id = vars.require("PAYPAL_CLIENT_ID", "the client id of your PayPal REST app")?;
        let secret = vars.require("PAYPAL_CLIENT_SECRET", "the secret of your PayPal REST app")?;
        let webhook_id = vars.require("PAYPAL_WEBHOOK_ID", "the id PayPal shows for your webhook")?;
        if webhook_id.len() > 50 || !webhook_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            let expected = "PayPal's webhook id, up to 50 letters and digits such as 4JH86294D6297924G";
            return Err(invalid("PAYPAL_WEBHOOK_ID", expected, &format!("{webhook_id:?}")));
        }
        let (retry, token_refresh_margin) = (RetryPolicy::default(), Duration::from_secs(60));
        let client_secret = Secret::new(secret);
        Ok(PayPalConfig {
            api_base,
            client_id,
            client_secret,
            webhook_id,
            retry,
            token_refresh_margin,
        })
    }
}
