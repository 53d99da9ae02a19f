//! Configuration from the environment (and an optional `.env`), validated once at start-up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use payments_core::Currency;
use payments_store::Durability;

/// A configuration problem, naming the variable and what is expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required: {expected}")]
    Missing {
        name: &'static str,
        expected: &'static str,
    },
    #[error("{name}={value:?} is invalid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
    #[error("Unknown PAYMENT_PROVIDER: {name} (this binary was built with: {compiled})")]
    UnknownProvider { name: String, compiled: String },
    #[error(
        "PAYMENT_PROVIDER={name} is not compiled into this binary; rebuild with \
         `cargo build -p payments-web --features {feature}` (built with: {compiled})"
    )]
    ProviderNotCompiled {
        name: String,
        feature: &'static str,
        compiled: String,
    },
    #[error("{0}")]
    Provider(String),
}

/// Where the variables come from: the process environment, or a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment (after `.env` was loaded into it).
#[derive(Debug, Clone, Copy)]
pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// Every variable the server itself reads, for `web --help` (adapters list their own through
/// `payments_core::Adapter::VARIABLES`, see `registry::variables`).
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "PAYMENT_PROVIDER",
        "payment provider (default dummy): one of those compiled in, listed below",
    ),
    (
        "PAYMENT_CURRENCY",
        "ISO 4217 currency of usage costs and receipts (default THB)",
    ),
    (
        "SITE_BASE_URL",
        "public base URL browsers and providers are sent to (default: the address the server listens on)",
    ),
    (
        "PAYMENT_SUCCESS_PATH",
        "where the provider sends the payer after paying (default /payments/thanks)",
    ),
    (
        "PAYMENT_CANCEL_PATH",
        "where the provider sends the payer after cancelling (default /me)",
    ),
    (
        "DATABASE_URL",
        "sqlite://data/app.db (default) or postgres://user:pass@host/db",
    ),
    (
        "DB_DURABILITY",
        "durable (default): answer a webhook only after its commit is on stable storage; \
         relaxed: faster, but a power cut or OS crash can LOSE PAYMENTS ALREADY ACKNOWLEDGED to the provider",
    ),
    (
        "WEBHOOK_QUEUE_LIMIT",
        "verified webhook events waiting for the database writer, at most (default 1024)",
    ),
    (
        "WEBHOOK_QUEUE_WAIT_MS",
        "how long a webhook waits for room in a full queue before it gets 503 + Retry-After (default 2000)",
    ),
    ("BIND_ADDR", "address to listen on (default 127.0.0.1:8000)"),
    (
        "SESSION_SECRET",
        "at least 32 characters; signs and encrypts the session cookie",
    ),
    ("LOG_DIR", "folder of app.log (default log)"),
    (
        "RATE_CPU_CORE_HOUR",
        "price of one CPU core-hour in minor units (default 100)",
    ),
    (
        "RATE_GPU_HOUR",
        "price of one GPU-hour in minor units (default 5000)",
    ),
];

#[derive(Clone)]
pub struct Config {
    pub provider: String,
    pub currency: Currency,
    /// Where browsers and providers are sent. Without `SITE_BASE_URL` this is derived from the
    /// address the server really listens on (see `listen::site_for`).
    pub site_base_url: String,
    /// Whether `SITE_BASE_URL` was set (otherwise `site_base_url` follows the listener).
    pub site_base_url_explicit: bool,
    pub success_path: String,
    pub cancel_path: String,
    /// Never logged.
    pub webhook_secret: Option<String>,
    pub database_url: String,
    /// `DB_DURABILITY`; `Durable` unless the operator relaxed it.
    pub durability: Durability,
    /// `WEBHOOK_QUEUE_LIMIT`: verified events waiting for the writer, at most.
    pub webhook_queue_limit: usize,
    /// `WEBHOOK_QUEUE_WAIT_MS`: how long a webhook waits for room in a full queue.
    pub webhook_queue_wait: std::time::Duration,
    pub bind_addr: SocketAddr,
    /// Never logged; `None` means "generate one for this run" (dummy provider only).
    pub session_secret: Option<String>,
    pub log_dir: PathBuf,
    pub rate_cpu_core_hour: i64,
    pub rate_gpu_hour: i64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("provider", &self.provider)
            .field("currency", &self.currency)
            .field("site_base_url", &self.site_base_url)
            .field("database_url", &payments_store::redact(&self.database_url))
            .field("durability", &self.durability)
            .field("bind_addr", &self.bind_addr)
            .finish_non_exhaustive()
    }
}

fn get_or(src: &dyn Source, name: &str, default: &str) -> String {
    src.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn path_var(src: &dyn Source, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = get_or(src, name, default);
    if !value.starts_with('/') || value.contains("://") {
        return Err(ConfigError::Invalid {
            name,
            value,
            expected: "a path starting with /".into(),
        });
    }
    Ok(value)
}

fn minor_units(src: &dyn Source, name: &'static str, default: i64) -> Result<i64, ConfigError> {
    match src
        .get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or(ConfigError::Invalid {
                name,
                value: v,
                expected: "a whole number of minor units, 0 or more".into(),
            }),
    }
}

fn positive(src: &dyn Source, name: &'static str, default: u64, max: u64) -> Result<u64, ConfigError> {
    match src
        .get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or(ConfigError::Invalid {
                name,
                value: v,
                expected: format!("a whole number from 1 to {max} (default {default})"),
            }),
    }
}

impl Config {
    /// Reads and validates everything the server needs (not the adapter's own variables: the
    /// registry validates those when it builds the provider).
    pub fn from_source(src: &dyn Source) -> Result<Config, ConfigError> {
        let provider = get_or(src, "PAYMENT_PROVIDER", "dummy").to_ascii_lowercase();
        crate::registry::check_name(&provider)?;
        let currency_text = get_or(src, "PAYMENT_CURRENCY", "THB");
        let currency = Currency::from_code(&currency_text).map_err(|e| ConfigError::Invalid {
            name: "PAYMENT_CURRENCY",
            value: currency_text,
            expected: e.to_string(),
        })?;
        let site_base_url_explicit = src.get("SITE_BASE_URL").is_some_and(|s| !s.trim().is_empty());
        let site_base_url = get_or(src, "SITE_BASE_URL", "http://127.0.0.1:8000")
            .trim_end_matches('/')
            .to_string();
        let scheme_ok = site_base_url.starts_with("http://") || site_base_url.starts_with("https://");
        let host = site_base_url.split_once("://").map_or("", |(_, rest)| rest);
        if !scheme_ok || host.is_empty() || host.contains('/') {
            return Err(ConfigError::Invalid {
                name: "SITE_BASE_URL",
                value: site_base_url,
                expected: "an absolute http(s) URL without a path, e.g. https://portal.example.org".into(),
            });
        }
        let bind_text = get_or(src, "BIND_ADDR", "127.0.0.1:8000");
        let bind_addr = bind_text.parse().map_err(|_| ConfigError::Invalid {
            name: "BIND_ADDR",
            value: bind_text,
            expected: "host:port, e.g. 127.0.0.1:8000".into(),
        })?;
        let database_url = get_or(src, "DATABASE_URL", payments_store::DEFAULT_DATABASE_URL);
        payments_store::parse_url(&database_url).map_err(|e| ConfigError::Invalid {
            name: "DATABASE_URL",
            value: payments_store::redact(&database_url),
            expected: e.to_string(),
        })?;
        let durability_text = get_or(src, "DB_DURABILITY", "durable");
        let durability = Durability::parse(&durability_text).ok_or(ConfigError::Invalid {
            name: "DB_DURABILITY",
            value: durability_text,
            expected: "durable (the default) or relaxed (can lose acknowledged payments on a power cut)"
                .into(),
        })?;
        let webhook_queue_limit = positive(src, "WEBHOOK_QUEUE_LIMIT", 1024, 1_000_000)?;
        let webhook_queue_wait_ms = positive(src, "WEBHOOK_QUEUE_WAIT_MS", 2000, 600_000)?;
        let session_secret = src.get("SESSION_SECRET").filter(|s| !s.is_empty());
        match &session_secret {
            Some(s) if s.len() < 32 => {
                return Err(ConfigError::Invalid {
                    name: "SESSION_SECRET",
                    value: "(hidden)".into(),
                    expected: format!("at least 32 characters (got {})", s.len()),
                })
            }
            None if provider != "dummy" => {
                return Err(ConfigError::Missing {
                    name: "SESSION_SECRET",
                    expected: "at least 32 random characters, e.g. `openssl rand -hex 32`",
                })
            }
            _ => {}
        }
        Ok(Config {
            provider,
            currency,
            site_base_url,
            site_base_url_explicit,
            success_path: path_var(src, "PAYMENT_SUCCESS_PATH", "/payments/thanks")?,
            cancel_path: path_var(src, "PAYMENT_CANCEL_PATH", "/me")?,
            webhook_secret: src.get("PAYMENT_WEBHOOK_SECRET").filter(|s| !s.trim().is_empty()),
            database_url,
            durability,
            webhook_queue_limit: usize::try_from(webhook_queue_limit).unwrap_or(usize::MAX),
            webhook_queue_wait: std::time::Duration::from_millis(webhook_queue_wait_ms),
            bind_addr,
            session_secret,
            log_dir: PathBuf::from(get_or(src, "LOG_DIR", "log")),
            rate_cpu_core_hour: minor_units(src, "RATE_CPU_CORE_HOUR", 100)?,
            rate_gpu_hour: minor_units(src, "RATE_GPU_HOUR", 5000)?,
        })
    }

    pub fn secure_cookies(&self) -> bool {
        self.site_base_url.starts_with("https://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site_base_url)
    }
}
