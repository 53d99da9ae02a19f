//! SQLite's WAL checkpoints, off the commit path.
//!
//! By default SQLite checkpoints inside the commit that pushes the WAL past 1,000 pages: that
//! commit copies the WAL into the database file and syncs it (with `synchronous = FULL`) before it
//! returns, so every few dozen batches one webhook batch (and every delivery in it) waits for a
//! checkpoint. Measured on the benchmark: about one writer commit in 50 ran a checkpoint and took
//! 20-80 ms instead of 2-5 ms.
//!
//! So the store's connections run with `wal_autocheckpoint = 0`, and a thread of the store's own
//! runs a `PASSIVE` checkpoint on a connection of its own every [`INTERVAL`]: it copies what it
//! can without waiting for (or blocking) readers and writers. Durability does not change: each
//! commit still syncs the WAL before it returns (`synchronous = FULL`); the checkpoint only moves
//! already durable pages into the database file. When the store is dropped the thread runs a
//! last checkpoint and ends (and SQLite checkpoints and removes the WAL when the last connection
//! closes).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::Connection;

use crate::StoreError;

/// How often the checkpointer copies the WAL into the database file.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// The checkpointer thread; stops (after a last checkpoint) when dropped.
pub(crate) struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checkpointer")
    }
}

impl Checkpointer {
    /// Opens a connection of its own to `path` and starts the thread.
    pub(crate) fn start(path: &str, synchronous: &str) -> Result<Checkpointer, StoreError> {
        let mut conn = diesel::SqliteConnection::establish(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open SQLite database {path}: {e}")))?;
        // The checkpoint syncs the database file unless synchronous is OFF; a short busy timeout
        // (the checkpoint lock is only ever wanted by this thread and by closing connections).
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = 1000; PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = {synchronous};"
        ))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let (lock, wake) = &*signal;
                loop {
                    let stopping = {
                        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                        let (guard, _) = wake
                            .wait_timeout_while(guard, INTERVAL, |stop| !*stop)
                            .unwrap_or_else(|p| p.into_inner());
                        *guard
                    };
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!(error = %e, "SQLite WAL checkpoint failed; trying again later");
                    }
                    if stopping {
                        break;
                    }
                }
            })
            .map_err(|e| {
                StoreError::Unavailable(format!("cannot start the SQLite checkpoint thread: {e}"))
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
