//! Putting it together: state from configuration, and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::SessionMiddleware;
use actix_web::cookie::{time::Duration as CookieDuration, Key, SameSite};
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use payments_store::{Durability, PoolOptions, Store};

use crate::config::{Config, ConfigError, Source};
use crate::error::AppError;
use crate::ingest::Ingest;
use crate::registry;
use crate::routes;
use crate::state::AppState;
use crate::templates::Templates;
use crate::usage_import::RateCard;

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

impl Config {
    pub fn rates(&self) -> RateCard {
        RateCard {
            cpu_core_hour: self.rate_cpu_core_hour,
            gpu_hour: self.rate_gpu_hour,
            currency: self.currency,
        }
    }
}

/// Fills in what the dummy provider may generate for one run; returns what to say in the log
/// once it is open.
pub fn fill_dev_secrets(config: &mut Config) -> Result<Vec<&'static str>, AppError> {
    let mut notes = Vec::new();
    if config.provider == "dummy" {
        if config.webhook_secret.is_none() {
            config.webhook_secret = Some(crate::auth::random_token(32)?);
            notes.push("PAYMENT_WEBHOOK_SECRET is not set: generated one for this run (dummy provider only)");
        }
        if config.session_secret.is_none() {
            config.session_secret = Some(crate::auth::random_token(32)?);
            notes.push("SESSION_SECRET is not set: generated one for this run; logins end at restart");
        }
    }
    Ok(notes)
}

/// Validates the configuration, builds the provider, opens (and migrates) the database.
pub fn build_state(mut config: Config, src: &dyn Source) -> Result<AppState, StartError> {
    for note in fill_dev_secrets(&mut config)? {
        tracing::warn!("{note}");
    }
    let active = registry::build(&config, src)?;
    let store = Store::open(&config.database_url, &pool_options(&config))?;
    assemble(config, active, store)
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

/// The state from parts that were each validated; starts the webhook writer thread.
pub fn assemble(
    config: Config,
    active: registry::ActiveProvider,
    store: Store,
) -> Result<AppState, StartError> {
    let store = Arc::new(store);
    let ingest = Ingest::start(
        store.clone(),
        config.webhook_queue_limit,
        config.webhook_queue_wait,
        config.webhook_writers_for(store.backend()),
    )
    .map_err(|e| AppError::Internal(format!("cannot start the webhook writer threads: {e}")))?;
    Ok(AppState {
        config: Arc::new(config),
        store,
        ingest: Arc::new(ingest),
        active,
        templates: Arc::new(Templates::load()?),
        refusals: Arc::default(),
        login_guard: Arc::default(),
        metrics: Arc::default(),
    })
}

/// `MAX_CONNECTIONS` per worker, lowered so that all workers together stay 100 below the
/// process's open-file limit (read from `/proc/self/limits` where there is one): past that
/// limit accepting fails and nobody, `/healthz` included, gets in.
pub fn connection_cap(configured: usize, workers: usize) -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        });
    match soft_limit {
        Some(limit) => {
            let budget = limit.saturating_sub(100) / workers.max(1);
            let cap = configured.min(budget.max(16));
            if cap < configured {
                tracing::warn!(
                    "MAX_CONNECTIONS lowered from {configured} to {cap} per worker: the open-file limit is {limit} \
                     for {workers} workers (raise it with `ulimit -n` or LimitNOFILE=)"
                );
            }
            cap
        }
        None => configured,
    }
}

/// Every response's policy: scripts, styles, images and fetches from this site only, no inline
/// script or style, no plugins, no framing; forms post here, or to an https provider checkout
/// after a redirect.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self' https:; frame-ancestors 'none'";

/// The HTTP server on an already bound listener (tests bind 127.0.0.1:0).
pub fn server(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let secret = state.config.session_secret.clone().unwrap_or_default();
    let key = Key::derive_from(secret.as_bytes());
    let secure = state.config.secure_cookies();
    let thanks_path = state.config.success_path.clone();
    let max_connections = connection_cap(state.config.max_connections, workers);
    let sessions = crate::sessions::DbSessionStore::new(state.store.clone());
    let data = web::Data::new(state);
    // Every 10 s: counted webhook refusals are audited once their minute is over, the login
    // limiters forget idle keys; every minute, ended sessions are deleted.
    let flusher = data.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(10));
        for round in 0u64.. {
            tick.tick().await;
            crate::flow::flush_refusals(&flusher).await;
            flusher.login_guard.tidy();
            if round % 6 != 0 {
                continue;
            }
            let now = payments_core::unix_now();
            let idle = i64::try_from(crate::sessions::IDLE.as_secs()).unwrap_or(1800);
            if let Err(e) = flusher
                .db(move |s| s.delete_stale_sessions(now, now - idle))
                .await
            {
                tracing::warn!(error = %e, "could not delete ended sessions");
            }
        }
    });
    // Reconciliation: a cycle every RECONCILE_INTERVAL_SECS (none when it is 0).
    actix_web::rt::spawn(crate::reconcile::run_forever(data.get_ref().clone()));
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(64 * 1024))
            // Inside the session middleware: error pages show who is logged in.
            .wrap(middleware::from_fn(crate::error::error_pages))
            .wrap(
                SessionMiddleware::builder(sessions.clone(), key.clone())
                    .cookie_name("portal_session".into())
                    .cookie_secure(secure)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .cookie_content_security(CookieContentSecurity::Private)
                    .session_lifecycle(PersistentSession::default().session_ttl(CookieDuration::seconds(
                        i64::try_from(crate::sessions::ABSOLUTE.as_secs()).unwrap_or(43_200),
                    )))
                    .build(),
            )
            .wrap(
                // Added where a handler set none: pages are never cached (static files say
                // otherwise), no inline script or style runs, nothing frames the site.
                middleware::DefaultHeaders::new()
                    .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
                    .add(("Cache-Control", "no-store"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin")),
            )
            .wrap(middleware::from_fn(crate::slow_clients::body_deadline))
            .wrap(middleware::from_fn(crate::access_log::access_log))
            .service(routes::configure_thanks(&thanks_path))
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .workers(workers)
    // Slow clients: headers within 5 s, bodies within BODY_TIMEOUT (the middleware above), a
    // second to close; at most MAX_CONNECTIONS open per worker (more wait in the listen queue).
    .client_request_timeout(std::time::Duration::from_secs(5))
    .client_disconnect_timeout(std::time::Duration::from_secs(1))
    .keep_alive(std::time::Duration::from_secs(15))
    .max_connections(max_connections)
    .max_connection_rate(256)
    .backlog(2048)
    .listen(listener)?
    .run())
}
