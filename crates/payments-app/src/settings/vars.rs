//! Reading and checking single variables, each problem named: numbers in bounds, local paths,
//! the site URL, the database URL, secrets. Callers note every problem rather than stopping at
//! the first ([`grab`]), so that one start names them all.

use super::error::ConfigError;
use super::source::Source;
use crate::logsafe::bounded;

/// The trimmed value of `name`, `None` when unset or blank.
pub fn set(src: &dyn Source, name: &str) -> Option<String> {
    src.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub fn get_or(src: &dyn Source, name: &str, default: &str) -> String {
    set(src, name).unwrap_or_else(|| default.to_string())
}

/// A path on this site: `/` then letters, digits and `-._~/%` only; never `//host` (which a
/// browser reads as another site), a backslash, a scheme, a query or whitespace.
pub fn path_var(src: &dyn Source, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = get_or(src, name, default);
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~/%".contains(c);
    if !value.starts_with('/') || value.starts_with("//") || !value.chars().all(allowed) {
        return Err(ConfigError::Invalid {
            name,
            value: bounded(&value),
            expected: "a local path: / followed by letters, digits and -._~/% (not //host, no query)".into(),
        });
    }
    Ok(value)
}

/// `SITE_BASE_URL`: an absolute http(s) URL with a host and nothing else (no user, path, query
/// or fragment), written without whitespace or control characters.
pub fn site_url(text: &str) -> Result<String, String> {
    let expected = "an absolute http(s) URL without a path, e.g. https://portal.example.org";
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{expected} (it holds whitespace or control characters)"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("{expected} ({e})"))?;
    let host_ok = url.host_str().is_some_and(|h| !h.is_empty());
    if !matches!(url.scheme(), "http" | "https")
        || !host_ok
        || !url.username().is_empty()
        || url.password().is_some()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(expected.to_string());
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// The value, or `None` with the problem noted.
pub fn grab<T>(r: Result<T, ConfigError>, problems: &mut Vec<ConfigError>) -> Option<T> {
    r.map_err(|e| problems.push(e)).ok()
}

/// A webhook secret: at least 16 characters, 6 different ones.
pub fn check_webhook_secret(name: &'static str, value: &str) -> Result<(), ConfigError> {
    check_secret(value, 16, 6, 48).map_err(|expected| ConfigError::Invalid {
        name,
        value: "(hidden)".into(),
        expected,
    })
}

/// `DATABASE_URL`: a known scheme, no whitespace or control characters, and for PostgreSQL a
/// URL that parses strictly.
pub fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let invalid = |expected: String| ConfigError::Invalid {
        name: "DATABASE_URL",
        value: bounded(&payments_store::redact(url)),
        expected,
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("no whitespace or control characters".into()));
    }
    match payments_store::parse_url(url).map_err(|e| invalid(e.to_string()))? {
        payments_store::Target::Postgres(pg) => url::Url::parse(&pg)
            .ok()
            .filter(|u| {
                u.host_str().is_some_and(|h| !h.is_empty()) || u.query().is_some_and(|q| q.contains("host="))
            })
            .map(|_| ())
            .ok_or_else(|| invalid("postgres://user:password@host:5432/database".into())),
        payments_store::Target::Sqlite(_) => Ok(()),
    }
}

/// A secret must be long and varied: at least `min_len` characters, of which at least
/// `min_distinct` different ones, and an estimate (length × log2 of the distinct characters,
/// rounded down) of at least `min_bits`. Spaces only, `xxxx…` or `abab…` are refused.
pub fn check_secret(value: &str, min_len: usize, min_distinct: usize, min_bits: usize) -> Result<(), String> {
    let len = value.chars().count();
    let distinct = value.chars().collect::<std::collections::BTreeSet<_>>().len();
    let bits = len * distinct.max(1).ilog2() as usize;
    if value.trim() != value || value.chars().any(|c| c.is_control()) {
        return Err("it starts or ends with whitespace, or holds control characters".into());
    }
    if len < min_len {
        return Err(format!("at least {min_len} characters (got {len})"));
    }
    if distinct < min_distinct || bits < min_bits {
        return Err(format!(
            "too predictable: {distinct} different characters in {len}; use a random value, e.g. `openssl rand -hex 32`"
        ));
    }
    Ok(())
}

/// A whole number from `min` to `max`, `default` when unset.
pub fn bounded_number(
    src: &dyn Source,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(v) = set(src, name) else {
        return Ok(default);
    };
    v.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| ConfigError::Invalid {
            name,
            value: bounded(&v),
            expected: format!("a whole number from {min} to {max} (default {default})"),
        })
}

pub fn minor_units(src: &dyn Source, name: &'static str, default: i64) -> Result<i64, ConfigError> {
    let Some(v) = set(src, name) else {
        return Ok(default);
    };
    v.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or(ConfigError::Invalid {
            name,
            value: v,
            expected: "a whole number of minor units, 0 or more".into(),
        })
}
