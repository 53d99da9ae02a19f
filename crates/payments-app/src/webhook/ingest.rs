//! The bounded queue between the webhook handlers and the database writers (group commit, see
//! `payments_store::batch`): one on SQLite, several on PostgreSQL (`WEBHOOK_WRITERS`).
//!
//! A handler verifies its webhook, then waits at most `WEBHOOK_QUEUE_WAIT_MS` for room in the
//! queue (`WEBHOOK_QUEUE_LIMIT` events); if there is none it is answered 503 with `Retry-After`
//! and the provider delivers again later. Once queued, it waits for its own outcome, which the
//! writer sends only after the batch holding it was committed.
//!
//! While the database does not answer (the [`Availability`] circuit, fed by a probe every
//! 250 ms and by the writers), nothing is queued: the handler is answered 503 with
//! `Retry-After` at once, and one already waiting (for room or for its outcome) is answered so
//! within [`WATCH_EVERY`] of the circuit opening. Such an event may still be committed if its
//! batch was already under way; its redelivery is then a duplicate, answered 200.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use payments_store::availability::{Availability, Watch, PROBE_EVERY};
use payments_store::batch::{run_writer, PendingEvent, WriterStats, DEFAULT_MAX_BATCH};
use payments_store::{EventOutcome, Store, StoreError, VerifiedEvent};
use tokio::sync::mpsc;

use crate::settings::IngestSettings;

/// How often a waiting handler looks at the circuit.
pub const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Why a verified event got no outcome from the store.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the webhook queue is full ({limit} events waited for the database for more than {waited:?}); retry later")]
    QueueFull { limit: usize, waited: Duration },
    #[error("the webhook writer has stopped (the server is shutting down); retry later")]
    WriterStopped,
    #[error("the database has not answered for {} ms; retry later", .0.as_millis())]
    DatabaseDown(Duration),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The queue's sending side and the writer threads; the writers end (after writing what is
/// queued) when the last clone of the state holding this is dropped.
pub struct Ingest {
    sender: Option<mpsc::Sender<PendingEvent>>,
    writers: Vec<JoinHandle<()>>,
    stats: Arc<WriterStats>,
    availability: Arc<Availability>,
    /// The probe thread (ends when this is dropped).
    _watch: Watch,
    limit: usize,
    wait: Duration,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("limit", &self.limit)
            .field("wait", &self.wait)
            .field("writers", &self.writers.len())
            .field("stats", &self.stats)
            .field("availability", &self.availability)
            .finish_non_exhaustive()
    }
}

impl Ingest {
    /// Starts the writer threads for `store` (`settings.writers_for` its backend) sharing one
    /// queue of `settings.queue_limit` events, and the probe that tells whether the database
    /// answers.
    pub fn start(store: Arc<Store>, settings: &IngestSettings) -> std::io::Result<Ingest> {
        let (limit, wait) = (settings.queue_limit.max(1), settings.queue_wait);
        let availability = Arc::new(Availability::default());
        let watch = Watch::start(store.clone(), availability.clone(), PROBE_EVERY)?;
        let writers = settings.writers_for(store.backend());
        let (sender, queue) = mpsc::channel(limit);
        let queue = Arc::new(Mutex::new(queue));
        let stats = Arc::new(WriterStats::default());
        let mut handles = Vec::new();
        for i in 0..writers.max(1) {
            let (store, queue, stats, availability) =
                (store.clone(), queue.clone(), stats.clone(), availability.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("webhook-writer-{i}"))
                .spawn(move || run_writer(&store, &queue, DEFAULT_MAX_BATCH, &stats, &availability));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    // The started ones end when the queue closes.
                    drop(sender);
                    for handle in handles {
                        let _ = handle.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(Ingest {
            sender: Some(sender),
            writers: handles,
            stats,
            availability,
            _watch: watch,
            limit,
            wait,
        })
    }

    /// Batches written so far, events, the largest batch.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Events in the queue that the writer has not taken yet.
    pub fn queued(&self) -> usize {
        self.sender
            .as_ref()
            .map_or(0, |s| s.max_capacity() - s.capacity())
    }

    /// Seconds a refused sender is told to wait (`Retry-After`).
    pub fn retry_after_secs(&self) -> u64 {
        self.wait.as_secs().max(1)
    }

    /// Whether the database answers now (see the module's introduction).
    pub fn database_up(&self) -> bool {
        self.availability.is_up()
    }

    /// The circuit the writers and the probe report to.
    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    fn down(&self) -> IngestError {
        IngestError::DatabaseDown(self.availability.since_last_answer())
    }

    /// Queues `event` (waiting at most the configured time for room) and waits for its outcome,
    /// which arrives after the batch holding it was committed. While the database does not
    /// answer, fails with [`IngestError::DatabaseDown`] instead of queueing or waiting.
    pub async fn submit(&self, event: VerifiedEvent) -> Result<EventOutcome, IngestError> {
        let sender = self.sender.as_ref().ok_or(IngestError::WriterStopped)?;
        if !self.database_up() {
            return Err(self.down());
        }
        let (pending, outcome) = PendingEvent::new(event);
        let gave_up = tokio::time::Instant::now() + self.wait;
        let reserve = sender.reserve();
        tokio::pin!(reserve);
        let permit = loop {
            tokio::select! {
                permit = &mut reserve => break permit.map_err(|_| IngestError::WriterStopped)?,
                () = tokio::time::sleep(WATCH_EVERY) => {
                    if !self.database_up() {
                        return Err(self.down());
                    }
                    if tokio::time::Instant::now() >= gave_up {
                        return Err(IngestError::QueueFull {
                            limit: self.limit,
                            waited: self.wait,
                        });
                    }
                }
            }
        };
        permit.send(pending);
        tokio::pin!(outcome);
        loop {
            tokio::select! {
                answer = &mut outcome => {
                    return Ok(answer.map_err(|_| IngestError::WriterStopped)??);
                }
                () = tokio::time::sleep(WATCH_EVERY) => {
                    if !self.database_up() {
                        return Err(self.down());
                    }
                }
            }
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and end.
        drop(self.sender.take());
        for writer in self.writers.drain(..) {
            let _ = writer.join();
        }
    }
}
