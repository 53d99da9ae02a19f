use diesel::prelude::*;
use payments_core::{unix_now, Currency, MinorUnits};

use super::Conn;
use crate::models::{ReceiptMoney, ReceiptRow, ReceiptStatus, UsageRow};
use crate::schema::{receipts, usage_records, users};
use crate::StoreError;

/// Bills the given unbilled records of one user on a new receipt.
pub fn create_from_usage(c: &mut Conn, user_id: i64, record_ids: &[i64]) -> Result<ReceiptRow, StoreError> {
    let mut ids = record_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(StoreError::Invalid("select at least one usage record".into()));
    }
    let records: Vec<UsageRow> = usage_records::table
        .filter(usage_records::id.eq_any(&ids))
        .filter(usage_records::user_id.eq(user_id))
        .filter(usage_records::receipt_id.is_null())
        .select(UsageRow::as_select())
        .load(c)?;
    if records.len() != ids.len() {
        return Err(StoreError::Invalid(format!(
            "{} of the {} selected records are not yours or are already billed",
            ids.len() - records.len(),
            ids.len()
        )));
    }
    let currency =
        Currency::from_code(&records[0].currency).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if records.iter().any(|r| r.currency != records[0].currency) {
        return Err(StoreError::Invalid(
            "the selected records are in different currencies".into(),
        ));
    }
    let total = MinorUnits::checked_sum(records.iter().map(|r| MinorUnits(r.cost_minor)))
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let receipt: ReceiptRow = diesel::insert_into(receipts::table)
        .values((
            receipts::user_id.eq(user_id),
            receipts::currency.eq(currency.code()),
            receipts::total_minor.eq(total.get()),
            receipts::status.eq(ReceiptStatus::Unpaid.as_str()),
            receipts::created_at.eq(unix_now()),
        ))
        .returning(ReceiptRow::as_returning())
        .get_result(c)?;
    let billed = diesel::update(
        usage_records::table
            .filter(usage_records::id.eq_any(&ids))
            .filter(usage_records::receipt_id.is_null()),
    )
    .set(usage_records::receipt_id.eq(receipt.id))
    .execute(c)?;
    if billed != ids.len() {
        return Err(StoreError::Conflict("some records were billed meanwhile".into()));
    }
    Ok(receipt)
}

pub fn by_id(c: &mut Conn, id: i64) -> Result<Option<ReceiptRow>, StoreError> {
    Ok(receipts::table
        .find(id)
        .select(ReceiptRow::as_select())
        .first(c)
        .optional()?)
}

pub fn for_user(c: &mut Conn, user_id: i64) -> Result<Vec<ReceiptRow>, StoreError> {
    Ok(receipts::table
        .filter(receipts::user_id.eq(user_id))
        .order(receipts::id.desc())
        .select(ReceiptRow::as_select())
        .load(c)?)
}

/// A user's newest receipts, at most `limit`, and how many they have in all.
pub fn for_user_newest(c: &mut Conn, user_id: i64, limit: i64) -> Result<(Vec<ReceiptRow>, i64), StoreError> {
    let rows = receipts::table
        .filter(receipts::user_id.eq(user_id))
        .order(receipts::id.desc())
        .limit(limit)
        .select(ReceiptRow::as_select())
        .load(c)?;
    let count = receipts::table
        .filter(receipts::user_id.eq(user_id))
        .count()
        .get_result(c)?;
    Ok((rows, count))
}

/// All receipts with their owner's name, newest first.
/// Receipts matching `f`, newest first, at most `limit`.
pub fn matching(
    c: &mut Conn,
    f: &crate::models::ReceiptFilter,
    cursor: crate::models::ReceiptCursor,
    limit: i64,
) -> Result<Vec<(ReceiptRow, String)>, StoreError> {
    use crate::models::ReceiptCursor;
    let mut q = receipts::table.inner_join(users::table).into_boxed();
    match cursor {
        ReceiptCursor::Newest => {}
        ReceiptCursor::Before(id) => q = q.filter(receipts::id.lt(id)),
        ReceiptCursor::After(id) => q = q.filter(receipts::id.gt(id)),
    }
    if let Some(status) = &f.status {
        q = q.filter(receipts::status.eq(status.clone()));
    }
    if let Some(user) = &f.username {
        q = q.filter(users::username.eq(user.clone()));
    }
    if let Some(since) = f.since {
        q = q.filter(receipts::created_at.ge(since));
    }
    if let Some(until) = f.until {
        q = q.filter(receipts::created_at.lt(until));
    }
    if let Some(provider) = &f.provider {
        use crate::schema::payments;
        q = q.filter(
            receipts::id.eq_any(
                payments::table
                    .filter(payments::provider.eq(provider.clone()))
                    .select(payments::receipt_id),
            ),
        );
    }
    if let Some(text) = &f.search {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let like = users::username.like(format!("%{escaped}%")).escape('\\');
        q = match text.trim_start_matches('#').parse::<i64>() {
            Ok(id) => q.filter(like.or(receipts::id.eq(id))),
            Err(_) => q.filter(like),
        };
    }
    let q = q
        .limit(limit.max(1))
        .select((ReceiptRow::as_select(), users::username));
    Ok(match cursor {
        // Newer ones: the nearest above the position, shown newest first.
        ReceiptCursor::After(_) => {
            let mut rows: Vec<(ReceiptRow, String)> = q.order(receipts::id.asc()).load(c)?;
            rows.reverse();
            rows
        }
        _ => q.order(receipts::id.desc()).load(c)?,
    })
}

pub fn all(c: &mut Conn, limit: i64, offset: i64) -> Result<Vec<(ReceiptRow, String)>, StoreError> {
    Ok(receipts::table
        .inner_join(users::table)
        .order(receipts::id.desc())
        .limit(limit)
        .offset(offset)
        .select((ReceiptRow::as_select(), users::username))
        .load(c)?)
}

/// Voids an unpaid receipt: its status becomes `void` and its usage records are unbilled again
/// (free for another receipt). Refused when the receipt is not unpaid (decided by a conditional
/// update, so a payment finalizing at the same moment wins or loses cleanly). Returns the
/// receipt as voided and how many records were freed.
pub fn void(c: &mut Conn, id: i64) -> Result<(ReceiptRow, usize), StoreError> {
    let changed = diesel::update(
        receipts::table
            .filter(receipts::id.eq(id))
            .filter(receipts::status.eq(ReceiptStatus::Unpaid.as_str())),
    )
    .set(receipts::status.eq(ReceiptStatus::Void.as_str()))
    .execute(c)?;
    let receipt = by_id(c, id)?.ok_or_else(|| StoreError::NotFound(format!("receipt {id}")))?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "receipt {id} is {}: only an unpaid receipt can be voided",
            receipt.status
        )));
    }
    let freed = diesel::update(usage_records::table.filter(usage_records::receipt_id.eq(id)))
        .set(usage_records::receipt_id.eq(None::<i64>))
        .execute(c)?;
    Ok((receipt, freed))
}

#[derive(diesel::QueryableByName)]
struct UnbilledSum {
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    records: i64,
}

/// Bills every unbilled record of one user that ended in `[since, until)` (either end open) on
/// one new receipt, in one statement whatever their number. Refused when there is none, or
/// when they are in more than one currency. Returns the receipt and how many records it holds.
pub fn create_for_unbilled(
    c: &mut Conn,
    user_id: i64,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<(ReceiptRow, i64), StoreError> {
    use diesel::sql_types::BigInt;
    let (since, until) = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
    // The sum is checked: SQLite's SUM fails on overflow, PostgreSQL's numeric does not fit the
    // cast to BIGINT.
    let sums: Vec<UnbilledSum> = diesel::sql_query(
        "SELECT currency, CAST(SUM(cost_minor) AS BIGINT) AS total, COUNT(*) AS records \
         FROM usage_records WHERE user_id = $1 AND receipt_id IS NULL AND ended_at >= $2 AND ended_at < $3 \
         GROUP BY currency",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(since)
    .bind::<BigInt, _>(until)
    .load(c)?;
    let sum = match &sums[..] {
        [] => return Err(StoreError::Invalid("there is no unbilled usage in these dates".into())),
        [one] => one,
        _ => {
            return Err(StoreError::Invalid(
                "the unbilled usage in these dates is in more than one currency: bill each currency on its own receipt".into(),
            ))
        }
    };
    let currency = Currency::from_code(&sum.currency).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let receipt: ReceiptRow = diesel::insert_into(receipts::table)
        .values((
            receipts::user_id.eq(user_id),
            receipts::currency.eq(currency.code()),
            receipts::total_minor.eq(sum.total),
            receipts::status.eq(ReceiptStatus::Unpaid.as_str()),
            receipts::created_at.eq(unix_now()),
        ))
        .returning(ReceiptRow::as_returning())
        .get_result(c)?;
    let billed = diesel::update(
        usage_records::table
            .filter(usage_records::user_id.eq(user_id))
            .filter(usage_records::receipt_id.is_null())
            .filter(usage_records::ended_at.ge(since))
            .filter(usage_records::ended_at.lt(until)),
    )
    .set(usage_records::receipt_id.eq(receipt.id))
    .execute(c)?;
    if billed as i64 != sum.records {
        return Err(StoreError::Conflict(
            "usage was billed or imported meanwhile; try again".into(),
        ));
    }
    Ok((receipt, sum.records))
}

/// [`ReceiptMoney`] of each of `receipt_ids` that has a payment, read in chunks (so that any
/// number of ids stays under the backends' bind limits).
pub fn money(
    c: &mut Conn,
    receipt_ids: &[i64],
) -> Result<std::collections::HashMap<i64, ReceiptMoney>, StoreError> {
    use crate::schema::{disputes, payments, refunds};
    let mut out: std::collections::HashMap<i64, ReceiptMoney> = std::collections::HashMap::new();
    for chunk in receipt_ids.chunks(5_000) {
        let paid: Vec<(i64, i64, i64, String, Option<String>)> = payments::table
            .filter(payments::receipt_id.eq_any(chunk))
            .filter(payments::status.eq_any(["succeeded", "refunded"]))
            .order((payments::receipt_id, payments::created_at, payments::id))
            .select((
                payments::receipt_id,
                payments::amount_minor,
                payments::refunded_minor,
                payments::provider,
                payments::external_id,
            ))
            .load(c)?;
        for (receipt, amount, refunded, provider, external) in paid {
            let m = out.entry(receipt).or_default();
            m.paid_minor = m
                .paid_minor
                .checked_add(amount)
                .ok_or_else(|| StoreError::Corrupt("paid total overflows".into()))?;
            m.refunded_minor = m
                .refunded_minor
                .checked_add(refunded)
                .ok_or_else(|| StoreError::Corrupt("refunded total overflows".into()))?;
            m.providers.push((provider, external.unwrap_or_default()));
        }
        let counted: Vec<i64> = refunds::table
            .inner_join(payments::table)
            .filter(payments::receipt_id.eq_any(chunk))
            .select(payments::receipt_id)
            .load(c)?;
        for receipt in counted {
            out.entry(receipt).or_default().refunds += 1;
        }
        let disputed: Vec<i64> = disputes::table
            .inner_join(payments::table)
            .filter(payments::receipt_id.eq_any(chunk))
            .select(payments::receipt_id)
            .load(c)?;
        for receipt in disputed {
            out.entry(receipt).or_default().disputed = true;
        }
    }
    Ok(out)
}

/// The providers that stored payments name (each once).
pub fn payment_providers(c: &mut Conn) -> Result<Vec<String>, StoreError> {
    use crate::schema::payments;
    Ok(payments::table
        .select(payments::provider)
        .distinct()
        .order(payments::provider)
        .load(c)?)
}

#[derive(diesel::QueryableByName)]
struct CurrencySums {
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    first: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    second: i64,
}

/// `SELECT {select} FROM receipts r JOIN users u ... {join} WHERE <f> GROUP BY r.currency` with
/// `f`'s conditions as bound parameters (`$1`, `$2`, ... in order, which SQLite reads as named
/// parameters numbered by first appearance), and receipts from id `min_id` on.
fn sums(
    c: &mut Conn,
    select: &str,
    join: &str,
    f: &crate::models::ReceiptFilter,
    min_id: Option<i64>,
) -> Result<Vec<CurrencySums>, StoreError> {
    use diesel::sql_types::{BigInt, Text};
    type Backend = <Conn as diesel::Connection>::Backend;
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut sql = format!("SELECT r.currency AS currency, {select} FROM receipts r JOIN users u ON u.id = r.user_id {join} WHERE 1 = 1");
    let mut q = diesel::sql_query("").into_boxed::<Backend>();
    // Each condition's text first (its placeholders numbered in order), then its binds.
    let mut texts: Vec<String> = Vec::new();
    if f.status.is_some() {
        texts.push(format!(" AND r.status = {}", next()));
    }
    if f.username.is_some() {
        texts.push(format!(" AND u.username = {}", next()));
    }
    if f.since.is_some() {
        texts.push(format!(" AND r.created_at >= {}", next()));
    }
    if f.until.is_some() {
        texts.push(format!(" AND r.created_at < {}", next()));
    }
    let search_id = f
        .search
        .as_deref()
        .and_then(|t| t.trim_start_matches('#').parse::<i64>().ok());
    if f.search.is_some() {
        let like = next();
        match search_id {
            Some(_) => texts.push(format!(
                " AND (u.username LIKE {like} ESCAPE '\\' OR r.id = {})",
                next()
            )),
            None => texts.push(format!(" AND u.username LIKE {like} ESCAPE '\\'")),
        }
    }
    if f.provider.is_some() {
        texts.push(format!(
            " AND r.id IN (SELECT receipt_id FROM payments WHERE provider = {})",
            next()
        ));
    }
    if min_id.is_some() {
        texts.push(format!(" AND r.id >= {}", next()));
    }
    sql.push_str(&texts.concat());
    sql.push_str(" GROUP BY r.currency ORDER BY r.currency");
    q = q.sql(sql);
    if let Some(s) = &f.status {
        q = q.bind::<Text, _>(s.clone());
    }
    if let Some(u) = &f.username {
        q = q.bind::<Text, _>(u.clone());
    }
    if let Some(s) = f.since {
        q = q.bind::<BigInt, _>(s);
    }
    if let Some(u) = f.until {
        q = q.bind::<BigInt, _>(u);
    }
    if let Some(text) = &f.search {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        q = q.bind::<Text, _>(format!("%{escaped}%"));
        if let Some(id) = search_id {
            q = q.bind::<BigInt, _>(id);
        }
    }
    if let Some(p) = &f.provider {
        q = q.bind::<Text, _>(p.clone());
    }
    if let Some(id) = min_id {
        q = q.bind::<BigInt, _>(id);
    }
    Ok(q.load(c)?)
}

/// Per currency, over the receipts matching `f` (from id `min_id` on): `(currency, receipts,
/// billed, received, refunded)` in minor units, summed by the database (checked: SQLite's SUM
/// fails on overflow, PostgreSQL's cast to BIGINT does), never by loading the rows.
pub fn totals(
    c: &mut Conn,
    f: &crate::models::ReceiptFilter,
    min_id: Option<i64>,
) -> Result<Vec<crate::models::CurrencyTotal>, StoreError> {
    let billed = sums(
        c,
        "CAST(SUM(r.total_minor) AS BIGINT) AS first, CAST(COUNT(*) AS BIGINT) AS second",
        "",
        f,
        min_id,
    )?;
    let paid = sums(
        c,
        "CAST(SUM(p.amount_minor) AS BIGINT) AS first, CAST(SUM(p.refunded_minor) AS BIGINT) AS second",
        "JOIN payments p ON p.receipt_id = r.id AND p.status IN ('succeeded', 'refunded')",
        f,
        min_id,
    )?;
    Ok(billed
        .into_iter()
        .map(|b| {
            let (received, refunded) = paid
                .iter()
                .find(|p| p.currency == b.currency)
                .map_or((0, 0), |p| (p.first, p.second));
            crate::models::CurrencyTotal {
                currency: b.currency,
                receipts: b.second,
                billed_minor: b.first,
                received_minor: received,
                refunded_minor: refunded,
            }
        })
        .collect())
}
