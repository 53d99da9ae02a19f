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
    let receipt = insert_unpaid(c, user_id, currency, total.get())?;
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

/// A new unpaid receipt of `user_id` for `total_minor` in `currency` (its records are billed on
/// it by the caller, in the same transaction).
fn insert_unpaid(
    c: &mut Conn,
    user_id: i64,
    currency: Currency,
    total_minor: i64,
) -> Result<ReceiptRow, StoreError> {
    Ok(diesel::insert_into(receipts::table)
        .values((
            receipts::user_id.eq(user_id),
            receipts::currency.eq(currency.code()),
            receipts::total_minor.eq(total_minor),
            receipts::status.eq(ReceiptStatus::Unpaid.as_str()),
            receipts::created_at.eq(unix_now()),
        ))
        .returning(ReceiptRow::as_returning())
        .get_result(c)?)
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

/// The receipts matching `f` (joined with their owner), as one query to page, count or sum.
fn filtered<'a>(
    f: &crate::models::ReceiptFilter,
) -> diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::InnerJoin<receipts::table, users::table>,
    <Conn as diesel::Connection>::Backend,
> {
    let mut q = receipts::table.inner_join(users::table).into_boxed();
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
    q
}

/// At most `limit` receipts matching `f` from `cursor` (keyset on the id), newest first, with
/// their owner's name.
pub fn matching(
    c: &mut Conn,
    f: &crate::models::ReceiptFilter,
    cursor: crate::models::IdCursor,
    limit: i64,
) -> Result<Vec<(ReceiptRow, String)>, StoreError> {
    use crate::models::IdCursor;
    let mut q = filtered(f);
    match cursor {
        IdCursor::Newest => {}
        IdCursor::Before(id) => q = q.filter(receipts::id.lt(id)),
        IdCursor::After(id) => q = q.filter(receipts::id.gt(id)),
    }
    let q = q
        .limit(limit.max(1))
        .select((ReceiptRow::as_select(), users::username));
    Ok(match cursor {
        // Newer ones: the nearest above the position, shown newest first.
        IdCursor::After(_) => {
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
    let receipt = insert_unpaid(c, user_id, currency, sum.total)?;
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

/// Per currency, over the receipts matching `f`: how many, and what they billed, received and had
/// refunded, in minor units, counted and summed by the database (checked: SQLite's SUM fails on
/// overflow, PostgreSQL's cast to BIGINT does), never by loading the rows. The same filter as
/// the list's ([`matching`]), as a subquery.
pub fn totals(
    c: &mut Conn,
    f: &crate::models::ReceiptFilter,
) -> Result<Vec<crate::models::CurrencyTotal>, StoreError> {
    use crate::schema::payments;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let billed: Vec<(String, i64, i64)> = receipts::table
        .filter(receipts::id.eq_any(filtered(f).select(receipts::id)))
        .group_by(receipts::currency)
        .select((
            receipts::currency,
            sql::<BigInt>("CAST(COUNT(*) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(receipts.total_minor) AS BIGINT)"),
        ))
        .load(c)?;
    let paid: Vec<(String, i64, i64)> = payments::table
        .filter(payments::status.eq_any(["succeeded", "refunded"]))
        .filter(payments::receipt_id.eq_any(filtered(f).select(receipts::id)))
        .group_by(payments::currency)
        .select((
            payments::currency,
            sql::<BigInt>("CAST(SUM(payments.amount_minor) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(payments.refunded_minor) AS BIGINT)"),
        ))
        .load(c)?;
    let mut out: Vec<crate::models::CurrencyTotal> = billed
        .into_iter()
        .map(|(currency, receipts, billed_minor)| {
            let (received_minor, refunded_minor) = paid
                .iter()
                .find(|p| p.0 == currency)
                .map_or((0, 0), |p| (p.1, p.2));
            crate::models::CurrencyTotal {
                currency,
                receipts,
                billed_minor,
                received_minor,
                refunded_minor,
            }
        })
        .collect();
    out.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(out)
}
