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
    /// The enabled providers, in the operator's order (`PAYMENT_PROVIDERS`, or the one
    /// `PAYMENT_PROVIDER`); never empty.
    pub providers: Vec<String>,
    /// `PAYMENT_ROUTING`: which providers are offered, in which order, per currency.
    pub routing: Routing,
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
            .field("providers", &self.providers)
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
        let providers = provider_list(src, &mut problems);
        let only_dummy = providers.iter().all(|p| p == "dummy");
        let routing = match Routing::parse(&get_or(src, "PAYMENT_ROUTING", ""), &providers) {
            Ok(r) => r,
            Err(expected) => {
                problems.push(ConfigError::Invalid {
                    name: "PAYMENT_ROUTING",
                    value: payments_app::logsafe::bounded(&get_or(src, "PAYMENT_ROUTING", "")),
                    expected,
                });
                Routing::default()
            }
        };
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
            None if !only_dummy => problems.push(ConfigError::Missing {
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
            if providers.iter().any(|p| p == owner)
                && name.contains("WEBHOOK_SECRET")
                && name != "PAYMENT_WEBHOOK_SECRET"
            {
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
                providers,
                routing,
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

    /// The first enabled provider.
    pub fn primary(&self) -> &str {
        &self.providers[0]
    }

    /// Whether `name` is enabled.
    pub fn enables(&self, name: &str) -> bool {
        self.providers.iter().any(|p| p == name)
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

/// The enabled providers: `PAYMENT_PROVIDERS` (an ordered, comma-separated list) or the one
/// `PAYMENT_PROVIDER` (default `dummy`); each name checked against the registry, every problem
/// noted at once.
fn provider_list(src: &dyn Source, problems: &mut Vec<ConfigError>) -> Vec<String> {
    let list = src.get("PAYMENT_PROVIDERS").filter(|v| !v.trim().is_empty());
    let one = src.get("PAYMENT_PROVIDER").filter(|v| !v.trim().is_empty());
    let names: Vec<String> = match (&list, &one) {
        (Some(list), Some(one)) => {
            let names: Vec<String> = list.split(',').map(|n| n.trim().to_ascii_lowercase()).collect();
            if names.len() != 1 || names[0] != one.trim().to_ascii_lowercase() {
                problems.push(ConfigError::Invalid {
                    name: "PAYMENT_PROVIDER",
                    value: payments_app::logsafe::bounded(one),
                    expected:
                        "unset when PAYMENT_PROVIDERS is set (PAYMENT_PROVIDERS lists every enabled provider)"
                            .into(),
                });
            }
            names
        }
        (Some(list), None) => list.split(',').map(|n| n.trim().to_ascii_lowercase()).collect(),
        (None, Some(one)) => vec![one.trim().to_ascii_lowercase()],
        (None, None) => vec!["dummy".to_string()],
    };
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        if name.is_empty() {
            problems.push(ConfigError::Invalid {
                name: "PAYMENT_PROVIDERS",
                value: payments_app::logsafe::bounded(list.as_deref().unwrap_or_default()),
                expected: "provider names separated by commas, e.g. omise,stripe,paypal".into(),
            });
            continue;
        }
        if seen.contains(&name) {
            problems.push(ConfigError::Invalid {
                name: "PAYMENT_PROVIDERS",
                value: payments_app::logsafe::bounded(list.as_deref().unwrap_or_default()),
                expected: format!("each provider once ({name} is listed twice)"),
            });
            continue;
        }
        grab(crate::registry::check_name(&name), problems);
        seen.push(name);
    }
    if seen.is_empty() {
        seen.push("dummy".to_string());
    }
    seen
}

/// `PAYMENT_ROUTING`, e.g. `THB:omise,*:stripe`: for a receipt in THB only Omise is offered,
/// for any other currency only Stripe. Rules for one currency (or `*`) list providers in the
/// order they are offered; a currency without a rule of its own follows `*`; without any rule
/// every enabled provider is offered in `PAYMENT_PROVIDERS` order. Whatever the rule, a
/// provider that cannot take the amount (currency, minimum, maximum) is not offered.
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// `(currency code or "*", provider)` in the order written.
    rules: Vec<(String, String)>,
}

impl Routing {
    /// Parses `text` against the enabled `providers`.
    pub fn parse(text: &str, providers: &[String]) -> Result<Routing, String> {
        let mut rules = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((currency, provider)) = part.split_once(':') else {
                return Err(format!("CURRENCY:provider rules separated by commas, e.g. THB:omise,*:stripe ({part:?} has no colon)"));
            };
            let (currency, provider) = (
                currency.trim().to_ascii_uppercase(),
                provider.trim().to_ascii_lowercase(),
            );
            if currency != "*" && payments_core::Currency::from_code(&currency).is_err() {
                return Err(format!(
                    "{currency:?} is not an ISO 4217 currency code (or * for any other)"
                ));
            }
            if !providers.contains(&provider) {
                return Err(format!(
                    "{provider:?} is not an enabled provider (PAYMENT_PROVIDERS: {})",
                    providers.join(", ")
                ));
            }
            rules.push((currency, provider));
        }
        Ok(Routing { rules })
    }

    /// The providers offered for `currency`, in order, among the enabled `providers`.
    pub fn for_currency<'a>(&self, currency: &str, providers: &'a [String]) -> Vec<&'a str> {
        if self.rules.is_empty() {
            return providers.iter().map(String::as_str).collect();
        }
        let own: Vec<&str> = self
            .rules
            .iter()
            .filter(|(c, _)| c == currency)
            .map(|(_, p)| p.as_str())
            .collect();
        let chosen: Vec<&str> = if own.is_empty() {
            self.rules
                .iter()
                .filter(|(c, _)| c == "*")
                .map(|(_, p)| p.as_str())
                .collect()
        } else {
            own
        };
        chosen
            .into_iter()
            .filter_map(|name| providers.iter().find(|p| *p == name).map(String::as_str))
            .collect()
    }
}

#[cfg(test)]
mod routing_tests {
    use super::Routing;

    #[test]
    fn a_currency_rule_limits_and_orders_the_choice_and_star_covers_the_rest() {
        let enabled: Vec<String> = ["stripe", "omise", "paypal"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = Routing::parse("THB:omise, THB:stripe ,*:paypal", &enabled).unwrap();
        assert_eq!(r.for_currency("THB", &enabled), ["omise", "stripe"]);
        assert_eq!(r.for_currency("EUR", &enabled), ["paypal"]);
        let none = Routing::parse("", &enabled).unwrap();
        assert_eq!(none.for_currency("THB", &enabled), ["stripe", "omise", "paypal"]);
        let only = Routing::parse("THB:omise", &enabled).unwrap();
        assert!(
            only.for_currency("EUR", &enabled).is_empty(),
            "no rule for EUR and no *"
        );
        assert!(Routing::parse("THB omise", &enabled)
            .unwrap_err()
            .contains("no colon"));
        assert!(Routing::parse("XXY:omise", &enabled)
            .unwrap_err()
            .contains("ISO 4217"));
        assert!(Routing::parse("THB:mollie", &enabled)
            .unwrap_err()
            .contains("not an enabled provider"));
    }
}
