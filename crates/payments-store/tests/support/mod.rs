//! Per-test databases.

use payments_store::testing::TempPostgres;
use payments_store::{PoolOptions, Store};

pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    // Dropped after the store: the database goes when the test ends.
    _pg: Option<TempPostgres>,
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
        _pg: None,
    }
}

/// A fresh PostgreSQL database, or None after saying loudly that the test is skipped.
pub fn postgres(test: &str) -> Option<TestDb> {
    let pg = payments_store::testing::postgres(test)?;
    Some(TestDb {
        store: Store::open(&pg.url, &options()).expect("open postgres"),
        _dir: None,
        _pg: Some(pg),
    })
}

/// Declares each test once for SQLite and once for PostgreSQL.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&$crate::support::sqlite()); })+
        }
        mod postgres {
            $(#[test]
            #[cfg_attr(postgres_tests_ignored, ignore = "needs PostgreSQL: set TEST_DATABASE_URL and use --all-features (see README)")]
            fn $name() {
                if let Some(db) = $crate::support::postgres(stringify!($name)) { super::$name(&db); }
            })+
        }
    };
}
