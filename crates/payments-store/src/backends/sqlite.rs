//! The operations compiled for SQLite.
pub(crate) type Conn = diesel::SqliteConnection;
// The same operations compiled once per backend, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "../ops/mod.rs"]
pub(crate) mod ops;
