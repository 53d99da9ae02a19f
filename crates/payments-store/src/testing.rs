//! Per-test databases for this crate's tests and the server's (feature `test-support`).

use std::io::Write as _;

/// Says on the real stderr (not captured by the test harness) that a test was skipped.
pub fn say_skipped(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED postgres::{test}: {why}");
}

/// A database created for one test and dropped (connections and all) when this is dropped.
#[derive(Debug)]
pub struct TempPostgres {
    pub url: String,
    #[cfg(feature = "postgres")]
    base: String,
    #[cfg(feature = "postgres")]
    name: String,
}

/// A fresh database on the server named by `TEST_DATABASE_URL`, or `None` after saying loudly
/// that the test is skipped. With `REQUIRE_POSTGRES=1` (as CI sets) a skip is a failure.
pub fn postgres(test: &str) -> Option<TempPostgres> {
    let required = std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let Some(base) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(!required, "REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set");
        say_skipped(test, "TEST_DATABASE_URL is not set");
        return None;
    };
    #[cfg(feature = "postgres")]
    {
        Some(TempPostgres::create(&base, test))
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = base;
        assert!(
            !required,
            "REQUIRE_POSTGRES=1 but built without the `postgres` feature"
        );
        say_skipped(test, "built without the `postgres` feature (use --all-features)");
        None
    }
}

#[cfg(feature = "postgres")]
impl TempPostgres {
    fn admin(base: &str) -> diesel::PgConnection {
        use diesel::Connection;
        diesel::PgConnection::establish(base)
            .unwrap_or_else(|e| panic!("TEST_DATABASE_URL {}: cannot connect: {e}", crate::redact(base)))
    }

    /// `base` with its database name replaced by `db`.
    fn with_db(base: &str, db: &str) -> String {
        let (head, tail) = base.rsplit_once('/').unwrap_or((base, ""));
        match tail.split_once('?') {
            Some((_, q)) => format!("{head}/{db}?{q}"),
            None => format!("{head}/{db}"),
        }
    }

    pub fn create(base: &str, test: &str) -> TempPostgres {
        use diesel::RunQueryDsl;
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("random: {e}"));
        let label: String = test
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(30)
            .collect();
        let name = format!("pt_{label}_{}", hex::encode(bytes)).to_lowercase();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut Self::admin(base))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        TempPostgres {
            url: Self::with_db(base, &name),
            base: base.to_string(),
            name,
        }
    }
}

#[cfg(feature = "postgres")]
impl TempPostgres {
    /// Takes the database away (no new connections; existing ones terminated) or gives it back:
    /// an outage as a server sees it.
    pub fn set_available(&self, available: bool) {
        use diesel::RunQueryDsl;
        let mut admin = Self::admin(&self.base);
        diesel::sql_query(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS {available}",
            self.name
        ))
        .execute(&mut admin)
        .unwrap_or_else(|e| panic!("ALTER DATABASE: {e}"));
        if !available {
            diesel::sql_query(format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ))
            .execute(&mut admin)
            .unwrap_or_else(|e| panic!("pg_terminate_backend: {e}"));
        }
    }
}

#[cfg(feature = "postgres")]
impl Drop for TempPostgres {
    fn drop(&mut self) {
        use diesel::RunQueryDsl;
        self.set_available(true);
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut Self::admin(&self.base));
    }
}

impl crate::Store {
    /// Runs raw SQL on a pooled connection (tests inject triggers with it to make one write
    /// fail).
    pub fn execute_sql_for_tests(&self, sql: &str) -> Result<(), crate::StoreError> {
        use diesel::connection::SimpleConnection;
        match &self.pool {
            #[cfg(feature = "sqlite")]
            crate::DbPool::Sqlite(pool) => pool.get()?.batch_execute(sql)?,
            #[cfg(feature = "postgres")]
            crate::DbPool::Pg(pool) => pool.get()?.batch_execute(sql)?,
        }
        Ok(())
    }

    /// The physical ceiling of commits (the benchmark's yardstick): on one pooled connection
    /// (same durability as the store's writers), one transaction per id, each a single-row
    /// update of that receipt (`paid_at`) and a commit, sent as one round trip.
    pub fn bare_commits_for_bench(&self, receipt_ids: &[i64]) -> Result<(), crate::StoreError> {
        use diesel::connection::SimpleConnection;
        let now = payments_core::unix_now();
        let statement = |begin: &str, id: i64| {
            format!("{begin}; UPDATE receipts SET paid_at = {now} WHERE id = {id}; COMMIT")
        };
        match &self.pool {
            #[cfg(feature = "sqlite")]
            crate::DbPool::Sqlite(pool) => {
                let mut c = pool.get()?;
                for &id in receipt_ids {
                    c.batch_execute(&statement("BEGIN IMMEDIATE", id))?;
                }
            }
            #[cfg(feature = "postgres")]
            crate::DbPool::Pg(pool) => {
                let mut c = pool.get()?;
                for &id in receipt_ids {
                    c.batch_execute(&statement("BEGIN", id))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "sqlite")]
#[derive(diesel::QueryableByName)]
struct PragmaValue {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    value: i64,
}

#[cfg(feature = "sqlite")]
impl crate::Store {
    /// The value of SQLite's `PRAGMA name` on a pooled connection (`None` on PostgreSQL).
    pub fn sqlite_pragma_for_tests(&self, name: &str) -> Result<Option<i64>, crate::StoreError> {
        use diesel::RunQueryDsl;
        match &self.pool {
            crate::DbPool::Sqlite(pool) => {
                let sql = format!("SELECT {name} AS value FROM pragma_{name}()");
                let row: PragmaValue = diesel::sql_query(sql).get_result(&mut *pool.get()?)?;
                Ok(Some(row.value))
            }
            #[cfg(feature = "postgres")]
            crate::DbPool::Pg(_) => Ok(None),
        }
    }
}

/// SQLite's write lock, held by a test until this is dropped (see
/// [`crate::Store::hold_write_lock_for_tests`]).
#[cfg(feature = "sqlite")]
pub struct HeldWriteLock(
    diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<diesel::SqliteConnection>>,
);

#[cfg(feature = "sqlite")]
impl std::fmt::Debug for HeldWriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeldWriteLock")
    }
}

#[cfg(feature = "sqlite")]
impl Drop for HeldWriteLock {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        let _ = self.0.batch_execute("ROLLBACK");
    }
}

#[cfg(feature = "sqlite")]
impl crate::Store {
    /// Takes SQLite's write lock (`BEGIN IMMEDIATE` on a pooled connection) until the guard is
    /// dropped: every writer waits meanwhile, as behind a slow disk. `None` on PostgreSQL.
    pub fn hold_write_lock_for_tests(&self) -> Result<Option<HeldWriteLock>, crate::StoreError> {
        use diesel::connection::SimpleConnection;
        match &self.pool {
            crate::DbPool::Sqlite(pool) => {
                let mut conn = pool.get()?;
                conn.batch_execute("BEGIN IMMEDIATE")?;
                Ok(Some(HeldWriteLock(conn)))
            }
            #[cfg(feature = "postgres")]
            crate::DbPool::Pg(_) => Ok(None),
        }
    }
}
