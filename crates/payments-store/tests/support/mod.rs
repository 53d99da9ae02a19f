//! Per-test databases.

use std::io::Write as _;

use payments_store::{PoolOptions, Store};

pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    #[cfg(feature = "postgres")]
    drop_pg: Option<(String, String)>,
}

impl std::ops::Deref for TestDb {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

fn options() -> PoolOptions {
    PoolOptions {
        max_size: 16,
        ..PoolOptions::default()
    }
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("nested/test.db").display());
    TestDb {
        store: Store::open(&url, &options()).expect("open sqlite"),
        _dir: Some(dir),
        #[cfg(feature = "postgres")]
        drop_pg: None,
    }
}

/// Says on the real stderr (not captured by the test harness) that a test was skipped.
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED postgres::{test}: {why}");
}

/// A fresh database on the server named by `TEST_DATABASE_URL`, or None (after saying so).
/// With `REQUIRE_POSTGRES=1` (CI) a missing server is a failure, not a skip.
pub fn postgres(test: &str) -> Option<TestDb> {
    let required = std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let Some(base) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(!required, "REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set");
        skip(test, "TEST_DATABASE_URL is not set");
        return None;
    };
    #[cfg(feature = "postgres")]
    {
        Some(pg::fresh(&base, test))
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = base;
        assert!(
            !required,
            "REQUIRE_POSTGRES=1 but payments-store was built without `postgres`"
        );
        skip(
            test,
            "built without the `postgres` feature (cargo test --features postgres)",
        );
        None
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use diesel::{Connection, PgConnection, RunQueryDsl};

    use super::*;

    fn admin(base: &str) -> PgConnection {
        PgConnection::establish(base).unwrap_or_else(|e| panic!("TEST_DATABASE_URL: cannot connect: {e}"))
    }

    /// `base` with its database name replaced.
    fn with_db(base: &str, db: &str) -> String {
        let (head, tail) = base.rsplit_once('/').expect("URL has a /database");
        match tail.split_once('?') {
            Some((_, q)) => format!("{head}/{db}?{q}"),
            None => format!("{head}/{db}"),
        }
    }

    pub fn fresh(base: &str, test: &str) -> TestDb {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).expect("random");
        let name = format!(
            "pt_{}_{}",
            test.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(30)
                .collect::<String>(),
            hex::encode(bytes)
        )
        .to_lowercase();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin(base))
            .expect("CREATE DATABASE");
        let url = with_db(base, &name);
        TestDb {
            store: Store::open(&url, &options()).expect("open postgres"),
            _dir: None,
            drop_pg: Some((base.to_string(), name)),
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Some((base, name)) = self.drop_pg.take() {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin(&base));
            }
        }
    }
}

/// Declares each test once for SQLite and once for PostgreSQL.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&$crate::support::sqlite()); })+
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(db) = $crate::support::postgres(stringify!($name)) { super::$name(&db); }
            })+
        }
    };
}
