//! The operations compiled for PostgreSQL.
pub(crate) type Conn = diesel::PgConnection;
// The same operations compiled once per backend, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "../ops/mod.rs"]
pub(crate) mod ops;
