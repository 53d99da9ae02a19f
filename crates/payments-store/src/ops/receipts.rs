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
    let mut billed = super::usage::UnbilledDeltas::default();
    for r in &records {
        billed.add(r.user_id, r.ended_at, &r.currency, -1, -r.cost_minor);
    }
    billed.write(c)?;
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
        // Correlated: read newest first, each receipt looked up in `payments_by_provider`.
        q = q.filter(diesel::dsl::exists(
            payments::table
                .filter(payments::provider.eq(provider.clone()))
                .filter(payments::receipt_id.eq(receipts::id)),
        ));
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
    // Newest first by creation time, then number: each filter has an index in that order (see
    // the migration `receipt_sums`), so a page reads about its own rows whatever the history.
    let at = |c: &mut Conn, id: i64| -> Result<i64, StoreError> {
        Ok(receipts::table
            .filter(receipts::id.eq(id))
            .select(receipts::created_at)
            .first::<i64>(c)
            .optional()?
            .unwrap_or(if matches!(cursor, IdCursor::Before(_)) {
                i64::MAX
            } else {
                i64::MIN
            }))
    };
    match cursor {
        IdCursor::Newest => {}
        IdCursor::Before(id) => {
            let t = at(c, id)?;
            // The first bound gives the index range; the second the exact position.
            q = q
                .filter(receipts::created_at.le(t))
                .filter(receipts::created_at.lt(t).or(receipts::id.lt(id)));
        }
        IdCursor::After(id) => {
            let t = at(c, id)?;
            q = q
                .filter(receipts::created_at.ge(t))
                .filter(receipts::created_at.gt(t).or(receipts::id.gt(id)));
        }
    }
    let q = q
        .limit(limit.max(1))
        .select((ReceiptRow::as_select(), users::username));
    Ok(match cursor {
        // Newer ones: the nearest above the position, shown newest first.
        IdCursor::After(_) => {
            let mut rows: Vec<(ReceiptRow, String)> = q
                .order((receipts::created_at.asc(), receipts::id.asc()))
                .load(c)?;
            rows.reverse();
            rows
        }
        _ => q
            .order((receipts::created_at.desc(), receipts::id.desc()))
            .load(c)?,
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
    super::usage::UnbilledDeltas::of_receipt(c, id, 1)?.write(c)?;
    let freed = diesel::update(usage_records::table.filter(usage_records::receipt_id.eq(id)))
        .set(usage_records::receipt_id.eq(None::<i64>))
        .execute(c)?;
    Ok((receipt, freed))
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
    let (since, until) = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
    // Counted from the records (checked: SQLite's SUM fails on overflow, PostgreSQL's numeric
    // does not fit the cast to BIGINT), not the kept sums: this count is compared with the
    // update's below.
    let sums = super::usage::unbilled_totals_counted(c, user_id, (since, until))?;
    let (currency, total, records) = match &sums[..] {
        [] => return Err(StoreError::Invalid("there is no unbilled usage in these dates".into())),
        [one] => one,
        _ => {
            return Err(StoreError::Invalid(
                "the unbilled usage in these dates is in more than one currency: bill each currency on its own receipt".into(),
            ))
        }
    };
    let currency = Currency::from_code(currency).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let receipt = insert_unpaid(c, user_id, currency, *total)?;
    let billed = diesel::update(
        usage_records::table
            .filter(usage_records::user_id.eq(user_id))
            .filter(usage_records::receipt_id.is_null())
            .filter(usage_records::ended_at.ge(since))
            .filter(usage_records::ended_at.lt(until)),
    )
    .set(usage_records::receipt_id.eq(receipt.id))
    .execute(c)?;
    if billed as i64 != *records {
        return Err(StoreError::Conflict(
            "usage was billed or imported meanwhile; try again".into(),
        ));
    }
    super::usage::UnbilledDeltas::of_receipt(c, receipt.id, -1)?.write(c)?;
    Ok((receipt, *records))
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

/// Per currency, the count and money of the receipts matching `f`: from the sums the triggers
/// keep (`receipt_sums`, see its migration) when the filter is one of user, status and whole
/// UTC days, whatever the number of receipts; otherwise (a provider or a search) added up from
/// the receipts themselves when at most [`crate::RECEIPT_TOTALS_BOUND`] match, and `None` beyond.
pub fn totals(
    c: &mut Conn,
    f: &crate::models::ReceiptFilter,
) -> Result<Option<Vec<crate::models::CurrencyTotal>>, StoreError> {
    if let Some(kept) = kept_totals(c, f)? {
        return Ok(Some(kept));
    }
    let beyond: Vec<i64> = filtered(f)
        .select(receipts::id)
        .offset(crate::RECEIPT_TOTALS_BOUND)
        .limit(1)
        .load(c)?;
    if !beyond.is_empty() {
        return Ok(None);
    }
    added_up(c, f).map(Some)
}

#[derive(diesel::QueryableByName)]
struct KeptSum {
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    receipts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    billed: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    received: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    refunded: i64,
}

/// The totals from `receipt_sums` (and what is pending for it), when `f` is one they keep.
fn kept_totals(
    c: &mut Conn,
    f: &crate::models::ReceiptFilter,
) -> Result<Option<Vec<crate::models::CurrencyTotal>>, StoreError> {
    use diesel::sql_types::{BigInt, Text};
    const DAY: i64 = 86_400;
    if f.provider.is_some() || f.search.is_some() {
        return Ok(None);
    }
    let day = |t: Option<i64>, unbounded: i64| match t {
        None => Some(unbounded),
        Some(t) if t >= 0 && t % DAY == 0 => Some(t / DAY),
        Some(_) => None,
    };
    let (Some(from), Some(to)) = (day(f.since, 0), day(f.until, i64::MAX / DAY)) else {
        return Ok(None);
    };
    let user = match &f.username {
        None => 0,
        Some(name) => match users::table
            .filter(users::username.eq(name))
            .select(users::id)
            .first::<i64>(c)
            .optional()?
        {
            Some(id) => id,
            None => return Ok(Some(Vec::new())),
        },
    };
    let status = f.status.clone().unwrap_or_default();
    let rows: Vec<KeptSum> = diesel::sql_query(
        "SELECT currency, CAST(SUM(receipt_count) AS BIGINT) AS receipts, CAST(SUM(billed_minor) AS BIGINT) AS billed, \
         CAST(SUM(received_minor) AS BIGINT) AS received, CAST(SUM(refunded_minor) AS BIGINT) AS refunded FROM ( \
         SELECT currency, receipt_count, billed_minor, received_minor, refunded_minor FROM receipt_sums \
         WHERE user_id = $1 AND day >= $2 AND day < $3 AND ($4 = '' OR status = $4) \
         UNION ALL \
         SELECT currency, receipt_count, billed_minor, received_minor, refunded_minor FROM receipt_sums_pending \
         WHERE user_id = $1 AND day >= $2 AND day < $3 AND ($4 = '' OR status = $4) \
         ) AS kept GROUP BY currency HAVING SUM(receipt_count) <> 0 ORDER BY currency",
    )
    .bind::<BigInt, _>(user)
    .bind::<BigInt, _>(from)
    .bind::<BigInt, _>(to)
    .bind::<Text, _>(status)
    .load(c)?;
    Ok(Some(
        rows.into_iter()
            .map(|r| crate::models::CurrencyTotal {
                currency: r.currency,
                receipts: r.receipts,
                billed_minor: r.billed,
                received_minor: r.received,
                refunded_minor: r.refunded,
            })
            .collect(),
    ))
}

/// The totals added up from the matching receipts and their payments.
pub fn added_up(
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
