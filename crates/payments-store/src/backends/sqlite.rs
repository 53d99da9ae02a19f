//! The operations compiled for SQLite.
pub(crate) type Conn = diesel::SqliteConnection;
#[path = "../ops/mod.rs"]
pub(crate) mod ops;
