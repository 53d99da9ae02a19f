//! From configuration to a running application: the provider, the store, the state the
//! handlers share, and every start-up failure named.

use std::sync::Arc;

use payments_app::{ActiveProvider, App, Providers};
use payments_store::{Durability, PoolOptions, Store};

use crate::config::{Config, ConfigError, Source};
use crate::error::AppError;
use crate::state::AppState;
use crate::templates::Templates;

/// What the server says at start-up when `DB_DURABILITY=relaxed`.
pub const RELAXED_WARNING: &str = "DB_DURABILITY=relaxed: commits are not synced to stable storage before \
     webhooks are answered; a power cut or OS crash can LOSE PAYMENTS ALREADY ACKNOWLEDGED to the provider, \
     which will not send them again. Use it only for benchmarks and scratch databases.";

/// Everything start-up can fail on, each with a message naming the cause.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("DATABASE_URL: {0}")]
    Store(#[from] payments_store::StoreError),
    #[error("templates: {0}")]
    Templates(#[from] tera::Error),
    #[error("{0}")]
    App(#[from] AppError),
    #[error("BIND_ADDR={addr}: cannot listen there: {source}")]
    Bind { addr: String, source: std::io::Error },
    /// Several problems found before anything was written; each line names its variable.
    #[error("start-up refused, nothing was written; fix these and start again:\n  - {}", .0.join("\n  - "))]
    Problems(Vec<String>),
}

impl From<payments_app::Error> for StartError {
    fn from(e: payments_app::Error) -> Self {
        StartError::App(e.into())
    }
}

/// Fills in what the dummy provider may generate for one run; returns what to say in the log
/// once it is open.
pub fn fill_dev_secrets(config: &mut Config) -> Result<Vec<&'static str>, AppError> {
    let mut notes = Vec::new();
    if config.enables("dummy") && config.webhook_secret.is_none() {
        config.webhook_secret = Some(payments_app::random_token(32)?);
        notes.push("PAYMENT_WEBHOOK_SECRET is not set: generated one for this run (dummy provider only)");
    }
    if config.providers.iter().all(|p| p == "dummy") && config.session_secret.is_none() {
        config.session_secret = Some(payments_app::random_token(32)?);
        notes.push("SESSION_SECRET is not set: generated one for this run; logins end at restart");
    }
    Ok(notes)
}

/// Builds the compiled provider `name` through the registry, reading its own variables from
/// `src`. The adapter sees the server's public base URL as `SITE_BASE_URL` and the dummy
/// provider's per-run secret as `PAYMENT_WEBHOOK_SECRET`.
pub fn build_provider(config: &Config, src: &dyn Source, name: &str) -> Result<ActiveProvider, ConfigError> {
    let lookup = |var: &str| match var {
        "SITE_BASE_URL" => Some(config.app.site_base_url.clone()),
        "PAYMENT_WEBHOOK_SECRET" => config.webhook_secret.clone(),
        _ => src.get(var),
    };
    crate::registry::build(name, &lookup)
}

/// Builds every enabled provider, in order; all their problems at once.
pub fn build_providers(config: &Config, src: &dyn Source) -> Result<Vec<ActiveProvider>, ConfigError> {
    let mut built = Vec::new();
    let mut problems = Vec::new();
    for name in &config.providers {
        match build_provider(config, src, name) {
            Ok(p) => built.push(p),
            Err(e) if config.providers.len() > 1 => {
                problems.push(ConfigError::Provider(format!("{name}: {e}")))
            }
            Err(e) => problems.push(e),
        }
    }
    match problems.len() {
        0 => Ok(built),
        1 => Err(problems.remove(0)),
        _ => Err(ConfigError::Many(problems)),
    }
}

/// The providers of payments already stored that are not enabled now: each one compiled in
/// and configured keeps reconciling, refunding and answering webhooks for its old payments
/// (retired); for the others the log says their payments are read-only.
pub fn retired_providers(
    config: &Config,
    src: &dyn Source,
    store: &Store,
) -> Result<Vec<ActiveProvider>, StartError> {
    let mut retired = Vec::new();
    for name in store.payment_providers()? {
        if config.enables(&name) {
            continue;
        }
        if crate::registry::check_name(&name).is_err() {
            tracing::warn!(provider = %name, "payments made through {name} are shown read-only: {name} is not compiled into this binary");
            continue;
        }
        match build_provider(config, src, &name) {
            Ok(p) => {
                tracing::warn!(provider = %name, "{name} is not in PAYMENT_PROVIDERS: it is no longer offered to payers, but its payments are still reconciled and refunded, and its webhooks answered at /payments/webhook/{name}");
                retired.push(p);
            }
            Err(e) => {
                tracing::warn!(provider = %name, error = %e, "payments made through {name} are shown read-only: {name} is not configured here (its settings would let this server refund and reconcile them)")
            }
        }
    }
    Ok(retired)
}

/// Validates the configuration, builds the enabled providers, opens (and migrates) the
/// database, and keeps the providers of stored payments that are no longer enabled (retired).
pub fn build_state(mut config: Config, src: &dyn Source) -> Result<AppState, StartError> {
    for note in fill_dev_secrets(&mut config)? {
        tracing::warn!("{note}");
    }
    let enabled = build_providers(&config, src)?;
    let problems: Vec<String> = enabled
        .iter()
        .filter_map(|p| lifetime_problem(&config, p))
        .collect();
    if !problems.is_empty() {
        return Err(StartError::Problems(problems));
    }
    let store = Store::open(&config.database_url, &pool_options(&config))?;
    let retired = retired_providers(&config, src, &store)?;
    let providers = Providers::new(enabled, retired).map_err(|e| StartError::Problems(vec![e]))?;
    assemble(config, providers, store)
}

/// Every problem of the provider's configuration (its variables, and `CHECKOUT_LIFETIME_SECS`
/// against its shortest checkout), found without writing anything; empty when it would start.
pub fn provider_problems(config: &Config, src: &dyn Source) -> Vec<String> {
    let mut config = config.clone();
    if let Err(e) = fill_dev_secrets(&mut config) {
        return vec![e.to_string()];
    }
    match build_providers(&config, src) {
        Ok(built) => built
            .iter()
            .filter_map(|p| lifetime_problem(&config, p))
            .collect(),
        Err(e) => vec![format!("configuration: {e}")],
    }
}

/// Why `LOG_DIR` cannot hold `app.log` (a file, a folder we may not write in, ...), in words
/// naming it; checked before anything is created.
pub fn log_dir_problem(config: &Config) -> Option<String> {
    let problem = payments_app::logging::dir_problem(&config.log_dir)?;
    Some(format!(
        "LOG_DIR={}: cannot log there: {problem}",
        config.log_dir.display()
    ))
}

/// A `CHECKOUT_LIFETIME_SECS` below the provider's shortest checkout, in words: refused at
/// start-up, because the server would expire a checkout the payer can still pay.
pub fn lifetime_problem(config: &Config, active: &ActiveProvider) -> Option<String> {
    let lifetime = config.app.reconcile.checkout_lifetime_secs;
    let min = active
        .provider
        .min_checkout_lifetime_secs()
        .filter(|min| lifetime < *min)?;
    Some(format!(
        "CHECKOUT_LIFETIME_SECS={lifetime} is below {}'s minimum of {min} seconds: a checkout expired \
         here could still be paid there; set it to {min} or more",
        active.provider.name()
    ))
}

/// The options the database is opened with (`DB_DURABILITY`), saying so when relaxed.
pub fn pool_options(config: &Config) -> PoolOptions {
    if config.durability == Durability::Relaxed {
        tracing::warn!("{RELAXED_WARNING}");
    }
    PoolOptions {
        durability: config.durability,
        ..PoolOptions::default()
    }
}

/// The state from parts that were each validated; starts the webhook writer threads.
pub fn assemble(config: Config, providers: Providers, store: Store) -> Result<AppState, StartError> {
    let app = App::start(store, providers, config.app.clone())?;
    Ok(AppState {
        config: Arc::new(config),
        app,
        templates: Arc::new(Templates::load()?),
        login_guard: Arc::default(),
    })
}
