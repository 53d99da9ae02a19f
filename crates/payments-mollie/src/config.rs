//! Configuration from `MOLLIE_*` variables, with errors naming them. The API key never prints.

use payments_core::config::{base_url, invalid, Secret, Vars};
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
        "URL Mollie calls (default SITE_BASE_URL/payments/webhook).",
    ),
    ("MOLLIE_API_BASE", "Mollie's API base URL (tests: a local mock)."),
];

/// What Mollie's API keys look like.
pub const KEY_SHAPE: &str = "test_ or live_ and 30+ letters or digits";

#[derive(Debug, Clone)]
pub struct MollieConfig {
    pub api_base: String,
    pub webhook_url: String,
    pub api_key: Secret,
}

impl MollieConfig {
    /// `api_key` must look like Mollie's keys: [`KEY_SHAPE`].
    pub fn new(api_key: &str, webhook_url: &str) -> Result<Self, ProviderError> {
        let (mode, body) = api_key.split_at(api_key.len().min(5));
        if !["test_", "live_"].contains(&mode)
            || body.len() < 30
            || !body.bytes().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(invalid(
                "MOLLIE_API_KEY",
                KEY_SHAPE,
                &format!("{} characters", api_key.len()),
            ));
        }
        let (api_base, webhook_url, api_key) =
            (DEFAULT_API_BASE.into(), webhook_url.into(), Secret::new(api_key));
        Ok(MollieConfig {
            api_base,
            webhook_url,
            api_key,
        })
    }

    /// Reads [`ENV_VARS`] (and `SITE_BASE_URL` for the default webhook URL) through `lookup`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let vars = Vars(lookup);
        let webhook_url = match vars.get("MOLLIE_WEBHOOK_URL") {
            Some(url) => url,
            None => vars.require("SITE_BASE_URL", "the site's URL")? + "/payments/webhook",
        };
        let mut config = Self::new(&vars.require("MOLLIE_API_KEY", "a Mollie API key")?, &webhook_url)?;
        if let Some(base) = vars.get("MOLLIE_API_BASE") {
            config.api_base = base_url("MOLLIE_API_BASE", &base, false, DEFAULT_API_BASE)?;
        }
        Ok(config)
    }
}
