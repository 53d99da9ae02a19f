//! Whether the database answers *now*, known without waiting for it.
//!
//! While the database is down, every pooled `get` waits the pool's connection timeout (5 s) and
//! a transaction on a dead connection fails only when it is tried. Webhook senders should hear
//! "retry later" at once instead. [`Availability`] is the circuit:
//!
//! - it is **up** while something answered within [`STALE_AFTER`] and nothing since said the
//!   database is unreachable;
//! - a probe thread ([`Watch`]) runs `SELECT 1` every [`PROBE_EVERY`] on a connection of its own
//!   (so a pool busy with real work is never mistaken for an outage, and a hung probe only ages
//!   the last answer until the circuit opens);
//! - writers report their commits ([`Availability::answered`]) and connection failures
//!   ([`Availability::unreachable`]), so a failure seen mid-batch opens the circuit at once.
//!
//! Nothing here refuses work by itself: callers ask [`Availability::is_up`] before queueing work
//! that cannot commit, and answer "retry later" when it is not.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Store, StoreError};

/// How often the probe asks the database.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);

/// With no answer for this long the database counts as unreachable (a probe that hangs).
pub const STALE_AFTER: Duration = Duration::from_millis(1000);

/// The circuit: shared between the probe, the writers and whoever queues work for them.
#[derive(Debug)]
pub struct Availability {
    origin: Instant,
    /// Milliseconds after `origin` of the last answer (a probe's or a commit's).
    last_answer_ms: AtomicU64,
    /// The last probe or writer found the database unreachable (cleared by the next answer).
    refused: AtomicBool,
    stale_after: Duration,
}

impl Default for Availability {
    fn default() -> Self {
        Availability::new(STALE_AFTER)
    }
}

impl Availability {
    /// Up, as of now; unreachable once nothing answered for `stale_after`.
    pub fn new(stale_after: Duration) -> Availability {
        Availability {
            origin: Instant::now(),
            last_answer_ms: AtomicU64::new(0),
            refused: AtomicBool::new(false),
            stale_after,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The database answered (a probe, a commit).
    pub fn answered(&self) {
        self.last_answer_ms.fetch_max(self.now_ms(), Ordering::Relaxed);
        self.refused.store(false, Ordering::Relaxed);
    }

    /// The database could not be reached (a refused connection, a connection lost mid-batch).
    pub fn unreachable(&self) {
        self.refused.store(true, Ordering::Relaxed);
    }

    /// How long ago the database last answered.
    pub fn since_last_answer(&self) -> Duration {
        let last = self.last_answer_ms.load(Ordering::Relaxed);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }

    /// Worth sending work to the database now.
    pub fn is_up(&self) -> bool {
        !self.refused.load(Ordering::Relaxed) && self.since_last_answer() <= self.stale_after
    }

    /// Why work is not sent now (for the error a caller answers with).
    pub fn down_error(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "the database has not answered for {} ms",
            self.since_last_answer().as_millis()
        ))
    }
}

/// The probe thread; it ends when this is dropped.
#[derive(Debug)]
pub struct Watch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Probes `store` every `every` (on a connection of its own) and reports to `availability`.
    /// Logs once when the database stops answering and once when it answers again.
    pub fn start(
        store: Arc<Store>,
        availability: Arc<Availability>,
        every: Duration,
    ) -> std::io::Result<Watch> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("db-probe".into())
            .spawn(move || {
                let mut probe = store.probe();
                let mut down_since: Option<Instant> = None;
                loop {
                    match probe.ping() {
                        Ok(()) => {
                            availability.answered();
                            if let Some(since) = down_since.take() {
                                tracing::warn!(
                                    after_ms = since.elapsed().as_millis(),
                                    "the database answers again; webhooks are written again"
                                );
                            }
                        }
                        Err(e) => {
                            availability.unreachable();
                            if down_since.is_none() {
                                down_since = Some(Instant::now());
                                tracing::error!(error = %e, "the database does not answer; webhooks are answered 503 with Retry-After until it does");
                            }
                        }
                    }
                    match stopped.recv_timeout(every) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })?;
        Ok(Watch {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection of its own to the database, opened again after any failure.
pub struct Probe {
    target: crate::Target,
    conn: Option<ProbeConnection>,
}

enum ProbeConnection {
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::SqliteConnection),
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl Probe {
    pub(crate) fn new(target: crate::Target) -> Probe {
        Probe { target, conn: None }
    }

    fn connect(&self) -> Result<ProbeConnection, StoreError> {
        use diesel::Connection;
        match &self.target {
            #[cfg(feature = "sqlite")]
            crate::Target::Sqlite(path) => Ok(ProbeConnection::Sqlite(
                diesel::SqliteConnection::establish(path)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?,
            )),
            #[cfg(feature = "postgres")]
            crate::Target::Postgres(url) => {
                use diesel::RunQueryDsl;
                let mut conn = diesel::PgConnection::establish(&with_connect_timeout(url))
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                // An overloaded server does not hold the probe longer than the circuit's limit.
                diesel::sql_query("SET statement_timeout = 1000").execute(&mut conn)?;
                Ok(ProbeConnection::Pg(conn))
            }
            #[allow(unreachable_patterns)]
            _ => Err(StoreError::Unavailable("backend not compiled in".into())),
        }
    }

    /// `SELECT 1` (on SQLite, a read of the schema, which touches the file).
    pub fn ping(&mut self) -> Result<(), StoreError> {
        use diesel::RunQueryDsl;
        let conn = match self.conn.take() {
            Some(c) => self.conn.insert(c),
            None => {
                let c = self.connect()?;
                self.conn.insert(c)
            }
        };
        let result = match conn {
            #[cfg(feature = "sqlite")]
            ProbeConnection::Sqlite(c) => diesel::sql_query("SELECT count(*) FROM sqlite_master").execute(c),
            #[cfg(feature = "postgres")]
            ProbeConnection::Pg(c) => diesel::sql_query("SELECT 1").execute(c),
        };
        if let Err(e) = result {
            // Opened again next time: a connection that failed once is not trusted.
            self.conn = None;
            return Err(e.into());
        }
        Ok(())
    }
}

/// libpq's `connect_timeout` (whole seconds, at least 2) unless the URL sets one: a probe that
/// cannot connect gives up instead of hanging on an unanswered SYN.
#[cfg(feature = "postgres")]
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&connect_timeout=2")
    } else {
        format!("{url}?connect_timeout=2")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_until_refused_or_stale() {
        let a = Availability::new(Duration::from_millis(200));
        assert!(a.is_up(), "up from the start");
        a.unreachable();
        assert!(!a.is_up(), "a refused connection opens the circuit at once");
        assert!(a.down_error().to_string().contains("has not answered for"));
        a.answered();
        assert!(a.is_up(), "an answer closes it");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!a.is_up(), "no answer for longer than the limit opens it");
        assert!(a.since_last_answer() >= Duration::from_millis(300));
        a.answered();
        assert!(a.is_up());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn the_probe_url_gets_a_connect_timeout_once() {
        assert_eq!(
            with_connect_timeout("postgres://h/db"),
            "postgres://h/db?connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=disable"),
            "postgres://h/db?sslmode=disable&connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=9"),
            "postgres://h/db?connect_timeout=9"
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn the_probe_answers_on_a_real_file_and_not_on_a_missing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("probe.db").display());
        let store = Store::open(&url, &crate::PoolOptions::default()).unwrap();
        assert!(store.probe().ping().is_ok());
        let mut missing = Probe::new(crate::Target::Sqlite(
            dir.path().join("no-such-folder/x.db").display().to_string(),
        ));
        assert!(missing.ping().is_err());
    }
}
