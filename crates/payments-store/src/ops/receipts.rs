use diesel::prelude::*;
use payments_core::{unix_now, Currency, MinorUnits};

use super::Conn;
use crate::models::{ReceiptRow, ReceiptStatus, UsageRow};
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

/// All receipts with their owner's name, newest first.
/// Receipts matching `f`, newest first, at most `limit`.
pub fn matching(
    c: &mut Conn,
    f: &crate::models::ReceiptFilter,
    limit: i64,
) -> Result<Vec<(ReceiptRow, String)>, StoreError> {
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
    if let Some(text) = &f.search {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let like = users::username.like(format!("%{escaped}%")).escape('\\');
        q = match text.trim_start_matches('#').parse::<i64>() {
            Ok(id) => q.filter(like.or(receipts::id.eq(id))),
            Err(_) => q.filter(like),
        };
    }
    Ok(q.order(receipts::id.desc())
        .limit(limit.max(1))
        .select((ReceiptRow::as_select(), users::username))
        .load(c)?)
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
