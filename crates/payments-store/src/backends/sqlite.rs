//! The operations compiled for SQLite.
pub(crate) type Conn = diesel::SqliteConnection;
// The same operations compiled once per backend, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "../ops/mod.rs"]
pub(crate) mod ops;

/// Nothing to do: every write transaction is `BEGIN IMMEDIATE`, so it already holds the
/// database's one write lock; refunds of one payment are decided one at a time.
pub(crate) fn lock_payment(_: &mut Conn, _: i64) -> Result<(), diesel::result::Error> {
    Ok(())
}
