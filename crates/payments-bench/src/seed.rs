//! Bulk seeding for `--portal`: usage records, receipts, payments and audit entries written by
//! `INSERT … SELECT` over a generated series in the database itself (not the request path, not
//! row by row), so that a centre's history (a million receipts, ten million audit entries) is
//! ready in minutes. Twenty payers `p01`…`p20` share the bulk; the payer `payer` gets a tenth of
//! the usage records, billed a month at a time through the store's own operation.

use payments_store::Store;

use super::Failure;

/// 2025-12-01 00:00 UTC: the history spans twelve months of 30 days from here.
pub const START: i64 = 1_764_547_200;
pub const MONTH: i64 = 30 * 86_400;
const SPAN: i64 = 12 * MONTH;
/// Receipts of `payer`, one a month for the first eleven months.
pub const PAYER_RECEIPTS: usize = 11;
pub const OTHER_PAYERS: usize = 20;

/// How much history to seed.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Usage records of the twenty other payers.
    pub usage: usize,
    /// Usage records of `payer`.
    pub payer_usage: usize,
    pub receipts: usize,
    pub audit: usize,
}

fn err(e: impl std::fmt::Display) -> Failure {
    e.to_string()
}

/// The SQL dialect's pieces used here.
struct Dialect {
    postgres: bool,
}

impl Dialect {
    /// `INSERT INTO {into} SELECT {select} …` over `x` in `0..n`.
    fn insert_series(&self, into: &str, select: &str, n: usize) -> String {
        let last = n.saturating_sub(1);
        if self.postgres {
            format!("INSERT INTO {into} SELECT {select} FROM generate_series(0::bigint, {last}) AS s(x)")
        } else {
            format!(
                "WITH RECURSIVE s(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM s WHERE x < {last}) \
                 INSERT INTO {into} SELECT {select} FROM s"
            )
        }
    }

    /// `expr` as decimal text, zero-padded to `width` digits.
    fn pad(&self, expr: &str, width: usize) -> String {
        if self.postgres {
            format!("lpad(CAST({expr} AS text), {width}, '0')")
        } else {
            format!("printf('%0{width}d', {expr})")
        }
    }
}

/// Seeds `sizes` of history into the fresh database behind `store`, whose accounts `payer` and
/// `root` exist already. Returns the id of `payer`'s largest monthly receipt and of one
/// single-line receipt of another payer.
pub fn seed(store: &Store, sizes: Sizes) -> Result<(i64, i64), Failure> {
    let sql = Dialect {
        postgres: store.backend() == "postgres",
    };
    let run = |text: String| {
        store
            .execute_sql_for_tests(&text)
            .map_err(|e| format!("{e}: {text}"))
    };
    let payer = store.user_by_username("payer").map_err(err)?.ok_or("no payer")?;
    let others = (1..=OTHER_PAYERS)
        .map(|i| {
            format!("SELECT 'p{i:02}', password_hash, role, created_at FROM users WHERE username = 'payer'")
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    run(format!(
        "INSERT INTO users (username, password_hash, role, created_at) {others}"
    ))?;
    let first = store.user_by_username("p01").map_err(err)?.ok_or("no p01")?.id;
    let last = store.user_by_username("p20").map_err(err)?.ok_or("no p20")?.id;
    if last != first + OTHER_PAYERS as i64 - 1 {
        return Err(format!(
            "the other payers' ids are not consecutive ({first}..{last})"
        ));
    }

    // Other payers' receipts, oldest first (ids 1…), a mix of statuses; each of the first ones
    // bills one usage record below.
    let receipts = sizes.receipts.saturating_sub(PAYER_RECEIPTS).max(1);
    let others_usage = sizes.usage;
    let slots = receipts.max(others_usage) as i64;
    let at = |expr: &str| format!("{START} + ({expr}) * {SPAN} / {slots}");
    let class = "((x / 20) % 20)";
    run(sql.insert_series(
        "receipts (user_id, currency, total_minor, status, created_at, paid_at)",
        &format!(
            "{first} + x % 20, 'THB', 1234 + (x % 1000) * 7, \
             CASE WHEN {class} < 12 THEN 'paid' WHEN {class} = 12 THEN 'refunded' \
                  WHEN {class} = 13 THEN 'void' ELSE 'unpaid' END, \
             {} + 3600, CASE WHEN {class} < 13 THEN {} + 7200 ELSE NULL END",
            at("x"),
            at("x")
        ),
        receipts,
    ))?;
    let first_receipt = 1_i64;
    let probe = store
        .receipt(first_receipt)
        .map_err(err)?
        .ok_or("receipt 1 was not made")?;
    if probe.user_id != first {
        return Err("the seeded receipts do not start at id 1".into());
    }
    run(
        "INSERT INTO payments (public_id, receipt_id, provider, external_id, idempotency_key, amount_minor, \
         currency, status, checkout_url, created_at, updated_at, refunded_minor, second_payment) \
         SELECT 'pay_' || r.id, r.id, 'stripe', 'cs_bench_' || r.id, 'idem_' || r.id, r.total_minor, 'THB', \
         CASE r.status WHEN 'paid' THEN 'succeeded' ELSE 'refunded' END, NULL, r.created_at, r.paid_at, \
         CASE r.status WHEN 'refunded' THEN r.total_minor ELSE 0 END, FALSE \
         FROM receipts r WHERE r.status IN ('paid', 'refunded')"
            .to_string(),
    )?;

    // Other payers' usage: one record per receipt while there are receipts, then unbilled.
    run(sql.insert_series(
        "usage_records (user_id, job_id, description, cpu_core_seconds, gpu_seconds, ended_at, cost_minor, \
         currency, receipt_id, created_at)",
        &format!(
            "{first} + x % 20, 'job-' || {}, 'bench job', 3600, 0, {}, 1234 + (x % 1000) * 7, 'THB', \
             CASE WHEN x < {receipts} THEN {first_receipt} + x ELSE NULL END, {START}",
            sql.pad("x", 9),
            at("x")
        ),
        others_usage,
    ))?;

    // `payer`: a tenth of the records over twelve months, the first eleven billed a month each.
    let mine = sizes.payer_usage.max(1);
    run(sql.insert_series(
        "usage_records (user_id, job_id, description, cpu_core_seconds, gpu_seconds, ended_at, cost_minor, \
         currency, receipt_id, created_at)",
        &format!(
            "{}, 'payer-job-' || {}, 'bench job', 360, 0, {START} + x * {SPAN} / {mine}, 100, 'THB', NULL, {START}",
            payer.id,
            sql.pad("x", 8)
        ),
        mine,
    ))?;
    let mut largest = (0, 0);
    for month in 0..PAYER_RECEIPTS as i64 {
        let since = START + month * MONTH;
        let (receipt, records) = store
            .create_receipt_for_unbilled(payer.id, Some(since), Some(since + MONTH), "bench")
            .map_err(err)?;
        if records >= largest.1 {
            largest = (receipt.id, records);
        }
    }

    // The audit log: what a centre's log holds, spread over the twelve months.
    let actor = format!(
        "CASE x % 8 WHEN 2 THEN 'webhook:stripe' WHEN 3 THEN 'webhook:stripe' WHEN 5 THEN 'root' \
         WHEN 6 THEN 'system' ELSE 'p' || {} END",
        sql.pad("x % 20 + 1", 2)
    );
    let action = "CASE x % 8 WHEN 0 THEN 'receipt.create' WHEN 1 THEN 'payment.intent' \
                  WHEN 2 THEN 'payment.webhook' WHEN 3 THEN 'payment.finalize' WHEN 4 THEN 'user.login' \
                  WHEN 5 THEN 'payment.refund' WHEN 6 THEN 'payment.reconcile' ELSE 'payment.close' END";
    let receipt = format!("1 + x % {receipts}");
    run(sql.insert_series(
        "audit_log (created_at, actor, action, subject, receipt_id, payment_id, detail)",
        &format!(
            "{START} + x * {SPAN} / {}, {actor}, {action}, 'receipt ' || ({receipt}), {receipt}, NULL, \
             '{{\"event\":\"evt_bench_' || x || '\",\"total\":\"THB ' || (x % 1000) || '.00\"}}'",
            sizes.audit.max(1)
        ),
        sizes.audit.max(1),
    ))?;
    // What PostgreSQL's triggers left pending for the receipts' sums, folded as the server
    // does every few seconds.
    store.fold_receipt_sums().map_err(err)?;
    run(if sql.postgres {
        "VACUUM ANALYZE".to_string()
    } else {
        "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)".to_string()
    })?;
    Ok((largest.0, first_receipt))
}
