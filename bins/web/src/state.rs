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
