//! The operations, written once against a concrete connection type (`super::Conn`) and compiled
//! once per backend (this file is included as `sqlite::ops` and `pg::ops`). Every function here
//! runs inside the transaction its caller in `Store` opened.

pub(crate) use super::{
    begin_usage_import, fold_receipt_sums, insert_usage, lock_payment, Conn, USAGE_CHUNK,
};

pub mod audit;
pub mod events;
pub mod ingest;
pub mod payments;
pub mod receipts;
pub mod refunds;
pub mod sessions;
pub mod set_based;
pub mod usage;
pub mod users;
