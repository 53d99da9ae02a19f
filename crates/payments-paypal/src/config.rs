//! Configuration from the environment (`PAYPAL_*`).

use std::time::Duration;

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
        "id of the webhook registered for <SITE_BASE_URL>/webhooks/paypal (used to verify events)",
    ),
];

/// A secret string that never shows up in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself (only for building the token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

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
    pub fn new(
        api_base: &str,
        client_id: &str,
        client_secret: &str,
        webhook_id: &str,
    ) -> Result<Self, ProviderError> {
        let lookup = |name: &str| -> Option<String> {
            match name {
                "PAYPAL_API_BASE" => Some(api_base.to_string()),
                "PAYPAL_CLIENT_ID" => Some(client_id.to_string()),
                "PAYPAL_CLIENT_SECRET" => Some(client_secret.to_string()),
                "PAYPAL_WEBHOOK_ID" => Some(webhook_id.to_string()),
                _ => None,
            }
        };
        Self::from_lookup(&lookup)
    }

    /// Reads the `PAYPAL_*` variables through `lookup` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let api_base = validate_api_base(&get("PAYPAL_API_BASE").unwrap_or_else(|| SANDBOX_API_BASE.into()))?;
        let client_id = get("PAYPAL_CLIENT_ID").ok_or_else(|| {
            ProviderError::Config(
                "PAYPAL_CLIENT_ID is missing: set it to the client id of your PayPal REST app".into(),
            )
        })?;
        let client_secret = get("PAYPAL_CLIENT_SECRET").ok_or_else(|| {
            ProviderError::Config(
                "PAYPAL_CLIENT_SECRET is missing: set it to the secret of your PayPal REST app".into(),
            )
        })?;
        let webhook_id = get("PAYPAL_WEBHOOK_ID").ok_or_else(|| {
            ProviderError::Config(
                "PAYPAL_WEBHOOK_ID is missing: set it to the id PayPal shows for the webhook you \
                 registered (needed to verify webhook signatures)"
                    .into(),
            )
        })?;
        if webhook_id.len() > 50 || !webhook_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ProviderError::Config(format!(
                "PAYPAL_WEBHOOK_ID {webhook_id:?} is malformed: expected PayPal's webhook id, \
                 up to 50 letters and digits such as 4JH86294D6297924G"
            )));
        }
        Ok(PayPalConfig {
            api_base,
            client_id,
            client_secret: Secret::new(client_secret),
            webhook_id,
            retry: RetryPolicy::default(),
            token_refresh_margin: Duration::from_secs(60),
        })
    }
}

/// An absolute http(s) URL without path, query or trailing slash; plain http only on loopback.
fn validate_api_base(raw: &str) -> Result<String, ProviderError> {
    let bad = |why: &str| {
        ProviderError::Config(format!(
            "PAYPAL_API_BASE {raw:?} {why}: expected {SANDBOX_API_BASE} or {LIVE_API_BASE}"
        ))
    };
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("must use https (plain http only for a local mock)")),
    }
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.path().trim_end_matches('/').is_empty() {
        return Err(bad("must be a bare host without path or query"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_to_the_sandbox_and_hides_the_secret() {
        let c = PayPalConfig::from_lookup(&lookup(&[
            ("PAYPAL_CLIENT_ID", "cid"),
            ("PAYPAL_CLIENT_SECRET", "very-secret"),
            ("PAYPAL_WEBHOOK_ID", "4JH86294D6297924G"),
        ]))
        .unwrap();
        assert_eq!(c.api_base, SANDBOX_API_BASE);
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[test]
    fn names_the_missing_or_bad_variable() {
        let e = PayPalConfig::from_lookup(&lookup(&[("PAYPAL_CLIENT_ID", "cid")])).unwrap_err();
        assert!(e.to_string().contains("PAYPAL_CLIENT_SECRET"), "{e}");
        let e = PayPalConfig::from_lookup(&lookup(&[
            ("PAYPAL_CLIENT_ID", "cid"),
            ("PAYPAL_CLIENT_SECRET", "s"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("PAYPAL_WEBHOOK_ID"), "{e}");
        for base in [
            "http://api-m.paypal.com",
            "ftp://x",
            "https://api-m.paypal.com/v2",
            "nope",
        ] {
            let e = PayPalConfig::new(base, "c", "s", "WH1").unwrap_err();
            assert!(e.to_string().contains("PAYPAL_API_BASE"), "{base}: {e}");
        }
        let e = PayPalConfig::new(LIVE_API_BASE, "c", "s", "WH-1").unwrap_err();
        assert!(e.to_string().contains("PAYPAL_WEBHOOK_ID"), "{e}");
        assert_eq!(
            PayPalConfig::new("http://127.0.0.1:9/", "c", "s", "WH1")
                .unwrap()
                .api_base,
            "http://127.0.0.1:9"
        );
    }
}
