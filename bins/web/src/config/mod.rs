//! Configuration from the environment (and an optional `.env`), validated once at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use payments_app::usage::RateCard;
use payments_app::Settings;
use payments_store::Durability;

mod variables;

use payments_app::settings::vars::{
    bounded_number, check_database_url, check_secret, check_webhook_secret, get_or, grab,
};
pub use payments_app::settings::{dotenv_error, dotenv_line_of, ConfigError, Env, Source};
pub use variables::VARIABLES;

#[derive(Clone)]
pub struct Config {
    pub provider: String,
    /// Whether `SITE_BASE_URL` was set (otherwise `app.site_base_url` follows the listener,
    /// see `listen::site_for`).
    pub site_base_url_explicit: bool,
    /// Never logged.
    pub webhook_secret: Option<String>,
    pub database_url: String,
    /// `DB_DURABILITY`; `Durable` unless the operator relaxed it.
    pub durability: Durability,
    pub bind_addr: SocketAddr,
    /// Never logged; `None` means "generate one for this run" (dummy provider only).
    pub session_secret: Option<String>,
    pub log_dir: PathBuf,
    /// How long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// Open connections per worker thread.
    pub max_connections: usize,
    /// `LOG_FORMAT=json`: one JSON object a log line.
    pub json_logs: bool,
    /// Never logged; `/metrics` answers only with it (`Authorization: Bearer ...`).
    pub metrics_token: Option<String>,
    /// `TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` names the client (the login
    /// limits key on the client's address).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// What the application layer reads (`PAYMENT_CURRENCY`, `SITE_BASE_URL`, the payer's return
    /// paths, `RATE_*`, `RECONCILE_*`, `ISSUER_*`, `WEBHOOK_*`), see `payments_app::Settings`.
    pub app: Settings,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("provider", &self.provider)
            .field("currency", &self.app.rates.currency)
            .field("site_base_url", &self.app.site_base_url)
            .field("database_url", &payments_store::redact(&self.database_url))
            .field("durability", &self.durability)
            .field("bind_addr", &self.bind_addr)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads and validates everything the server needs (not the adapter's own variables: the
    /// registry validates those when it builds the provider).
    pub fn from_source(src: &dyn Source) -> Result<Config, ConfigError> {
        let mut problems: Vec<ConfigError> = Vec::new();
        let provider = get_or(src, "PAYMENT_PROVIDER", "dummy").to_ascii_lowercase();
        grab(crate::registry::check_name(&provider), &mut problems);
        let site_base_url_explicit = src.get("SITE_BASE_URL").is_some_and(|s| !s.trim().is_empty());
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
        let trusted_proxies = match crate::client_addr::parse_trusted(&get_or(src, "TRUSTED_PROXIES", "")) {
            Ok(list) => list,
            Err(why) => {
                problems.push(ConfigError::Invalid {
                    name: "TRUSTED_PROXIES",
                    value: payments_app::logsafe::bounded(&get_or(src, "TRUSTED_PROXIES", "")),
                    expected: format!("IP addresses separated by commas ({why})"),
                });
                Vec::new()
            }
        };
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
        let app = Settings::from_source(src, &mut problems);
        let body_timeout = grab(bounded_number(src, "BODY_TIMEOUT", 10, 1, 600), &mut problems);
        let max_connections = grab(
            bounded_number(src, "MAX_CONNECTIONS", 256, 1, 100_000),
            &mut problems,
        );
        let bind_addr = grab(bind_addr, &mut problems);
        match (problems.len(), app, bind_addr, body_timeout, max_connections) {
            (0, Some(app), Some(bind_addr), Some(body_timeout), Some(max_connections)) => Ok(Config {
                provider,
                site_base_url_explicit,
                webhook_secret,
                database_url,
                // Only absent when a problem was noted, and then this is not reached.
                durability: durability.unwrap_or(Durability::Durable),
                bind_addr,
                session_secret,
                log_dir: PathBuf::from(get_or(src, "LOG_DIR", "log")),
                body_timeout: std::time::Duration::from_secs(body_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(256),
                metrics_token,
                trusted_proxies,
                json_logs,
                app,
            }),
            _ if problems.len() == 1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Many(problems)),
        }
    }

    /// The prices usage is imported at.
    pub fn rates(&self) -> RateCard {
        self.app.rates
    }

    pub fn secure_cookies(&self) -> bool {
        self.app.site_base_url.starts_with("https://")
    }

    /// `path` on this site, as an absolute URL.
    pub fn url(&self, path: &str) -> String {
        self.app.url(path)
    }
}
