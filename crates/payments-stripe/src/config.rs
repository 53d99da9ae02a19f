//! Configuration: the Stripe keys, the API base URL and the webhook tolerance, read from the
//! environment (or any lookup function) with defaults and clear errors.

use std::fmt;

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

/// Whether a key belongs to Stripe's test or live mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    Test,
    Live,
}

impl KeyMode {
    /// The `livemode` value Stripe puts in this mode's objects and events.
    pub fn livemode(self) -> bool {
        self == KeyMode::Live
    }
}

/// Everything the adapter needs. The secrets are private and never printed.
#[derive(Clone)]
pub struct StripeConfig {
    /// Without a trailing slash.
    api_base: url::Url,
    secret_key: String,
    mode: KeyMode,
    webhook_secrets: Vec<String>,
    /// Seconds; checked in both directions.
    pub webhook_tolerance_secs: i64,
    /// Attempts, backoff and per-attempt timeout of outbound calls.
    pub retry: RetryPolicy,
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_base", &self.api_base.as_str())
            .field("secret_key", &redact(&self.secret_key))
            .field("mode", &self.mode)
            .field(
                "webhook_secrets",
                &format_args!("[{} redacted]", self.webhook_secrets.len()),
            )
            .field("webhook_tolerance_secs", &self.webhook_tolerance_secs)
            .field("retry", &self.retry)
            .finish()
    }
}

/// `sk_test_****`: a known prefix only, never any secret character.
fn redact(key: &str) -> String {
    const PREFIXES: &[&str] = &[
        "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_", "whsec_",
    ];
    let prefix = PREFIXES
        .iter()
        .find(|p| key.starts_with(*p))
        .copied()
        .unwrap_or("");
    format!("{prefix}****")
}

fn config_error(var: &str, expected: &str, found: Option<&str>) -> ProviderError {
    match found {
        None => ProviderError::Config(format!("{var} is not set: expected {expected}")),
        Some(v) => ProviderError::Config(format!("{var} is invalid ({v}): expected {expected}")),
    }
}

/// The mode of a secret key, or `None` when it is not a Stripe secret key.
pub fn key_mode(key: &str) -> Option<KeyMode> {
    let rest = key.strip_prefix("sk_").or_else(|| key.strip_prefix("rk_"))?;
    if rest.strip_prefix("test_").is_some_and(|r| !r.is_empty()) {
        Some(KeyMode::Test)
    } else if rest.strip_prefix("live_").is_some_and(|r| !r.is_empty()) {
        Some(KeyMode::Live)
    } else {
        None
    }
}

impl StripeConfig {
    /// A configuration with the default base URL, tolerance and retry policy.
    pub fn new(secret_key: &str, webhook_secrets: &str) -> Result<Self, ProviderError> {
        let secret_key = secret_key.trim();
        let mode = key_mode(secret_key).ok_or_else(|| {
            config_error(
                "STRIPE_SECRET_KEY",
                "a Stripe secret key starting with sk_test_ or sk_live_ (or rk_test_/rk_live_)",
                Some(&redact(secret_key)),
            )
        })?;
        let secrets = split_secrets(webhook_secrets);
        if secrets.is_empty() {
            return Err(config_error(
                "STRIPE_WEBHOOK_SECRET",
                "the endpoint's signing secret (whsec_...), several separated by commas during a rotation",
                None,
            ));
        }
        if let Some(bad) = secrets
            .iter()
            .find(|s| s.starts_with("sk_") || s.starts_with("rk_") || s.starts_with("pk_"))
        {
            return Err(config_error(
                "STRIPE_WEBHOOK_SECRET",
                "the endpoint's signing secret (whsec_...), not an API key",
                Some(&redact(bad)),
            ));
        }
        Ok(StripeConfig {
            api_base: parse_base(DEFAULT_API_BASE)?,
            secret_key: secret_key.to_string(),
            mode,
            webhook_secrets: secrets,
            webhook_tolerance_secs: DEFAULT_WEBHOOK_TOLERANCE_SECS,
            retry: RetryPolicy::default(),
        })
    }

    /// Reads [`ENV_VARS`] through `lookup` (e.g. `&|k| std::env::var(k).ok()`); blank values count
    /// as unset.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let secret_key = get("STRIPE_SECRET_KEY").ok_or_else(|| {
            config_error(
                "STRIPE_SECRET_KEY",
                "the Stripe secret API key (sk_test_... or sk_live_...)",
                None,
            )
        })?;
        let webhook = get("STRIPE_WEBHOOK_SECRET").unwrap_or_default();
        let mut config = StripeConfig::new(&secret_key, &webhook)?;
        if let Some(base) = get("STRIPE_API_BASE") {
            config = config.with_api_base(&base)?;
        }
        if let Some(t) = get("STRIPE_WEBHOOK_TOLERANCE_SECS") {
            let expected = "a whole number of seconds between 1 and 86400 (default 300)";
            let secs: i64 = t
                .trim()
                .parse()
                .map_err(|_| config_error("STRIPE_WEBHOOK_TOLERANCE_SECS", expected, Some(&t)))?;
            if !(1..=86_400).contains(&secs) {
                return Err(config_error("STRIPE_WEBHOOK_TOLERANCE_SECS", expected, Some(&t)));
            }
            config.webhook_tolerance_secs = secs;
        }
        Ok(config)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ProviderError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Points the adapter at another API base (a local mock in tests).
    pub fn with_api_base(mut self, base: &str) -> Result<Self, ProviderError> {
        self.api_base = parse_base(base)?;
        Ok(self)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_webhook_tolerance(mut self, secs: i64) -> Self {
        self.webhook_tolerance_secs = secs;
        self
    }

    pub fn api_base(&self) -> &url::Url {
        &self.api_base
    }

    /// The secret API key (for the `Authorization` header only; never log it).
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    pub fn mode(&self) -> KeyMode {
        self.mode
    }

    /// The webhook signing secrets, newest first as configured (never log them).
    pub fn webhook_secrets(&self) -> &[String] {
        &self.webhook_secrets
    }
}

fn parse_base(base: &str) -> Result<url::Url, ProviderError> {
    let expected = "an absolute http(s) URL such as https://api.stripe.com";
    let url = url::Url::parse(base.trim())
        .map_err(|e| config_error("STRIPE_API_BASE", expected, Some(&format!("{base:?}: {e}"))))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(config_error(
            "STRIPE_API_BASE",
            expected,
            Some(&format!("{base:?}")),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_variables_with_defaults() {
        let c = StripeConfig::from_lookup(&lookup(&[
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old"),
        ]))
        .unwrap();
        assert_eq!(c.api_base().as_str(), "https://api.stripe.com/");
        assert_eq!(c.webhook_tolerance_secs, 300);
        assert_eq!(c.webhook_secrets(), ["whsec_new", "whsec_old"]);
        assert_eq!(c.mode(), KeyMode::Test);

        let c = StripeConfig::from_lookup(&lookup(&[
            ("STRIPE_SECRET_KEY", "sk_live_abc"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
            ("STRIPE_API_BASE", "http://127.0.0.1:9999"),
            ("STRIPE_WEBHOOK_TOLERANCE_SECS", "60"),
        ]))
        .unwrap();
        assert_eq!(c.mode(), KeyMode::Live);
        assert_eq!(c.webhook_tolerance_secs, 60);
        assert_eq!(c.api_base().as_str(), "http://127.0.0.1:9999/");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("STRIPE_WEBHOOK_SECRET", "whsec_x")],
                "STRIPE_SECRET_KEY is not set",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "pk_test_x"),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
                ],
                "STRIPE_SECRET_KEY is invalid",
            ),
            (
                &[("STRIPE_SECRET_KEY", "sk_test_x")],
                "STRIPE_WEBHOOK_SECRET is not set",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_x"),
                    ("STRIPE_WEBHOOK_SECRET", " , "),
                ],
                "STRIPE_WEBHOOK_SECRET is not set",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_x"),
                    ("STRIPE_WEBHOOK_SECRET", "sk_test_x"),
                ],
                "STRIPE_WEBHOOK_SECRET is invalid",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_x"),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
                    ("STRIPE_API_BASE", "api.stripe.com"),
                ],
                "STRIPE_API_BASE is invalid",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_x"),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
                    ("STRIPE_WEBHOOK_TOLERANCE_SECS", "5m"),
                ],
                "STRIPE_WEBHOOK_TOLERANCE_SECS is invalid",
            ),
            (
                &[
                    ("STRIPE_SECRET_KEY", "sk_test_x"),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
                    ("STRIPE_WEBHOOK_TOLERANCE_SECS", "0"),
                ],
                "STRIPE_WEBHOOK_TOLERANCE_SECS is invalid",
            ),
        ];
        for (vars, want) in cases {
            let err = StripeConfig::from_lookup(&lookup(vars)).unwrap_err();
            assert!(matches!(err, ProviderError::Config(_)), "{err:?}");
            assert!(err.to_string().contains(want), "{vars:?}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = StripeConfig::new("sk_test_SUPERSECRET", "whsec_HIDDEN1,whsec_HIDDEN2").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("SUPERSECRET"), "{shown}");
        assert!(!shown.contains("HIDDEN"), "{shown}");
        assert!(shown.contains("sk_test_****"), "{shown}");
        let err = StripeConfig::new("sk_bogus_SUPERSECRET", "whsec_x").unwrap_err();
        assert!(!err.to_string().contains("SUPERSECRET"), "{err}");
    }
}
