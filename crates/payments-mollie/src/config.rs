//! Configuration from `MOLLIE_*` variables, with errors naming them. The API key never prints.

use payments_core::config::{KeyShape, Secret, Vars};
use payments_core::ProviderError;

/// Mollie's API (paths below start with `/v2`).
pub const DEFAULT_API_BASE: &str = "https://api.mollie.com";

/// The variables [`MollieConfig::from_lookup`] reads: (name, one-line meaning).
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "MOLLIE_API_KEY",
        "Mollie API key (`test_...` or `live_...`). Required.",
    ),
    (
        "MOLLIE_WEBHOOK_URL",
        "URL Mollie calls (default SITE_BASE_URL/payments/webhook/mollie).",
    ),
    ("MOLLIE_API_BASE", "Mollie's API base URL (tests: a local mock)."),
];

/// What Mollie's API keys look like.
pub const KEY_SHAPE: KeyShape = KeyShape {
    prefixes: &["test_", "live_"],
    min_rest: 30,
    description: "test_ or live_ and 30+ letters or digits",
};

#[derive(Debug, Clone)]
pub struct MollieConfig {
    pub api_base: String,
    pub webhook_url: String,
    pub api_key: Secret,
}

impl MollieConfig {
    /// Reads [`ENV_VARS`] (and `SITE_BASE_URL` for the default webhook URL) through `lookup`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let vars = Vars(lookup);
        Ok(MollieConfig {
            api_key: vars.api_key("MOLLIE_API_KEY", &KEY_SHAPE)?,
            webhook_url: vars.webhook_url("MOLLIE_WEBHOOK_URL", crate::NAME)?,
            api_base: vars.api_base("MOLLIE_API_BASE", DEFAULT_API_BASE)?,
        })
    }
}
