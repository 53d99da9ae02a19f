//! Configuration: the Stripe keys, the API base URL and the webhook tolerance.

use payments_core::config::{base_url, invalid, missing, Secret, Vars};
use payments_core::signature::split_secrets;
use payments_core::{ProviderError, RetryPolicy};

/// Stripe's production API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// Stripe's default signature tolerance, in seconds.
pub const DEFAULT_WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// The variables [`StripeConfig::from_lookup`] reads: (name, one-line description).
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "STRIPE_SECRET_KEY",
        "Stripe secret API key (sk_test_... or sk_live_...; a restricted rk_ key also works). Required.",
    ),
    (
        "STRIPE_WEBHOOK_SECRET",
        "Signing secret of the webhook endpoint (whsec_...); several comma-separated during a rotation. Required.",
    ),
    (
        "STRIPE_WEBHOOK_TOLERANCE_SECS",
        "Seconds a Stripe-Signature timestamp may be away from now (default 300).",
    ),
    (
        "STRIPE_API_BASE",
        "Base URL of Stripe's API (default https://api.stripe.com; tests point it at a local mock).",
    ),
];

/// Everything the adapter needs. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    api_base: String,
    secret_key: Secret,
    livemode: bool,
    webhook_secrets: Vec<Secret>,
    /// Seconds; checked in both directions.
    pub webhook_tolerance_secs: i64,
    /// Attempts, backoff and per-attempt timeout of outbound calls.
    pub retry: RetryPolicy,
}

/// Whether a secret key is a live one (`sk_live_`, `rk_live_`), or `None` when it is not a
/// Stripe secret key.
fn key_mode(key: &str) -> Option<bool> {
    let rest = key.strip_prefix("sk_").or_else(|| key.strip_prefix("rk_"))?;
    let mode = |p: &str| rest.strip_prefix(p).is_some_and(|r| !r.is_empty());
    [("test_", false), ("live_", true)]
        .into_iter()
        .find_map(|(p, m)| mode(p).then_some(m))
}

impl StripeConfig {
    /// A configuration with the default base URL, tolerance and retry policy.
    pub fn new(secret_key: &str, webhook_secrets: &str) -> Result<Self, ProviderError> {
        const KEY: &str = "a Stripe secret key starting with sk_test_ or sk_live_ (or rk_test_/rk_live_)";
        const WHSEC: &str = "the endpoint's signing secret (whsec_...), several separated by commas";
        let secret_key = Secret::new(secret_key.trim());
        let livemode = key_mode(secret_key.expose());
        let livemode =
            livemode.ok_or_else(|| invalid("STRIPE_SECRET_KEY", KEY, &format!("{secret_key:?}")))?;
        let secrets: Vec<Secret> = split_secrets(webhook_secrets)
            .into_iter()
            .map(Secret::new)
            .collect();
        if secrets.is_empty() {
            return Err(missing("STRIPE_WEBHOOK_SECRET", WHSEC));
        }
        if let Some(bad) = secrets
            .iter()
            .find(|s| key_mode(s.expose()).is_some() || s.expose().starts_with("pk_"))
        {
            return Err(invalid(
                "STRIPE_WEBHOOK_SECRET",
                "a signing secret, not an API key",
                &format!("{bad:?}"),
            ));
        }
        Ok(StripeConfig {
            api_base: DEFAULT_API_BASE.to_string(),
            secret_key,
            livemode,
            webhook_secrets: secrets,
            webhook_tolerance_secs: DEFAULT_WEBHOOK_TOLERANCE_SECS,
            retry: RetryPolicy::default(),
        })
    }

    /// Reads [`ENV_VARS`] through `lookup` (e.g. `&|k| std::env::var(k).ok()`); blank values count
    /// as unset.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let vars = Vars(lookup);
        let key = vars.require(
            "STRIPE_SECRET_KEY",
            "the Stripe secret API key (sk_test_... or sk_live_...)",
        )?;
        let mut config = StripeConfig::new(&key, &vars.get("STRIPE_WEBHOOK_SECRET").unwrap_or_default())?;
        if let Some(base) = vars.get("STRIPE_API_BASE") {
            config = config.with_api_base(&base)?;
        }
        config.webhook_tolerance_secs = vars.seconds("STRIPE_WEBHOOK_TOLERANCE_SECS", 300, 1..=86_400)?;
        Ok(config)
    }

    /// Points the adapter at another API base (a local mock in tests).
    pub fn with_api_base(mut self, base: &str) -> Result<Self, ProviderError> {
        self.api_base = base_url("STRIPE_API_BASE", base, false, DEFAULT_API_BASE)?;
        Ok(self)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Without a trailing slash.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The secret API key (for the `Authorization` header only; never log it).
    pub fn secret_key(&self) -> &str {
        self.secret_key.expose()
    }

    /// Whether the key is a live-mode key (events must then say `livemode: true`).
    pub fn livemode(&self) -> bool {
        self.livemode
    }

    /// The webhook signing secrets, newest first as configured (never log them).
    pub fn webhook_secrets(&self) -> Vec<String> {
        self.webhook_secrets
            .iter()
            .map(|s| s.expose().to_string())
            .collect()
    }
}
