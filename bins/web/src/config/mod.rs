//! Configuration from the environment (and an optional `.env`), validated once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use payments_app::receipts::Issuer;
use payments_app::usage::RateCard;
use payments_app::{IngestSettings, ReconcileSettings, Settings};
use payments_core::Currency;
use payments_store::Durability;

pub mod checks;
pub mod error;
pub mod source;
mod variables;

use checks::{
    bounded_number, check_database_url, check_secret, check_webhook_secret, get_or, grab, minor_units,
    path_var, set, site_url,
};
pub use error::ConfigError;
pub use source::{dotenv_error, dotenv_line_of, Env, Source};
pub use variables::VARIABLES;

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
            value: payments_app::logsafe::bounded(&currency_text),
            expected: e.to_string(),
        });
        let site_base_url_explicit = src.get("SITE_BASE_URL").is_some_and(|s| !s.trim().is_empty());
        let site_text = src
            .get("SITE_BASE_URL")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "http://127.0.0.1:8000".into());
        let site_base_url = site_url(&site_text).map_err(|expected| ConfigError::Invalid {
            name: "SITE_BASE_URL",
            value: payments_app::logsafe::bounded(&site_text),
            expected,
        });
        let bind_text = get_or(src, "BIND_ADDR", "127.0.0.1:8000");
        let bind_addr = bind_text.parse::<SocketAddr>().map_err(|_| ConfigError::Invalid {
            name: "BIND_ADDR",
            value: payments_app::logsafe::bounded(&bind_text),
            expected: "host:port, e.g. 127.0.0.1:8000".into(),
        });
        let database_url = get_or(src, "DATABASE_URL", payments_store::DEFAULT_DATABASE_URL);
        grab(check_database_url(&database_url), &mut problems);
        let durability_text = get_or(src, "DB_DURABILITY", "durable");
        let durability = Durability::parse(&durability_text).ok_or_else(|| ConfigError::Invalid {
            name: "DB_DURABILITY",
            value: payments_app::logsafe::bounded(&durability_text),
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
                value: payments_app::logsafe::bounded(&log_format),
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
        let issuer = checks::issuer(src, &mut problems);
        let success_path = path_var(src, "PAYMENT_SUCCESS_PATH", "/payments/thanks");
        let cancel_path = path_var(src, "PAYMENT_CANCEL_PATH", "/me");
        let rate_cpu_core_hour = minor_units(src, "RATE_CPU_CORE_HOUR", 100);
        let rate_gpu_hour = minor_units(src, "RATE_GPU_HOUR", 5000);
        let body_timeout = bounded_number(src, "BODY_TIMEOUT", 10, 1, 600);
        let max_connections = bounded_number(src, "MAX_CONNECTIONS", 256, 1, 100_000);
        let body_timeout = grab(body_timeout, &mut problems);
        let reconcile = checks::reconcile(src, &mut problems);
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

    /// The prices usage is imported at.
    pub fn rates(&self) -> RateCard {
        RateCard {
            cpu_core_hour: self.rate_cpu_core_hour,
            gpu_hour: self.rate_gpu_hour,
            currency: self.currency,
        }
    }

    /// What the application layer is configured with, for a store of `backend`.
    pub fn app_settings(&self, backend: &str) -> Settings {
        Settings {
            site_base_url: self.site_base_url.clone(),
            success_path: self.success_path.clone(),
            cancel_path: self.cancel_path.clone(),
            rates: self.rates(),
            issuer: self.issuer.clone(),
            reconcile: self.reconcile,
            ingest: IngestSettings {
                queue_limit: self.webhook_queue_limit,
                queue_wait: self.webhook_queue_wait,
                writers: self.webhook_writers_for(backend),
            },
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.site_base_url.starts_with("https://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site_base_url)
    }
}
