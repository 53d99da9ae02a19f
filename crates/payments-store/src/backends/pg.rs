//! The operations compiled for PostgreSQL.
pub(crate) type Conn = diesel::PgConnection;
// The same operations compiled once per backend, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "../ops/mod.rs"]
pub(crate) mod ops;

/// Takes the payment row's lock (`SELECT ... FOR UPDATE`) for the rest of the transaction:
/// refunds of one payment are decided one at a time.
pub(crate) fn lock_payment(c: &mut Conn, payment_id: i64) -> Result<(), diesel::result::Error> {
    use crate::schema::payments;
    use diesel::prelude::*;
    payments::table
        .find(payment_id)
        .select(payments::id)
        .for_update()
        .first::<i64>(c)
        .optional()
        .map(|_| ())
}

/// Usage rows per insert: nine arrays whatever the size; bigger chunks, fewer round trips
/// (`payments-bench --import-rows 1000000` on a 2-core host: 1,000-row chunks 68,808 rows/s,
/// 5,000-row chunks 76,103 rows/s).
pub(crate) const USAGE_CHUNK: usize = 5_000;

#[derive(diesel::QueryableByName)]
struct WrittenUsage {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    user_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    job_id: String,
}

/// Inserts a chunk of usage rows in one statement with one array per column (`UNNEST`: nine
/// binds whatever the chunk's size, instead of nine per row), leaving out any the unique index
/// `(user_id, job_id)` already holds; returns the `(user_id, job_id)` written.
pub(crate) fn insert_usage(
    c: &mut Conn,
    rows: &crate::models::UsageColumns<'_>,
) -> Result<Vec<(i64, String)>, diesel::result::Error> {
    use diesel::sql_types::{Array, BigInt, Text};
    use diesel::RunQueryDsl;
    let written: Vec<WrittenUsage> = diesel::sql_query(
        "INSERT INTO usage_records (user_id, job_id, description, cpu_core_seconds, gpu_seconds, ended_at, \
         cost_minor, currency, created_at) \
         SELECT u, j, d, cpu, gpu, e, cost, cur, $9 FROM UNNEST($1::bigint[], $2::text[], $3::text[], \
         $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[]) AS t(u, j, d, cpu, gpu, e, cost, cur) \
         ON CONFLICT (user_id, job_id) DO NOTHING RETURNING user_id, job_id",
    )
    .bind::<Array<BigInt>, _>(&rows.user_id)
    .bind::<Array<Text>, _>(&rows.job_id)
    .bind::<Array<Text>, _>(&rows.description)
    .bind::<Array<BigInt>, _>(&rows.cpu_core_seconds)
    .bind::<Array<BigInt>, _>(&rows.gpu_seconds)
    .bind::<Array<BigInt>, _>(&rows.ended_at)
    .bind::<Array<BigInt>, _>(&rows.cost_minor)
    .bind::<Array<Text>, _>(&rows.currency)
    .bind::<BigInt, _>(rows.created_at)
    .load(c)?;
    Ok(written.into_iter().map(|w| (w.user_id, w.job_id)).collect())
}

/// Moves the pending changes of the receipts' sums into `receipt_sums` (see the migration
/// `receipt_sums`): taken and deleted in one statement, added up per key, upserted in key order.
pub(crate) fn fold_receipt_sums(c: &mut Conn) -> Result<usize, crate::StoreError> {
    use diesel::RunQueryDsl;
    Ok(diesel::sql_query(
        "WITH moved AS (DELETE FROM receipt_sums_pending RETURNING *) \
         INSERT INTO receipt_sums (user_id, day, status, currency, receipt_count, billed_minor, received_minor, refunded_minor) \
         SELECT user_id, day, status, currency, SUM(receipt_count), SUM(billed_minor), SUM(received_minor), SUM(refunded_minor) \
         FROM moved GROUP BY user_id, day, status, currency ORDER BY user_id, day, status, currency \
         ON CONFLICT (user_id, day, status, currency) DO UPDATE SET \
         receipt_count = receipt_sums.receipt_count + excluded.receipt_count, \
         billed_minor = receipt_sums.billed_minor + excluded.billed_minor, \
         received_minor = receipt_sums.received_minor + excluded.received_minor, \
         refunded_minor = receipt_sums.refunded_minor + excluded.refunded_minor",
    )
    .execute(c)?)
}
