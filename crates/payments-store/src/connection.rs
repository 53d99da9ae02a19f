//! Choosing the backend from `DATABASE_URL`, building the r2d2 pool, running the embedded
//! migrations.

use std::time::Duration;

use diesel::r2d2::{ConnectionManager, Pool};

use crate::StoreError;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("payments-store needs at least one of the features `sqlite` and `postgres`");

/// The default: an embedded SQLite file below the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/app.db";

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A file path.
    Sqlite(String),
    Postgres(String),
}

/// `sqlite://relative/path`, `sqlite:///absolute/path`, `postgres://...`, `postgresql://...`.
pub fn parse_url(url: &str) -> Result<Target, StoreError> {
    let url = url.trim();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if path.is_empty() || path.starts_with(":memory:") {
            return Err(StoreError::BadUrl(
                "an SQLite URL needs a file path, e.g. sqlite://data/app.db".into(),
            ));
        }
        return Ok(Target::Sqlite(path.to_string()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Postgres(url.to_string()));
    }
    let scheme = url.split_once(':').map_or(url, |(s, _)| s);
    Err(StoreError::BadUrl(format!(
        "unsupported scheme {scheme:?}; use sqlite://path/to/file.db or postgres://user:pass@host/db"
    )))
}

/// Hides every secret of a database URL for messages and logs: the userinfo password
/// (`user:***@`) and secret query parameters (`?password=***`, `sslpassword=***`, anything whose
/// name contains `pass`, `secret` or `token`). When in doubt it hides more, never less.
pub fn redact(url: &str) -> String {
    let Some(s) = url.find("://") else {
        return redact_query(url);
    };
    let (head, rest) = url.split_at(s + 3);
    // The last `@` ends the userinfo (a password may hold `@`, `/` or `?` unescaped).
    let (userinfo, after) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at..]),
        None => (None, rest),
    };
    let userinfo = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, _)) => format!("{user}:***"),
            None => u.to_string(),
        },
        None => String::new(),
    };
    format!("{head}{userinfo}{}", redact_query(after))
}

fn redact_query(s: &str) -> String {
    let Some((before, query)) = s.split_once('?') else {
        return s.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret_key(k) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{before}?{}", pairs.join("&"))
}

fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"].iter().any(|w| k.contains(w))
}

/// One pool per backend compiled in.
pub enum DbPool {
    #[cfg(feature = "sqlite")]
    Sqlite(Pool<ConnectionManager<diesel::SqliteConnection>>),
    #[cfg(feature = "postgres")]
    Pg(Pool<ConnectionManager<diesel::PgConnection>>),
}

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(p) => write!(f, "DbPool::Sqlite({:?})", p.state()),
            #[cfg(feature = "postgres")]
            DbPool::Pg(p) => write!(f, "DbPool::Pg({:?})", p.state()),
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite_setup {
    use diesel::connection::SimpleConnection;
    use diesel::r2d2::CustomizeConnection;
    use diesel::SqliteConnection;

    use super::Durability;

    /// A busy timeout instead of an immediate "database is locked", enforced foreign keys, and
    /// the durability level on every pooled connection. (WAL is set once, before the pool opens:
    /// it is a property of the file, and switching concurrently from several connections fails.)
    ///
    /// `synchronous = FULL` in WAL mode syncs the WAL at every commit, so a commit that returned
    /// survives a power cut; `NORMAL` syncs only at checkpoints and may lose the last commits.
    ///
    /// No connection checkpoints the WAL inside its own commits (`wal_autocheckpoint = 0`): the
    /// store's checkpoint thread does it (see `crate::checkpoint`).
    #[derive(Debug)]
    pub struct Pragmas(pub Durability);

    impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
        fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
            let synchronous = super::sqlite_synchronous(self.0);
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = 15000; PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous}; \
                 PRAGMA wal_autocheckpoint = 0;"
            ))
            .map_err(diesel::r2d2::Error::QueryError)
        }
    }

    pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
        diesel_migrations::embed_migrations!("../../migrations/sqlite");
}

#[cfg(feature = "postgres")]
mod pg_setup {
    use diesel::connection::SimpleConnection;
    use diesel::r2d2::CustomizeConnection;
    use diesel::PgConnection;

    use super::Durability;

    /// `synchronous_commit` on every pooled connection: `on` waits for the WAL flush before a
    /// commit returns (whatever the server's default is); `off` may lose the last commits.
    #[derive(Debug)]
    pub struct Settings(pub Durability);

    impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for Settings {
        fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
            let value = match self.0 {
                Durability::Durable => "on",
                Durability::Relaxed => "off",
            };
            conn.batch_execute(&format!("SET synchronous_commit = {value};"))
                .map_err(diesel::r2d2::Error::QueryError)
        }
    }

    pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
        diesel_migrations::embed_migrations!("../../migrations/postgres");
}

/// SQLite's `synchronous` for a durability level.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite_synchronous(durability: Durability) -> &'static str {
    match durability {
        Durability::Durable => "FULL",
        Durability::Relaxed => "NORMAL",
    }
}

/// Whether a commit waits until it is on stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The default: a commit returns only after it is on stable storage (SQLite
    /// `synchronous = FULL`, PostgreSQL `synchronous_commit = on`), so nothing acknowledged is
    /// lost on a power cut or OS crash.
    #[default]
    Durable,
    /// Faster commits that **can lose acknowledged payments on a power cut or OS crash** (SQLite
    /// `synchronous = NORMAL`, PostgreSQL `synchronous_commit = off`): the provider got its 200
    /// and will not send the event again. For benchmarks and scratch databases only.
    Relaxed,
}

impl Durability {
    /// `durable` or `relaxed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Durable => "durable",
            Durability::Relaxed => "relaxed",
        }
    }

    /// Parses `durable` / `relaxed` (case-insensitive).
    pub fn parse(text: &str) -> Option<Durability> {
        match text.trim().to_ascii_lowercase().as_str() {
            "durable" => Some(Durability::Durable),
            "relaxed" => Some(Durability::Relaxed),
            _ => None,
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
    pub durability: Durability,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
            durability: Durability::Durable,
        }
    }
}

/// Opens the pool for `url` and applies pending migrations.
pub fn open(url: &str, options: &PoolOptions) -> Result<DbPool, StoreError> {
    match parse_url(url)? {
        Target::Sqlite(path) => open_sqlite(&path, options),
        Target::Postgres(url) => open_pg(&url, options),
    }
}

#[cfg(feature = "sqlite")]
fn open_sqlite(path: &str, options: &PoolOptions) -> Result<DbPool, StoreError> {
    use diesel_migrations::MigrationHarness;

    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("cannot create folder {}: {e}", parent.display()))
            })?;
        }
    }
    {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut first = diesel::SqliteConnection::establish(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open SQLite database {path}: {e}")))?;
        first.batch_execute("PRAGMA busy_timeout = 15000; PRAGMA journal_mode = WAL;")?;
        first
            .run_pending_migrations(sqlite_setup::MIGRATIONS)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
    }
    let pool = Pool::builder()
        .max_size(options.max_size)
        .connection_timeout(options.connection_timeout)
        .connection_customizer(Box::new(sqlite_setup::Pragmas(options.durability)))
        .build(ConnectionManager::<diesel::SqliteConnection>::new(path))
        .map_err(|e| StoreError::Unavailable(format!("cannot open SQLite database {path}: {e}")))?;
    Ok(DbPool::Sqlite(pool))
}

#[cfg(not(feature = "sqlite"))]
fn open_sqlite(_: &str, _: &PoolOptions) -> Result<DbPool, StoreError> {
    Err(StoreError::BackendNotCompiled {
        backend: "SQLite",
        feature: "sqlite",
    })
}

#[cfg(feature = "postgres")]
fn open_pg(url: &str, options: &PoolOptions) -> Result<DbPool, StoreError> {
    use diesel::RunQueryDsl;
    use diesel_migrations::MigrationHarness;

    let pool = Pool::builder()
        .max_size(options.max_size)
        .connection_timeout(options.connection_timeout)
        .connection_customizer(Box::new(pg_setup::Settings(options.durability)))
        .build(ConnectionManager::<diesel::PgConnection>::new(url))
        .map_err(|e| {
            StoreError::Unavailable(format!("cannot connect to PostgreSQL at {}: {e}", redact(url)))
        })?;
    let mut conn = pool.get()?;
    // Several instances may start at once against one database: migrate one at a time.
    diesel::sql_query("SELECT pg_advisory_lock(727274)").execute(&mut conn)?;
    let migrated = conn
        .run_pending_migrations(pg_setup::MIGRATIONS)
        .map(|_| ())
        .map_err(|e| StoreError::Migration(e.to_string()));
    diesel::sql_query("SELECT pg_advisory_unlock(727274)").execute(&mut conn)?;
    migrated?;
    Ok(DbPool::Pg(pool))
}

#[cfg(not(feature = "postgres"))]
fn open_pg(_: &str, _: &PoolOptions) -> Result<DbPool, StoreError> {
    Err(StoreError::BackendNotCompiled {
        backend: "PostgreSQL",
        feature: "postgres",
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn every_secret_form_of_a_database_url_is_hidden() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/pay"),
            "postgres://app:***@db:5432/pay"
        );
        assert_eq!(
            redact("postgres://app@db/pay?sslmode=require&password=s3cret"),
            "postgres://app@db/pay?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgresql://db/pay?PassWord=s3cret&sslpassword=k3y&application_name=x"),
            "postgresql://db/pay?PassWord=***&sslpassword=***&application_name=x"
        );
        let odd = redact("postgres://app:p@ss?w/rd@db/pay");
        assert!(!odd.contains("ss?w") && !odd.contains("rd@"), "{odd}");
        assert_eq!(redact("sqlite://data/app.db"), "sqlite://data/app.db");
    }
}
