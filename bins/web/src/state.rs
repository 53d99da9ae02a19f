//! What every handler shares: the configuration, the application handle, the templates and the
//! login guard.

use std::sync::Arc;

use payments_app::App;
use payments_store::{Store, StoreError};

use crate::config::Config;
use crate::error::AppError;
use crate::login_guard::LoginGuard;
use crate::templates::Templates;

#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The application layer: store, provider, settings, the webhook queue, the counters.
    pub app: App,
    pub templates: Arc<Templates>,
    /// Login rate limits and the password-hashing slots (see `login_guard`).
    pub login_guard: Arc<LoginGuard>,
}

impl AppState {
    /// Runs a blocking store operation on the blocking pool.
    pub async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        Ok(self.app.db(f).await?)
    }

    pub fn store(&self) -> &Arc<Store> {
        self.app.store()
    }

    /// The enabled providers' names, in the configured order.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.app.providers().enabled_names()
    }
}
