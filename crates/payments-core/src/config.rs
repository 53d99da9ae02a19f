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

    /// The URL provider `name` sends webhooks to: `var`, or the server's `SITE_BASE_URL`
    /// followed by `/payments/webhook/{name}` (the provider's own webhook route, which serves it
    /// whether it is the only provider or one of several) when `var` is unset.
    pub fn webhook_url(&self, var: &str, name: &str) -> Result<String, ProviderError> {
        match self.get(var) {
            Some(url) => Ok(url),
            None => Ok(format!(
                "{}/payments/webhook/{name}",
                self.require("SITE_BASE_URL", "the site's URL")?
            )),
        }
    }

    /// The provider's API base URL: `var` checked by [`base_url`] (no path), else `default`.
    pub fn api_base(&self, var: &str, default: &str) -> Result<String, ProviderError> {
        match self.get(var) {
            Some(value) => base_url(var, &value, false, default),
            None => Ok(default.to_string()),
        }
    }

    /// A required API key of the [`KeyShape`] `shape`, as a [`Secret`]; the error names `var`
    /// and the expected shape, and shows only the key's length.
    pub fn api_key(&self, var: &str, shape: &KeyShape) -> Result<Secret, ProviderError> {
        let key = self.require(var, shape.description)?;
        shape.check(var, &key)?;
        Ok(Secret::new(key))
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

/// What a provider's API keys look like: one of `prefixes`, then at least `min_rest` ASCII
/// letters, digits or underscores (`test_` or `live_` and 30 more: Mollie).
#[derive(Debug, Clone, Copy)]
pub struct KeyShape {
    pub prefixes: &'static [&'static str],
    pub min_rest: usize,
    /// For messages: `"test_ or live_ and 30+ letters or digits"`.
    pub description: &'static str,
}

impl KeyShape {
    /// `key` has this shape, or [`invalid`] naming `var` (showing only the key's length).
    pub fn check(&self, var: &str, key: &str) -> Result<(), ProviderError> {
        let rest = self.prefixes.iter().find_map(|p| key.strip_prefix(p));
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        match rest {
            Some(rest) if rest.len() >= self.min_rest && rest.bytes().all(word) => Ok(()),
            _ => Err(invalid(
                var,
                self.description,
                &format!("{} characters", key.len()),
            )),
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
    fn webhook_urls_api_bases_and_keys_have_defaults_and_named_errors() {
        let env = |k: &str| match k {
            "SITE_BASE_URL" => Some("https://portal.example".to_string()),
            "ACME_API_BASE" => Some("http://127.0.0.1:9/".to_string()),
            "BAD_BASE" => Some("http://api.example.com".to_string()),
            "ACME_KEY" => Some("test_abc".to_string()),
            "ACME_HOOK" => Some("https://hooks.example/x".to_string()),
            _ => None,
        };
        let vars = Vars(&env);
        assert_eq!(
            vars.webhook_url("UNSET", "acme").unwrap(),
            "https://portal.example/payments/webhook/acme"
        );
        assert_eq!(
            vars.webhook_url("ACME_HOOK", "acme").unwrap(),
            "https://hooks.example/x"
        );
        assert!(Vars(&|_: &str| None).webhook_url("X", "acme").is_err());
        assert_eq!(
            vars.api_base("ACME_API_BASE", "https://a").unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(vars.api_base("UNSET", "https://a").unwrap(), "https://a");
        assert!(vars.api_base("BAD_BASE", "https://a").is_err());
        let shape = KeyShape {
            prefixes: &["test_", "live_"],
            min_rest: 3,
            description: "test_ or live_ and 3+ letters",
        };
        assert_eq!(vars.api_key("ACME_KEY", &shape).unwrap().expose(), "test_abc");
        let long = KeyShape { min_rest: 4, ..shape };
        let e = vars.api_key("ACME_KEY", &long).unwrap_err().to_string();
        assert!(
            e.contains("ACME_KEY is invalid (8 characters)") && !e.contains("abc"),
            "{e}"
        );
        assert!(shape.check("K", "prod_abcd").is_err() && shape.check("K", "live_a-b-c").is_err());
        assert!(vars
            .api_key("UNSET", &shape)
            .unwrap_err()
            .to_string()
            .contains("UNSET is not set"));
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
