//! Group commit of verified webhook events.
//!
//! A writer ([`run_writer`], on a thread of its own) takes what is queued, up to `max_batch`
//! events, and writes them with [`Store::handle_verified_events`]: one transaction, each event in
//! its own savepoint (or, for a batch of nothing but plain payment successes, one statement per
//! kind of write for all of them), one commit (one sync to stable storage) for the whole batch. Each event's
//! outcome goes back on its own channel only after that commit returned. If the batch cannot be
//! committed, nothing of it was written, and each event is written again on its own, so every
//! sender still gets its own outcome (or its own error) — unless the database could not be
//! reached: then the whole batch fails at once (each event alone would only wait for the pool's
//! timeout again), and while the [`Availability`] circuit is open a batch is answered "database
//! unavailable" without being tried.
//!
//! The queue itself (its bound, how long a sender waits for room) belongs to the caller: this
//! module only drains it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::availability::Availability;
use crate::outcomes::{EventOutcome, VerifiedEvent};
use crate::{Store, StoreError};

/// The most events written in one transaction by default.
pub const DEFAULT_MAX_BATCH: usize = 256;

/// One verified event waiting for the writer, and where its outcome goes.
#[derive(Debug)]
pub struct PendingEvent {
    pub event: VerifiedEvent,
    pub reply: oneshot::Sender<Result<EventOutcome, StoreError>>,
}

impl PendingEvent {
    /// An event and the receiver its outcome arrives on.
    pub fn new(event: VerifiedEvent) -> (PendingEvent, oneshot::Receiver<Result<EventOutcome, StoreError>>) {
        let (reply, outcome) = oneshot::channel();
        (PendingEvent { event, reply }, outcome)
    }
}

/// What the writer did so far (for benchmarks and operators): every batch is one commit.
#[derive(Debug, Default)]
pub struct WriterStats {
    batches: AtomicU64,
    events: AtomicU64,
    largest: AtomicU64,
    fallbacks: AtomicU64,
    retried: AtomicU64,
    unreachable: AtomicU64,
}

impl WriterStats {
    /// Batches committed (or attempted): one transaction, one commit, one sync each.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Events taken from the queue.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// The most events in one batch.
    pub fn largest_batch(&self) -> u64 {
        self.largest.load(Ordering::Relaxed)
    }

    /// Batches that could not be committed and were written again event by event.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Batches answered "database unavailable" as a whole: not tried while the circuit was
    /// open, or failed because the database could not be reached.
    pub fn unreachable(&self) -> u64 {
        self.unreachable.load(Ordering::Relaxed)
    }

    /// Events whose savepoint failed on a transient error (a deadlock between writers) and
    /// that were written again on their own.
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }
}

/// Writes what arrives on `queue` in batches of at most `max_batch` until every sender is gone
/// and the queue is empty. Blocking: run it on a thread of its own, not on an async runtime.
///
/// Several writers may share one queue (PostgreSQL: their round trips overlap): each takes the
/// queue in turn, drains what is there into its batch, lets go of the queue and writes the
/// batch, while the next writer collects the next one.
pub fn run_writer(
    store: &Store,
    queue: &Mutex<mpsc::Receiver<PendingEvent>>,
    max_batch: usize,
    stats: &WriterStats,
    availability: &Availability,
) {
    let max_batch = max_batch.max(1);
    loop {
        let (events, replies) = {
            let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            let Some(first) = queue.blocking_recv() else {
                return;
            };
            let mut events = Vec::with_capacity(max_batch.min(64));
            let mut replies = Vec::with_capacity(max_batch.min(64));
            events.push(first.event);
            replies.push(first.reply);
            while events.len() < max_batch {
                match queue.try_recv() {
                    Ok(next) => {
                        events.push(next.event);
                        replies.push(next.reply);
                    }
                    Err(_) => break,
                }
            }
            (events, replies)
        };
        let n = events.len() as u64;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.events.fetch_add(n, Ordering::Relaxed);
        stats.largest.fetch_max(n, Ordering::Relaxed);
        let began = Instant::now();
        if !availability.is_up() {
            // Nothing of it can commit now: every sender hears so at once (and retries later).
            stats.unreachable.fetch_add(1, Ordering::Relaxed);
            for reply in replies {
                let _ = reply.send(Err(availability.down_error()));
            }
            continue;
        }
        let outcomes = match store.handle_verified_events(&events) {
            Ok(outcomes) => {
                availability.answered();
                outcomes
            }
            Err(e) if e.is_unreachable() => {
                availability.unreachable();
                stats.unreachable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, events = n, "a batch of webhook events could not reach the database; all of it is answered retry-later");
                let cause = match &e {
                    StoreError::Unavailable(cause) => cause.clone(),
                    other => other.to_string(),
                };
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unavailable(cause.clone())));
                }
                continue;
            }
            Err(e) => {
                // Nothing of the batch was committed: write each event on its own, so that each
                // sender gets its own outcome or error.
                tracing::warn!(error = %e, events = n, "a batch of webhook events could not be committed; writing them one by one");
                stats.fallbacks.fetch_add(1, Ordering::Relaxed);
                events.iter().map(|ev| store.handle_verified_event(ev)).collect()
            }
        };
        tracing::debug!(
            events = n,
            micros = began.elapsed().as_micros(),
            "webhook batch committed"
        );
        for ((reply, outcome), event) in replies.into_iter().zip(outcomes).zip(&events) {
            let outcome = match outcome {
                // Its savepoint was rolled back, nothing of it was written: on PostgreSQL a
                // writer's batch may have lost a deadlock to another writer's (two deliveries of
                // one event, or two events of one payment, in two batches). Once more, alone.
                Err(e) if e.is_transient() => {
                    stats.retried.fetch_add(1, Ordering::Relaxed);
                    store.handle_verified_event(event)
                }
                other => other,
            };
            // A sender that gave up (its client went away) still had its event written.
            let _ = reply.send(outcome);
        }
    }
}
