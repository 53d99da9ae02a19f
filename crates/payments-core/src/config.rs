//! Reading an adapter's variables: blank values count as unset, and every error names the
//! variable, what was expected and (never for secrets) what was found.

use std::ops::RangeInclusive;

use crate::provider::ProviderError;

/// `{var} is not set: expected {expected}`.
pub fn missing(var: &str, expected: &str) -> ProviderError {
    ProviderError::Config(format!("{var} is not set: expected {expected}"))
}

/// `{var} is invalid ({found}): expected {expected}` (pass a redacted `found` for secrets).
pub fn invalid(var: &str, expected: &str, found: &str) -> ProviderError {
    ProviderError::Config(format!("{var} is invalid ({found}): expected {expected}"))
}

/// A secret (API key, client secret, webhook secret) whose `Debug` shows at most a well-known
/// public prefix (`sk_test_****`, `whsec_****`), never a secret character.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Public prefixes providers put on their keys; everything after them is secret.
    const KNOWN_PREFIXES: &'static [&'static str] = &[
        "sk_test_",
        "sk_live_",
        "rk_test_",
        "rk_live_",
        "pk_test_",
        "pk_live_",
        "whsec_",
        "skey_test_",
        "skey_",
        "pkey_test_",
        "pkey_",
    ];

    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself (for an `Authorization` header or an HMAC key only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefix = Self::KNOWN_PREFIXES.iter().find(|p| self.0.starts_with(*p));
        write!(f, "{}****", prefix.copied().unwrap_or(""))
    }
}

/// An adapter's variables, read through the server's lookup (or `std::env::var`).
#[derive(Clone, Copy)]
pub struct Vars<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    /// The trimmed value, `None` when unset or blank.
    pub fn get(&self, var: &str) -> Option<String> {
        (self.0)(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A required value, or [`missing`].
    pub fn require(&self, var: &str, expected: &str) -> Result<String, ProviderError> {
        self.get(var).ok_or_else(|| missing(var, expected))
    }

    /// Whole seconds within `range`, `default` when unset.
    pub fn seconds(&self, var: &str, default: i64, range: RangeInclusive<i64>) -> Result<i64, ProviderError> {
        let Some(text) = self.get(var) else {
            return Ok(default);
        };
        let expected = format!(
            "a whole number of seconds from {} to {} (default {default})",
            range.start(),
            range.end()
        );
        match text.parse::<i64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(invalid(var, &expected, &format!("{text:?}"))),
        }
    }
}

/// Whether `url`'s host is this machine (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A provider API base URL from `var`: absolute, `https` (plain `http` only on loopback, for a
/// local mock), without query or fragment, and without a path unless `path_allowed`. Returned
/// without a trailing slash.
pub fn base_url(var: &str, value: &str, path_allowed: bool, example: &str) -> Result<String, ProviderError> {
    let expected = format!("an https URL such as {example} (plain http only for 127.0.0.1 or localhost)");
    let bad = || invalid(var, &expected, &format!("{value:?}"));
    let url = url::Url::parse(value.trim()).map_err(|_| bad())?;
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url));
    let path_ok = path_allowed || url.path().trim_end_matches('/').is_empty();
    if !scheme_ok || url.host().is_none() || url.query().is_some() || url.fragment().is_some() || !path_ok {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_and_errors_name_the_variable() {
        let env = |k: &str| match k {
            "A" => Some(" x ".to_string()),
            "BLANK" => Some("  ".to_string()),
            "T" => Some("0".to_string()),
            _ => None,
        };
        let vars = Vars(&env);
        assert_eq!(vars.get("A").as_deref(), Some("x"));
        assert_eq!(vars.get("BLANK"), None);
        let e = vars.require("BLANK", "a key").unwrap_err().to_string();
        assert!(e.contains("BLANK is not set: expected a key"), "{e}");
        assert_eq!(vars.seconds("UNSET", 300, 1..=60).unwrap(), 300);
        let e = vars.seconds("T", 300, 1..=60).unwrap_err().to_string();
        assert!(e.contains("T is invalid (\"0\")"), "{e}");
    }

    #[test]
    fn secrets_show_only_a_known_prefix() {
        assert_eq!(
            format!("{:?}", Secret::new("sk_test_SUPERSECRET")),
            "sk_test_****"
        );
        assert_eq!(format!("{:?}", Secret::new("my_own_secret")), "****");
        assert_eq!(Secret::new("x").expose(), "x");
    }

    #[test]
    fn base_urls_are_https_or_loopback() {
        let ok = |v: &str| base_url("B", v, false, "https://api.example.com");
        assert_eq!(ok("https://api.example.com/").unwrap(), "https://api.example.com");
        assert_eq!(ok("http://127.0.0.1:9").unwrap(), "http://127.0.0.1:9");
        assert_eq!(ok("http://localhost:9/").unwrap(), "http://localhost:9");
        for bad in [
            "http://api.example.com",
            "api.example.com",
            "https://h/v2",
            "https://h/?q=1",
            "ftp://h",
        ] {
            let e = ok(bad).unwrap_err().to_string();
            assert!(e.contains("B is invalid"), "{bad}: {e}");
        }
        assert_eq!(base_url("B", "https://h/v2/", true, "x").unwrap(), "https://h/v2");
    }
}
