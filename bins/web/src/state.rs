//! What every handler shares.

use std::sync::Arc;

use payments_store::{Store, StoreError};

use crate::config::Config;
use crate::error::AppError;
use crate::ingest::Ingest;
use crate::registry::ActiveProvider;
use crate::templates::Templates;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<Store>,
    pub active: ActiveProvider,
    pub templates: Arc<Templates>,
    /// The queue to the one writer of verified webhook events (group commit).
    pub ingest: Arc<Ingest>,
    /// Refused webhooks, audited per kind and minute (see `refusals`).
    pub refusals: Arc<crate::refusals::Refusals>,
    /// Login rate limits and the password-hashing slots (see `login_guard`).
    pub login_guard: Arc<crate::login_guard::LoginGuard>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    /// Runs a blocking store operation on actix's blocking pool.
    pub async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        Ok(actix_web::web::block(move || f(&store)).await??)
    }

    pub fn provider_name(&self) -> &'static str {
        self.active.provider.name()
    }
}
