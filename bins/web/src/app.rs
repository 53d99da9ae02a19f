//! Putting it together: state from configuration, and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
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
    #[error("database: {0}")]
    Store(#[from] payments_store::StoreError),
    #[error("templates: {0}")]
    Templates(#[from] tera::Error),
    #[error("{0}")]
    App(#[from] AppError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
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

/// Fills in what the dummy provider may generate for one run, saying so in the log.
pub fn fill_dev_secrets(config: &mut Config) -> Result<(), AppError> {
    if config.provider == "dummy" {
        if config.webhook_secret.is_none() {
            config.webhook_secret = Some(crate::auth::random_token(32)?);
            tracing::warn!(
                "PAYMENT_WEBHOOK_SECRET is not set: generated one for this run (dummy provider only)"
            );
        }
        if config.session_secret.is_none() {
            config.session_secret = Some(crate::auth::random_token(32)?);
            tracing::warn!("SESSION_SECRET is not set: generated one for this run; logins end at restart");
        }
    }
    Ok(())
}

/// Validates the configuration, builds the provider, opens (and migrates) the database.
pub fn build_state(mut config: Config, src: &dyn Source) -> Result<AppState, StartError> {
    fill_dev_secrets(&mut config)?;
    let active = registry::build(&config, src)?;
    let options = PoolOptions {
        durability: config.durability,
        ..PoolOptions::default()
    };
    if config.durability == Durability::Relaxed {
        tracing::warn!("{RELAXED_WARNING}");
    }
    let store = Arc::new(Store::open(&config.database_url, &options)?);
    let ingest = Ingest::start(
        store.clone(),
        config.webhook_queue_limit,
        config.webhook_queue_wait,
    )
    .map_err(|e| AppError::Internal(format!("cannot start the webhook writer thread: {e}")))?;
    Ok(AppState {
        config: Arc::new(config),
        store,
        ingest: Arc::new(ingest),
        active,
        templates: Arc::new(Templates::load()?),
    })
}

/// The HTTP server on an already bound listener (tests bind 127.0.0.1:0).
pub fn server(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let secret = state.config.session_secret.clone().unwrap_or_default();
    let key = Key::derive_from(secret.as_bytes());
    let secure = state.config.secure_cookies();
    let thanks_path = state.config.success_path.clone();
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .wrap(
                SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                    .cookie_name("portal_session".into())
                    .cookie_secure(secure)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .cookie_content_security(CookieContentSecurity::Private)
                    .session_lifecycle(PersistentSession::default().session_ttl(CookieDuration::hours(12)))
                    .build(),
            )
            .wrap(
                middleware::DefaultHeaders::new()
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin")),
            )
            .wrap(middleware::Logger::new("%a \"%r\" %s %b %Dms"))
            .service(routes::configure_thanks(&thanks_path))
            .configure(routes::configure)
    })
    .workers(workers)
    .listen(listener)?
    .run())
}
