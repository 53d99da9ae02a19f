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

/// Usage rows per chunk: written with one `COPY` into the staging table and moved with one
/// `INSERT ... SELECT` (three statements a chunk whatever its size); bigger chunks, fewer round
/// trips and staging truncations (`payments-bench --import-rows 1000000`, 2-core host shared with
/// other builds, paired runs: 5,000-row chunks 71,653 and 67,641 rows/s, 20,000-row chunks 81,042
/// and 74,105, peak RSS 19 and 32 MB). The time goes to the server's work per row, whatever
/// carries the rows: the unique index's check, three indexes, the heap and the foreign key's
/// check of the user (a trigger per row); `COPY` instead of one `INSERT ... SELECT FROM UNNEST`
/// of nine arrays per chunk was about as fast (paired runs 54,442/44,074 rows/s against
/// 45,880/41,841).
pub(crate) const USAGE_CHUNK: usize = 20_000;

diesel::table! {
    /// The import's staging table (`begin_usage_import`): a chunk's rows as `COPY` writes them.
    usage_import (user_id, job_id) {
        user_id -> BigInt,
        job_id -> Text,
        description -> Text,
        cpu_core_seconds -> BigInt,
        gpu_seconds -> BigInt,
        ended_at -> BigInt,
        cost_minor -> BigInt,
        currency -> Text,
    }
}

/// Creates the import's staging table: temporary (this session's own, no WAL, no index, no
/// constraint) and dropped when the transaction ends, committed or not.
pub(crate) fn begin_usage_import(c: &mut Conn) -> Result<(), diesel::result::Error> {
    use diesel::RunQueryDsl;
    diesel::sql_query(
        "CREATE TEMP TABLE usage_import (user_id BIGINT NOT NULL, job_id TEXT NOT NULL, \
         description TEXT NOT NULL, cpu_core_seconds BIGINT NOT NULL, gpu_seconds BIGINT NOT NULL, \
         ended_at BIGINT NOT NULL, cost_minor BIGINT NOT NULL, currency TEXT NOT NULL) ON COMMIT DROP",
    )
    .execute(c)
    .map(|_| ())
}

#[derive(diesel::QueryableByName)]
struct WrittenUsage {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    user_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    job_id: String,
}

/// A chunk in `COPY`'s binary format: a header, per row the field count and each field as its
/// length and bytes (a `BIGINT` big-endian, a `TEXT` its UTF-8), and a trailer.
fn copy_data(rows: &crate::models::UsageColumns<'_>) -> Result<Vec<u8>, diesel::result::Error> {
    fn text(out: &mut Vec<u8>, value: &str) -> Result<(), diesel::result::Error> {
        let len =
            i32::try_from(value.len()).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }
    fn bigint(out: &mut Vec<u8>, value: i64) {
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
    let n = rows.user_id.len();
    let mut out = Vec::with_capacity(19 + n * 150 + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension
    for i in 0..n {
        out.extend_from_slice(&8i16.to_be_bytes());
        bigint(&mut out, rows.user_id[i]);
        text(&mut out, rows.job_id[i])?;
        text(&mut out, rows.description[i])?;
        bigint(&mut out, rows.cpu_core_seconds[i]);
        bigint(&mut out, rows.gpu_seconds[i]);
        bigint(&mut out, rows.ended_at[i]);
        bigint(&mut out, rows.cost_minor[i]);
        text(&mut out, rows.currency[i])?;
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Ok(out)
}

/// Inserts a chunk of usage rows: `COPY` (binary) into the staging table, then one
/// `INSERT ... SELECT` from it that leaves out any the unique index `(user_id, job_id)` already
/// holds, then empties the staging table; returns the `(user_id, job_id)` written.
pub(crate) fn insert_usage(
    c: &mut Conn,
    rows: &crate::models::UsageColumns<'_>,
) -> Result<Vec<(i64, String)>, diesel::result::Error> {
    use diesel::pg::CopyFormat;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    let data = copy_data(rows)?;
    diesel::copy_from(usage_import::table)
        .from_raw_data(usage_import::table, |out: &mut dyn std::io::Write| {
            out.write_all(&data)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
        })
        .with_format(CopyFormat::Binary)
        .execute(c)?;
    let written: Vec<WrittenUsage> = diesel::sql_query(
        "INSERT INTO usage_records (user_id, job_id, description, cpu_core_seconds, gpu_seconds, ended_at, \
         cost_minor, currency, created_at) \
         SELECT user_id, job_id, description, cpu_core_seconds, gpu_seconds, ended_at, cost_minor, currency, $1 \
         FROM usage_import ON CONFLICT (user_id, job_id) DO NOTHING RETURNING user_id, job_id",
    )
    .bind::<BigInt, _>(rows.created_at)
    .load(c)?;
    diesel::sql_query("TRUNCATE usage_import").execute(c)?;
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
