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

/// Usage rows per insert: nine values each stays under SQLite's limit of 32,766 bound values.
pub(crate) const USAGE_CHUNK: usize = 1_000;

/// Nothing to prepare: each chunk is one multi-row insert.
pub(crate) fn begin_usage_import(_: &mut Conn) -> Result<(), diesel::result::Error> {
    Ok(())
}

/// Inserts a chunk of usage rows in one statement, leaving out any the unique index
/// `(user_id, job_id)` already holds; returns the `(user_id, job_id)` written.
pub(crate) fn insert_usage(
    c: &mut Conn,
    rows: &crate::models::UsageColumns<'_>,
) -> Result<Vec<(i64, String)>, diesel::result::Error> {
    use crate::schema::usage_records as u;
    use diesel::prelude::*;
    let values: Vec<_> = (0..rows.user_id.len())
        .map(|i| {
            (
                u::user_id.eq(rows.user_id[i]),
                u::job_id.eq(rows.job_id[i]),
                u::description.eq(rows.description[i]),
                u::cpu_core_seconds.eq(rows.cpu_core_seconds[i]),
                u::gpu_seconds.eq(rows.gpu_seconds[i]),
                u::ended_at.eq(rows.ended_at[i]),
                u::cost_minor.eq(rows.cost_minor[i]),
                u::currency.eq(rows.currency[i]),
                u::created_at.eq(rows.created_at),
            )
        })
        .collect();
    diesel::insert_into(u::table)
        .values(&values)
        .on_conflict_do_nothing()
        .returning((u::user_id, u::job_id))
        .get_results(c)
}

/// SQLite's triggers write `receipt_sums` directly (one writer at a time): nothing is pending.
pub(crate) fn fold_receipt_sums(_: &mut Conn) -> Result<usize, crate::StoreError> {
    Ok(0)
}
