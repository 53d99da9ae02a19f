//! Configuration from the environment (`OMISE_*`), with defaults and clear errors.

use std::time::Duration;

use payments_core::config::{base_url, invalid, Vars};
use payments_core::signature::{decode_secrets, split_secrets, SecretFormat};
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

/// Everything the adapter needs. Build it with [`OmiseConfig::from_lookup`]; the fields are
/// public so tests can adjust them.
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
        write!(
            f,
            "OmiseConfig {{ secret_key: <redacted {mode} key>, api_base: {:?}, source_type: {:?}, \
             webhook_secrets: <{} redacted>, webhook_tolerance_secs: {}, retry: {:?}, connect_timeout: {:?} }}",
            self.api_base,
            self.source_type,
            self.webhook_secrets.len(),
            self.webhook_tolerance_secs,
            self.retry,
            self.connect_timeout
        )
    }
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
        let vars = Vars(lookup);
        let key = "the Omise secret key (skey_test_... or skey_...) from the dashboard's Keys page; required";
        let mut config = OmiseConfig::new(vars.require("OMISE_SECRET_KEY", key)?);
        config.api_base = vars.get("OMISE_API_BASE").unwrap_or(config.api_base);
        config.source_type = vars.get("OMISE_SOURCE_TYPE").unwrap_or(config.source_type);
        config.webhook_secrets = split_secrets(&vars.get("OMISE_WEBHOOK_SECRET").unwrap_or_default());
        let range = 1..=MAX_WEBHOOK_TOLERANCE_SECS;
        config.webhook_tolerance_secs = vars.seconds("OMISE_WEBHOOK_TOLERANCE_SECS", 300, range)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every field; normalizes `api_base` (no trailing slash).
    pub fn validate(&mut self) -> Result<(), ProviderError> {
        let key = self.secret_key.trim();
        if !key.starts_with("skey_") || key.len() < 10 || key.chars().any(|c| c.is_whitespace() || c == ':') {
            let expected =
                "an Omise secret key starting with skey_ (the public pkey_ key cannot create charges)";
            return Err(invalid("OMISE_SECRET_KEY", expected, "not a secret key"));
        }
        self.secret_key = key.to_string();
        self.api_base = base_url("OMISE_API_BASE", &self.api_base, false, DEFAULT_API_BASE)?;

        let source = self.source_type.trim().to_ascii_lowercase();
        let valid = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
        if source.is_empty() || source.len() > 64 || !source.bytes().all(valid) {
            let expected = format!("an Omise source type such as {DEFAULT_SOURCE_TYPE}");
            return Err(invalid("OMISE_SOURCE_TYPE", &expected, &format!("{source:?}")));
        }
        if OFFLINE_SOURCE_TYPES.contains(&source.as_str()) {
            let expected = format!("a redirect source such as {DEFAULT_SOURCE_TYPE}");
            let found = format!("{source} is an offline payment flow with no Omise-hosted page");
            return Err(invalid("OMISE_SOURCE_TYPE", &expected, &found));
        }
        self.source_type = source;
        self.webhook_secrets.retain(|s| !s.trim().is_empty());
        self.webhook_keys()?;
        let tolerance = self.webhook_tolerance_secs;
        if !(1..=MAX_WEBHOOK_TOLERANCE_SECS).contains(&tolerance) {
            let expected = format!("1 to {MAX_WEBHOOK_TOLERANCE_SECS} seconds");
            return Err(invalid(
                "OMISE_WEBHOOK_TOLERANCE_SECS",
                &expected,
                &tolerance.to_string(),
            ));
        }
        self.retry.max_attempts = self.retry.max_attempts.max(1);
        Ok(())
    }

    /// The HMAC keys: each secret base64-decoded.
    pub fn webhook_keys(&self) -> Result<Vec<Vec<u8>>, ProviderError> {
        decode_secrets(&self.webhook_secrets, SecretFormat::Base64).map_err(|e| {
            invalid(
                "OMISE_WEBHOOK_SECRET",
                "secrets copied unchanged (base64) from the dashboard",
                &e.to_string(),
            )
        })
    }
}
