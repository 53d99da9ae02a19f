//! What the flows need to know of the deployment: where payers are sent back to, the rate card,
//! the issuer printed on receipts, reconciliation's pacing and the webhook queue's bounds; and
//! how variables are read and checked ([`Source`], [`vars`], [`ConfigError`]), so that each
//! setting is validated next to what uses it, as each adapter reads its own variables. The
//! server's configuration composes them.

use std::time::Duration;

use crate::receipts::Issuer;
use crate::usage::RateCard;

mod error;
mod read;
mod source;
mod variables;
pub mod vars;

pub use error::ConfigError;
pub use read::DEFAULT_SITE;
pub use source::{dotenv_error, dotenv_line_of, Env, Source};
pub use variables::VARIABLES;

/// The reconciliation settings (the scheduled poll against the provider, see `reconcile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// `RECONCILE_INTERVAL_SECS`: between cycles of the background task; 0 turns it off.
    pub interval_secs: u64,
    /// `RECONCILE_AFTER_SECS`: open payments at least this old are looked up, each again at most
    /// this often.
    pub after_secs: u64,
    /// `CHECKOUT_LIFETIME_SECS`: unpaid checkouts are expired after this long.
    pub checkout_lifetime_secs: u64,
    /// `RECONCILE_RATE`: provider look-ups per second per provider (per instance).
    pub rate_per_sec: u32,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            interval_secs: 60,
            after_secs: 900,
            checkout_lifetime_secs: 86_400,
            rate_per_sec: 5,
        }
    }
}

/// The bounded queue between webhook handlers and the database writers (see `webhook::ingest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestSettings {
    /// `WEBHOOK_QUEUE_LIMIT`: verified events waiting for a writer, at most.
    pub queue_limit: usize,
    /// `WEBHOOK_QUEUE_WAIT_MS`: how long a webhook waits for room in a full queue.
    pub queue_wait: Duration,
    /// `WEBHOOK_WRITERS`: writer threads, each committing its own batches; `None`: the
    /// backend's default ([`IngestSettings::writers_for`]).
    pub writers: Option<usize>,
}

impl IngestSettings {
    /// The webhook writer threads for a store of `backend` (`"sqlite"` or `"postgres"`):
    /// `WEBHOOK_WRITERS` when set, else 1 on SQLite (one write lock: a second writer would only
    /// wait for it) and 2 on PostgreSQL (a batch is bound by round trips, which two writers
    /// overlap; measured with the database on the same 2-core host, medians of 3 rounds: 1
    /// writer 909 deliveries/s, 2 writers 2,552, 3 writers 2,183, 4 writers 2,077, since each
    /// further writer's database process competes for the same cores and batches get smaller).
    pub fn writers_for(&self, backend: &str) -> usize {
        self.writers.unwrap_or(if backend == "postgres" { 2 } else { 1 })
    }
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            queue_limit: 1024,
            queue_wait: Duration::from_millis(2000),
            writers: None,
        }
    }
}

/// Everything the flows are configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where browsers and providers are sent (`https://portal.example.org`, no trailing `/`).
    pub site_base_url: String,
    /// Where the provider sends the payer after paying (`/payments/thanks`).
    pub success_path: String,
    /// Where the provider sends the payer after cancelling (`/me`).
    pub cancel_path: String,
    /// The prices usage is imported at, in the receipts' currency.
    pub rates: RateCard,
    /// Who issues the receipts.
    pub issuer: Issuer,
    pub reconcile: ReconcileSettings,
    pub ingest: IngestSettings,
}

impl Settings {
    /// `path` on this site, as an absolute URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site_base_url)
    }
}
