//! The operations compiled for PostgreSQL.
pub(crate) type Conn = diesel::PgConnection;
#[path = "../ops/mod.rs"]
pub(crate) mod ops;
