//! [`App`]: the handle every flow is driven through (store, provider, settings, the webhook
//! queue and the process's counters).

use std::sync::Arc;

use payments_core::PaymentProvider;
use payments_store::{Store, StoreError};

use crate::metrics::Metrics;
use crate::provider::{ActiveProvider, Providers};
use crate::settings::Settings;
use crate::webhook::ingest::Ingest;
use crate::webhook::refusals::Refusals;
use crate::Error;

/// The application: cheap to clone (one shared inside). The webhook writer threads end, after
/// writing what is queued, when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<Store>,
    providers: Providers,
    settings: Settings,
    ingest: Ingest,
    refusals: Refusals,
    metrics: Metrics,
}

impl App {
    /// The application on an opened (and migrated) store with its built providers; starts the
    /// webhook writer threads (`settings.ingest`).
    pub fn start(store: Store, providers: Providers, settings: Settings) -> Result<App, Error> {
        let store = Arc::new(store);
        let ingest = Ingest::start(store.clone(), &settings.ingest)
            .map_err(|e| Error::Internal(format!("cannot start the webhook writer threads: {e}")))?;
        Ok(App {
            inner: Arc::new(Inner {
                store,
                providers,
                settings,
                ingest,
                refusals: Refusals::default(),
                metrics: Metrics::default(),
            }),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// Every provider: the enabled ones (offered to payers) and the retired ones.
    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    /// The provider called `name` (a payment's, a refund's), enabled or retired; a clear error
    /// when this server no longer has it (its payments are then read-only here).
    pub fn provider(&self, name: &str) -> Result<&Arc<dyn PaymentProvider>, Error> {
        self.inner
            .providers
            .get(name)
            .map(|p| &p.provider)
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "this payment was made through {name}, which this server no longer has configured: \
                     its payments are shown read-only; add {name}'s settings (it may stay out of \
                     PAYMENT_PROVIDERS) to refund or reconcile them"
                ))
            })
    }

    /// The provider called `name` as its own adapter type, if it is one here.
    pub fn adapter(&self, name: &str) -> Option<&ActiveProvider> {
        self.inner.providers.get(name)
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The queue to the webhook writers (group commit).
    pub fn ingest(&self) -> &Ingest {
        &self.inner.ingest
    }

    /// Refused webhooks, audited per kind and minute.
    pub(crate) fn refusals(&self) -> &Refusals {
        &self.inner.refusals
    }

    /// This process's counters (for `/metrics`).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The counters in the Prometheus text format, with the pool's and the writers' figures.
    pub fn metrics_text(&self) -> String {
        let stats = self.inner.ingest.stats();
        let store = &self.inner.store;
        let writers = crate::metrics::WriterFigures {
            batches: stats.batches(),
            events: stats.events(),
            largest: stats.largest_batch(),
            set_based: store.set_based_batches(),
            set_based_undone: store.set_based_batches_undone(),
        };
        self.inner
            .metrics
            .render(store.pool_state(), &writers, self.inner.ingest.database_up())
    }

    /// Runs a blocking store operation on the runtime's blocking pool.
    pub async fn db<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(Error::internal)??)
    }
}
