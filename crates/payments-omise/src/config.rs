//! Configuration from the environment (`OMISE_*`), with defaults and clear errors.

use std::time::Duration;

use base64::Engine as _;
use payments_core::{ProviderError, RetryPolicy};

/// The API host used when `OMISE_API_BASE` is not set.
pub const DEFAULT_API_BASE: &str = "https://api.omise.co";
/// The pinned API version, sent as `Omise-Version` on every call.
pub const API_VERSION: &str = "2019-05-29";
/// The payment source used when `OMISE_SOURCE_TYPE` is not set: TrueMoney's hosted checkout
/// (QR code on a desktop browser, the TrueMoney app on a phone). See `docs/providers/omise.md`.
pub const DEFAULT_SOURCE_TYPE: &str = "truemoney_jumpapp";
/// Default webhook signature tolerance in seconds.
pub const DEFAULT_WEBHOOK_TOLERANCE_SECS: i64 = 300;
/// The largest tolerance accepted (a day: Omise's rotation window).
pub const MAX_WEBHOOK_TOLERANCE_SECS: i64 = 86_400;

/// Source types whose flow is `offline` (the payer scans a code or pays at a counter): they give
/// no `authorize_uri` to send the browser to, so they cannot back a hosted checkout.
pub const OFFLINE_SOURCE_TYPES: &[&str] = &[
    "promptpay",
    "paynow",
    "bill_payment_tesco_lotus",
    "econtext",
    "barcode_alipay",
    "barcode_wechat",
];

/// The environment variables this adapter reads: (name, one-line description).
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "OMISE_SECRET_KEY",
        "Omise secret key (skey_test_... or skey_...); required. Sent as HTTP Basic user with an empty password.",
    ),
    (
        "OMISE_API_BASE",
        "Omise API base URL; default https://api.omise.co (https required except for a loopback mock).",
    ),
    (
        "OMISE_SOURCE_TYPE",
        "Redirect payment source for the hosted flow (source[type]); default truemoney_jumpapp. Must be enabled on the Omise account.",
    ),
    (
        "OMISE_WEBHOOK_SECRET",
        "Optional webhook signing secret from the dashboard (base64); several comma-separated during a rotation. Events are re-fetched from the API either way.",
    ),
    (
        "OMISE_WEBHOOK_TOLERANCE_SECS",
        "Maximum age in seconds of Omise-Signature-Timestamp, in both directions; default 300.",
    ),
];

/// Everything the adapter needs. Build it with [`OmiseConfig::from_lookup`] (or
/// [`OmiseConfig::from_env`]); the fields are public so tests can adjust them.
#[derive(Clone)]
pub struct OmiseConfig {
    /// `skey_...`; never printed.
    pub secret_key: String,
    /// Without a trailing slash.
    pub api_base: String,
    pub source_type: String,
    /// Base64 secrets as configured (first one is the newest); empty when no secret is set.
    pub webhook_secrets: Vec<String>,
    pub webhook_tolerance_secs: i64,
    /// Bounded retries of idempotent calls, and the per-attempt timeout.
    pub retry: RetryPolicy,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for OmiseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = if self.secret_key.starts_with("skey_test_") {
            "test"
        } else {
            "live"
        };
        f.debug_struct("OmiseConfig")
            .field("secret_key", &format_args!("<redacted {mode} key>"))
            .field("api_base", &self.api_base)
            .field("source_type", &self.source_type)
            .field(
                "webhook_secrets",
                &format_args!("<{} redacted>", self.webhook_secrets.len()),
            )
            .field("webhook_tolerance_secs", &self.webhook_tolerance_secs)
            .field("retry", &self.retry)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

fn config_err(var: &str, expected: &str) -> ProviderError {
    ProviderError::Config(format!("{var}: {expected}"))
}

impl OmiseConfig {
    /// A configuration with defaults for everything but the secret key (not yet validated).
    pub fn new(secret_key: impl Into<String>) -> Self {
        OmiseConfig {
            secret_key: secret_key.into(),
            api_base: DEFAULT_API_BASE.to_string(),
            source_type: DEFAULT_SOURCE_TYPE.to_string(),
            webhook_secrets: Vec::new(),
            webhook_tolerance_secs: DEFAULT_WEBHOOK_TOLERANCE_SECS,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// Reads the variables in [`ENV_VARS`] through `lookup` (blank values count as unset).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let secret_key = get("OMISE_SECRET_KEY").ok_or_else(|| {
            config_err(
                "OMISE_SECRET_KEY",
                "is required: the Omise secret key (skey_test_... or skey_...) from the dashboard's Keys page",
            )
        })?;
        let mut config = OmiseConfig::new(secret_key);
        if let Some(base) = get("OMISE_API_BASE") {
            config.api_base = base;
        }
        if let Some(source) = get("OMISE_SOURCE_TYPE") {
            config.source_type = source;
        }
        if let Some(secrets) = get("OMISE_WEBHOOK_SECRET") {
            config.webhook_secrets = payments_core::signature::split_secrets(&secrets);
        }
        if let Some(tolerance) = get("OMISE_WEBHOOK_TOLERANCE_SECS") {
            config.webhook_tolerance_secs = tolerance.parse::<i64>().map_err(|_| {
                config_err(
                    "OMISE_WEBHOOK_TOLERANCE_SECS",
                    &format!("expected a whole number of seconds, got {tolerance:?}"),
                )
            })?;
        }
        config.validate()?;
        Ok(config)
    }

    /// [`OmiseConfig::from_lookup`] over the process environment.
    pub fn from_env() -> Result<Self, ProviderError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Checks every field; normalizes `api_base` (no trailing slash).
    pub fn validate(&mut self) -> Result<(), ProviderError> {
        let key = self.secret_key.trim();
        if !key.starts_with("skey_") || key.len() < 10 || key.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(config_err(
                "OMISE_SECRET_KEY",
                "expected an Omise secret key starting with skey_ (the public pkey_ key cannot create charges)",
            ));
        }
        self.secret_key = key.to_string();

        let base = self.api_base.trim().trim_end_matches('/').to_string();
        let url = url::Url::parse(&base).map_err(|e| {
            config_err(
                "OMISE_API_BASE",
                &format!("expected an absolute URL such as {DEFAULT_API_BASE}, got {base:?} ({e})"),
            )
        })?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        if !scheme_ok || url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
            return Err(config_err(
                "OMISE_API_BASE",
                &format!(
                    "expected an https URL without query (http only for 127.0.0.1/localhost), got {base:?}"
                ),
            ));
        }
        self.api_base = base;

        let source = self.source_type.trim().to_ascii_lowercase();
        if source.is_empty()
            || source.len() > 64
            || !source
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(config_err(
                "OMISE_SOURCE_TYPE",
                &format!("expected an Omise source type such as {DEFAULT_SOURCE_TYPE}, got {source:?}"),
            ));
        }
        if OFFLINE_SOURCE_TYPES.contains(&source.as_str()) {
            return Err(config_err(
                "OMISE_SOURCE_TYPE",
                &format!(
                    "{source} is an offline payment flow with no Omise-hosted page to redirect to; \
                     choose a redirect source such as {DEFAULT_SOURCE_TYPE}"
                ),
            ));
        }
        self.source_type = source;

        self.webhook_secrets = self
            .webhook_secrets
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        self.webhook_keys()?;

        if !(1..=MAX_WEBHOOK_TOLERANCE_SECS).contains(&self.webhook_tolerance_secs) {
            return Err(config_err(
                "OMISE_WEBHOOK_TOLERANCE_SECS",
                &format!(
                    "expected 1 to {MAX_WEBHOOK_TOLERANCE_SECS} seconds, got {}",
                    self.webhook_tolerance_secs
                ),
            ));
        }
        if self.retry.max_attempts == 0 {
            self.retry.max_attempts = 1;
        }
        Ok(())
    }

    /// The HMAC keys: each secret base64-decoded.
    pub fn webhook_keys(&self) -> Result<Vec<Vec<u8>>, ProviderError> {
        self.webhook_secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let key = base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| {
                    config_err(
                        "OMISE_WEBHOOK_SECRET",
                        &format!(
                            "secret #{} is not base64 (copy it unchanged from the dashboard): {e}",
                            i + 1
                        ),
                    )
                })?;
                if key.is_empty() {
                    return Err(config_err(
                        "OMISE_WEBHOOK_SECRET",
                        &format!("secret #{} decodes to nothing", i + 1),
                    ));
                }
                Ok(key)
            })
            .collect()
    }
}
