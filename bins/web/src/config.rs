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
    #[error("{} problems:\n  - {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  - "))]
    Many(Vec<ConfigError>),
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

/// A `.env` problem as one line that names the file and line but shows none of its contents
/// (dotenvy's own message quotes the line, and after an unterminated quote the rest of the file).
pub fn dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(text, _) => {
            let path = find_dotenv();
            let line = path
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .and_then(|contents| dotenv_line_of(&contents, text));
            let name = path.map_or_else(|| ".env".to_string(), |p| p.display().to_string());
            match line {
                Some(n) => format!(
                    "{name} line {n} cannot be parsed (an unterminated quote, or not NAME=value); \
                     its contents are not shown"
                ),
                None => format!("{name}: a line cannot be parsed (an unterminated quote, or not NAME=value)"),
            }
        }
        dotenvy::Error::Io(io) => format!(".env cannot be read: {io}"),
        dotenvy::Error::EnvVar(_) => ".env holds a value that is not valid unicode".to_string(),
        _ => ".env cannot be loaded".to_string(),
    }
}

/// The `.env` dotenvy reads: in the working directory or the nearest parent.
fn find_dotenv() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors().map(|d| d.join(".env")).find(|p| p.is_file())
}

/// The 1-based line of `contents` where the logical line `text` (as dotenvy reports it) starts.
pub fn dotenv_line_of(contents: &str, text: &str) -> Option<usize> {
    let first = text.lines().next()?.trim();
    if first.is_empty() {
        return None;
    }
    contents.lines().position(|l| l.trim() == first).map(|i| i + 1)
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
        "WEBHOOK_WRITERS",
        "database writers taking webhook batches from the queue (default 1 on SQLite, which has one write lock; 2 on PostgreSQL, to overlap round trips)",
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
    ("LOG_FORMAT", "text (default) or json: one JSON object a log line"),
    (
        "RATE_CPU_CORE_HOUR",
        "price of one CPU core-hour in minor units (default 100)",
    ),
    (
        "RATE_GPU_HOUR",
        "price of one GPU-hour in minor units (default 5000)",
    ),
    (
        "BODY_TIMEOUT",
        "seconds a request body may take to arrive (default 10; headers: 5)",
    ),
    (
        "METRICS_TOKEN",
        "enables GET /metrics (Prometheus) for `Authorization: Bearer <token>`; 24+ random characters",
    ),
    (
        "MAX_CONNECTIONS",
        "open connections per worker thread (default 256); more wait in the listen queue",
    ),
    (
        "RECONCILE_INTERVAL_SECS",
        "seconds between reconciliation cycles of `web serve` (default 60; 0: no background task, `web reconcile` still works)",
    ),
    (
        "RECONCILE_AFTER_SECS",
        "an open payment this old (and every RECONCILE_AFTER_SECS after) is looked up at the provider (default 900)",
    ),
    (
        "CHECKOUT_LIFETIME_SECS",
        "an unpaid checkout is expired after this long, here and (where the provider takes it) at the provider (default 86400)",
    ),
    (
        "RECONCILE_RATE",
        "provider look-ups per second per provider and server instance, at most (default 5)",
    ),
    (
        "ISSUER_NAME",
        "the organisation receipts are issued by, as printed on them (at most 120 characters)",
    ),
    (
        "ISSUER_ADDRESS",
        "its postal address on receipts: lines separated by \\n or line breaks (at most 8 lines of 120 characters)",
    ),
    (
        "ISSUER_TAX_ID",
        "its tax id on receipts (VAT, TIN, ...): letters, digits, spaces and -./ (at most 40 characters)",
    ),
];

/// The reconciliation settings (the scheduled poll against the provider, see `reconcile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// `RECONCILE_INTERVAL_SECS`: between cycles of the background task; 0 turns it off.
    pub interval_secs: u64,
    /// `RECONCILE_AFTER_SECS`: open payments at least this old are looked up, each again at most
    /// this often.
    pub after_secs: u64,
    /// `CHECKOUT_LIFETIME_SECS`: unpaid checkouts are expired after this long.
    pub checkout_lifetime_secs: u64,
    /// `RECONCILE_RATE`: provider look-ups per second per provider (per instance).
    pub rate_per_sec: u32,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            interval_secs: 60,
            after_secs: 900,
            checkout_lifetime_secs: 86_400,
            rate_per_sec: 5,
        }
    }
}

impl ReconcileSettings {
    /// Reads and checks the four variables, noting every problem.
    fn from_source(src: &dyn Source, problems: &mut Vec<ConfigError>) -> Option<ReconcileSettings> {
        let d = ReconcileSettings::default();
        let interval = grab(
            bounded_number(src, "RECONCILE_INTERVAL_SECS", d.interval_secs, 0, 86_400),
            problems,
        );
        let after = grab(
            bounded_number(src, "RECONCILE_AFTER_SECS", d.after_secs, 60, 7 * 86_400),
            problems,
        );
        let lifetime = grab(
            bounded_number(
                src,
                "CHECKOUT_LIFETIME_SECS",
                d.checkout_lifetime_secs,
                300,
                30 * 86_400,
            ),
            problems,
        );
        let rate = grab(
            bounded_number(src, "RECONCILE_RATE", u64::from(d.rate_per_sec), 1, 100),
            problems,
        );
        let (interval, after, lifetime, rate) = (interval?, after?, lifetime?, rate?);
        if lifetime < after {
            problems.push(ConfigError::Invalid {
                name: "CHECKOUT_LIFETIME_SECS",
                value: lifetime.to_string(),
                expected: format!(
                    "at least RECONCILE_AFTER_SECS ({after}): a checkout is looked up at the provider before it is expired"
                ),
            });
            return None;
        }
        Some(ReconcileSettings {
            interval_secs: interval,
            after_secs: after,
            checkout_lifetime_secs: lifetime,
            rate_per_sec: u32::try_from(rate).unwrap_or(d.rate_per_sec),
        })
    }
}

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
    /// `WEBHOOK_WRITERS`: writer threads, each committing its own batches; `None`: the backend's
    /// default ([`Config::webhook_writers_for`]).
    pub webhook_writers: Option<usize>,
    pub bind_addr: SocketAddr,
    /// Never logged; `None` means "generate one for this run" (dummy provider only).
    pub session_secret: Option<String>,
    pub log_dir: PathBuf,
    pub rate_cpu_core_hour: i64,
    pub rate_gpu_hour: i64,
    /// How long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Open connections per worker thread.
    pub max_connections: usize,
    /// `LOG_FORMAT=json`: one JSON object a log line.
    pub json_logs: bool,
    /// Never logged; `/metrics` answers only with it (`Authorization: Bearer ...`).
    pub metrics_token: Option<String>,
    /// Reconciliation: the background task's interval, ages, checkout lifetime and pacing.
    pub reconcile: ReconcileSettings,
    /// Who issues the receipts (`ISSUER_*`), printed on every receipt and its PDF.
    pub issuer: Issuer,
}

/// The organisation receipts are issued by: `ISSUER_NAME`, `ISSUER_ADDRESS`, `ISSUER_TAX_ID`.
/// All optional (a receipt without them says that no issuer is configured); when an address or
/// tax id is given the name is required.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Issuer {
    pub name: Option<String>,
    /// The address, one entry a line, blank lines dropped.
    pub address: Vec<String>,
    pub tax_id: Option<String>,
}

/// The longest issuer name or address line accepted.
const ISSUER_TEXT_MAX: usize = 120;
/// The most address lines accepted.
const ISSUER_ADDRESS_LINES: usize = 8;
/// The longest tax id accepted.
const ISSUER_TAX_ID_MAX: usize = 40;

/// One line of issuer text: at most `ISSUER_TEXT_MAX` characters, no control characters.
fn issuer_line(line: &str) -> Result<(), String> {
    if line.chars().any(char::is_control) {
        return Err("no control characters (tabs, escape codes)".into());
    }
    let len = line.chars().count();
    if len > ISSUER_TEXT_MAX {
        return Err(format!("at most {ISSUER_TEXT_MAX} characters a line (got {len})"));
    }
    Ok(())
}

/// `ISSUER_*`, each problem noted under its variable's name.
fn issuer(src: &dyn Source, problems: &mut Vec<ConfigError>) -> Issuer {
    let invalid = |name: &'static str, value: &str, expected: String| ConfigError::Invalid {
        name,
        value: crate::logsafe::bounded(value),
        expected,
    };
    let mut out = Issuer::default();
    if let Some(name) = set(src, "ISSUER_NAME") {
        match issuer_line(&name) {
            Ok(()) => out.name = Some(name),
            Err(e) => problems.push(invalid("ISSUER_NAME", &name, format!("one line of text: {e}"))),
        }
    }
    if let Some(address) = set(src, "ISSUER_ADDRESS") {
        // Line breaks as written in a shell or unit file (`\n`) or real ones (a quoted `.env` value).
        let lines: Vec<String> = address
            .replace("\\n", "\n")
            .split('\n')
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let problem = if lines.len() > ISSUER_ADDRESS_LINES {
            Some(format!(
                "at most {ISSUER_ADDRESS_LINES} lines (got {})",
                lines.len()
            ))
        } else {
            lines
                .iter()
                .enumerate()
                .find_map(|(i, l)| issuer_line(l).err().map(|e| format!("line {}: {e}", i + 1)))
        };
        match problem {
            None => out.address = lines,
            Some(e) => problems.push(invalid(
                "ISSUER_ADDRESS",
                &address,
                format!("the postal address, lines separated by \\n: {e}"),
            )),
        }
    }
    if let Some(tax_id) = set(src, "ISSUER_TAX_ID") {
        let allowed = |c: char| c.is_alphanumeric() || " -./".contains(c);
        let len = tax_id.chars().count();
        if len <= ISSUER_TAX_ID_MAX && tax_id.chars().all(allowed) {
            out.tax_id = Some(tax_id);
        } else {
            problems.push(invalid(
                "ISSUER_TAX_ID",
                &tax_id,
                format!("letters, digits, spaces and -./ only, at most {ISSUER_TAX_ID_MAX} characters"),
            ));
        }
    }
    let other_given = src.get("ISSUER_ADDRESS").is_some_and(|v| !v.trim().is_empty())
        || src.get("ISSUER_TAX_ID").is_some_and(|v| !v.trim().is_empty());
    if set(src, "ISSUER_NAME").is_none() && other_given {
        problems.push(ConfigError::Missing {
            name: "ISSUER_NAME",
            expected: "the organisation's name, since ISSUER_ADDRESS or ISSUER_TAX_ID is set",
        });
    }
    out
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

/// The trimmed value of `name`, `None` when unset or blank.
fn set(src: &dyn Source, name: &str) -> Option<String> {
    src.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn get_or(src: &dyn Source, name: &str, default: &str) -> String {
    set(src, name).unwrap_or_else(|| default.to_string())
}

/// A path on this site: `/` then letters, digits and `-._~/%` only; never `//host` (which a
/// browser reads as another site), a backslash, a scheme, a query or whitespace.
fn path_var(src: &dyn Source, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = get_or(src, name, default);
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~/%".contains(c);
    if !value.starts_with('/') || value.starts_with("//") || !value.chars().all(allowed) {
        return Err(ConfigError::Invalid {
            name,
            value: crate::logsafe::bounded(&value),
            expected: "a local path: / followed by letters, digits and -._~/% (not //host, no query)".into(),
        });
    }
    Ok(value)
}

/// `SITE_BASE_URL`: an absolute http(s) URL with a host and nothing else (no user, path, query
/// or fragment), written without whitespace or control characters.
fn site_url(text: &str) -> Result<String, String> {
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
fn grab<T>(r: Result<T, ConfigError>, problems: &mut Vec<ConfigError>) -> Option<T> {
    r.map_err(|e| problems.push(e)).ok()
}

/// A webhook secret: at least 16 characters, 6 different ones.
fn check_webhook_secret(name: &'static str, value: &str) -> Result<(), ConfigError> {
    check_secret(value, 16, 6, 48).map_err(|expected| ConfigError::Invalid {
        name,
        value: "(hidden)".into(),
        expected,
    })
}

/// `DATABASE_URL`: a known scheme, no whitespace or control characters, and for PostgreSQL a
/// URL that parses strictly.
fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let invalid = |expected: String| ConfigError::Invalid {
        name: "DATABASE_URL",
        value: crate::logsafe::bounded(&payments_store::redact(url)),
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

/// A whole number in `min..=max`, or the default when unset.
/// A whole number from `min` to `max`, `default` when unset.
fn bounded_number(
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
            value: crate::logsafe::bounded(&v),
            expected: format!("a whole number from {min} to {max} (default {default})"),
        })
}

fn minor_units(src: &dyn Source, name: &'static str, default: i64) -> Result<i64, ConfigError> {
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

impl Config {
    /// The webhook writer threads for a store of `backend` (`"sqlite"` or `"postgres"`):
    /// `WEBHOOK_WRITERS` when set, else 1 on SQLite (one write lock: a second writer would only
    /// wait for it) and 2 on PostgreSQL (a batch is bound by round trips, which two writers
    /// overlap; measured with the database on the same 2-core host, medians of 3 rounds: 1
    /// writer 909 deliveries/s, 2 writers 2,552, 3 writers 2,183, 4 writers 2,077, since each
    /// further writer's database process competes for the same cores and batches get smaller).
    pub fn webhook_writers_for(&self, backend: &str) -> usize {
        self.webhook_writers
            .unwrap_or(if backend == "postgres" { 2 } else { 1 })
    }

    /// Reads and validates everything the server needs (not the adapter's own variables: the
    /// registry validates those when it builds the provider).
    pub fn from_source(src: &dyn Source) -> Result<Config, ConfigError> {
        let mut problems: Vec<ConfigError> = Vec::new();
        let provider = get_or(src, "PAYMENT_PROVIDER", "dummy").to_ascii_lowercase();
        grab(crate::registry::check_name(&provider), &mut problems);
        let currency_text = get_or(src, "PAYMENT_CURRENCY", "THB");
        let currency = Currency::from_code(&currency_text).map_err(|e| ConfigError::Invalid {
            name: "PAYMENT_CURRENCY",
            value: crate::logsafe::bounded(&currency_text),
            expected: e.to_string(),
        });
        let site_base_url_explicit = src.get("SITE_BASE_URL").is_some_and(|s| !s.trim().is_empty());
        let site_text = src
            .get("SITE_BASE_URL")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "http://127.0.0.1:8000".into());
        let site_base_url = site_url(&site_text).map_err(|expected| ConfigError::Invalid {
            name: "SITE_BASE_URL",
            value: crate::logsafe::bounded(&site_text),
            expected,
        });
        let bind_text = get_or(src, "BIND_ADDR", "127.0.0.1:8000");
        let bind_addr = bind_text.parse::<SocketAddr>().map_err(|_| ConfigError::Invalid {
            name: "BIND_ADDR",
            value: crate::logsafe::bounded(&bind_text),
            expected: "host:port, e.g. 127.0.0.1:8000".into(),
        });
        let database_url = get_or(src, "DATABASE_URL", payments_store::DEFAULT_DATABASE_URL);
        grab(check_database_url(&database_url), &mut problems);
        let durability_text = get_or(src, "DB_DURABILITY", "durable");
        let durability = Durability::parse(&durability_text).ok_or_else(|| ConfigError::Invalid {
            name: "DB_DURABILITY",
            value: crate::logsafe::bounded(&durability_text),
            expected: "durable (the default) or relaxed (can lose acknowledged payments on a power cut)"
                .into(),
        });
        let durability = grab(durability, &mut problems);
        let webhook_queue_limit = grab(
            bounded_number(src, "WEBHOOK_QUEUE_LIMIT", 1024, 1, 1_000_000),
            &mut problems,
        );
        let webhook_queue_wait_ms = grab(
            bounded_number(src, "WEBHOOK_QUEUE_WAIT_MS", 2000, 1, 600_000),
            &mut problems,
        );
        let webhook_writers = match set(src, "WEBHOOK_WRITERS") {
            Some(_) => grab(bounded_number(src, "WEBHOOK_WRITERS", 1, 1, 64), &mut problems),
            None => None,
        };
        let session_secret = src.get("SESSION_SECRET").filter(|s| !s.is_empty());
        match &session_secret {
            Some(s) => {
                let checked = check_secret(s, 32, 10, 100).map_err(|expected| ConfigError::Invalid {
                    name: "SESSION_SECRET",
                    value: "(hidden)".into(),
                    expected,
                });
                grab(checked, &mut problems);
            }
            None if provider != "dummy" => problems.push(ConfigError::Missing {
                name: "SESSION_SECRET",
                expected: "at least 32 random characters, e.g. `openssl rand -hex 32`",
            }),
            None => {}
        }
        let log_format = get_or(src, "LOG_FORMAT", "text").to_ascii_lowercase();
        let json_logs = log_format == "json";
        if !matches!(log_format.as_str(), "text" | "json") {
            problems.push(ConfigError::Invalid {
                name: "LOG_FORMAT",
                value: crate::logsafe::bounded(&log_format),
                expected: "text or json".into(),
            });
        }
        let metrics_token = src.get("METRICS_TOKEN").filter(|s| !s.trim().is_empty());
        if let Some(t) = &metrics_token {
            let checked = check_secret(t, 24, 8, 72).map_err(|expected| ConfigError::Invalid {
                name: "METRICS_TOKEN",
                value: "(hidden)".into(),
                expected,
            });
            grab(checked, &mut problems);
        }
        let webhook_secret = src.get("PAYMENT_WEBHOOK_SECRET").filter(|s| !s.trim().is_empty());
        if let Some(s) = &webhook_secret {
            grab(check_webhook_secret("PAYMENT_WEBHOOK_SECRET", s), &mut problems);
        }
        // The adapters' webhook secrets are checked the same way (each of a comma-separated list).
        for (owner, name, _) in crate::registry::variables() {
            if owner == provider && name.contains("WEBHOOK_SECRET") && name != "PAYMENT_WEBHOOK_SECRET" {
                if let Some(v) = src.get(name).filter(|v| !v.trim().is_empty()) {
                    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        grab(check_webhook_secret(name, part), &mut problems);
                    }
                }
            }
        }
        let issuer = issuer(src, &mut problems);
        let success_path = path_var(src, "PAYMENT_SUCCESS_PATH", "/payments/thanks");
        let cancel_path = path_var(src, "PAYMENT_CANCEL_PATH", "/me");
        let rate_cpu_core_hour = minor_units(src, "RATE_CPU_CORE_HOUR", 100);
        let rate_gpu_hour = minor_units(src, "RATE_GPU_HOUR", 5000);
        let body_timeout = bounded_number(src, "BODY_TIMEOUT", 10, 1, 600);
        let max_connections = bounded_number(src, "MAX_CONNECTIONS", 256, 1, 100_000);
        let body_timeout = grab(body_timeout, &mut problems);
        let reconcile = ReconcileSettings::from_source(src, &mut problems);
        let max_connections = grab(max_connections, &mut problems);
        let currency = grab(currency, &mut problems);
        let site_base_url = grab(site_base_url, &mut problems);
        let bind_addr = grab(bind_addr, &mut problems);
        let success_path = grab(success_path, &mut problems);
        let cancel_path = grab(cancel_path, &mut problems);
        let rate_cpu_core_hour = grab(rate_cpu_core_hour, &mut problems);
        let rate_gpu_hour = grab(rate_gpu_hour, &mut problems);
        match (
            problems.len(),
            currency,
            site_base_url,
            bind_addr,
            success_path,
            cancel_path,
            rate_cpu_core_hour,
            rate_gpu_hour,
            body_timeout,
            max_connections,
        ) {
            (
                0,
                Some(currency),
                Some(site_base_url),
                Some(bind_addr),
                Some(success_path),
                Some(cancel_path),
                Some(rate_cpu_core_hour),
                Some(rate_gpu_hour),
                Some(body_timeout),
                Some(max_connections),
            ) => Ok(Config {
                provider,
                currency,
                site_base_url,
                site_base_url_explicit,
                success_path,
                cancel_path,
                webhook_secret,
                database_url,
                // Checked above: only absent when a problem was noted, and then this is not reached.
                durability: durability.unwrap_or(Durability::Durable),
                webhook_queue_limit: usize::try_from(webhook_queue_limit.unwrap_or(1024))
                    .unwrap_or(usize::MAX),
                webhook_queue_wait: std::time::Duration::from_millis(webhook_queue_wait_ms.unwrap_or(2000)),
                webhook_writers: webhook_writers.map(|n| usize::try_from(n).unwrap_or(1)),
                bind_addr,
                session_secret,
                log_dir: PathBuf::from(get_or(src, "LOG_DIR", "log")),
                rate_cpu_core_hour,
                rate_gpu_hour,
                body_timeout: std::time::Duration::from_secs(body_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(256),
                metrics_token,
                json_logs,
                // Only absent when a problem was noted, and then this is not reached.
                reconcile: reconcile.unwrap_or_default(),
                issuer,
            }),
            _ if problems.len() == 1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Many(problems)),
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.site_base_url.starts_with("https://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site_base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_dotenv_line_is_found_by_number() {
        let contents = "A=1\n# note\nB=\"open\nC=3\n";
        assert_eq!(dotenv_line_of(contents, "B=\"open\nC=3\n"), Some(3));
        assert_eq!(dotenv_line_of(contents, ""), None);
    }
}
