use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use payments_core::unix_now;

use super::Conn;
use crate::error::RowProblem;
use crate::models::{NewUsage, UsageRow};
use crate::schema::{usage_records, users};
use crate::StoreError;

/// Imports all rows or none: unknown users and jobs already imported (or repeated in the input)
/// are reported by row index.
pub fn import(c: &mut Conn, rows: &[NewUsage]) -> Result<usize, StoreError> {
    let names: HashSet<&str> = rows.iter().map(|r| r.username.as_str()).collect();
    let ids: HashMap<String, i64> = users::table
        .filter(users::username.eq_any(names))
        .select((users::username, users::id))
        .load::<(String, i64)>(c)?
        .into_iter()
        .collect();
    let existing: HashSet<(i64, String)> = usage_records::table
        .filter(usage_records::user_id.eq_any(ids.values().copied().collect::<Vec<_>>()))
        .filter(usage_records::job_id.eq_any(rows.iter().map(|r| r.job_id.as_str())))
        .select((usage_records::user_id, usage_records::job_id))
        .load::<(i64, String)>(c)?
        .into_iter()
        .collect();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let now = unix_now();
    let mut values = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let Some(&user_id) = ids.get(&row.username) else {
            problems.push(RowProblem {
                index,
                message: format!("unknown user {:?}", row.username),
            });
            continue;
        };
        if existing.contains(&(user_id, row.job_id.clone())) {
            problems.push(RowProblem {
                index,
                message: format!("job {:?} of {} was already imported", row.job_id, row.username),
            });
            continue;
        }
        if !seen.insert((user_id, row.job_id.clone())) {
            problems.push(RowProblem {
                index,
                message: format!(
                    "job {:?} of {} appears twice in this file",
                    row.job_id, row.username
                ),
            });
            continue;
        }
        values.push((
            usage_records::user_id.eq(user_id),
            usage_records::job_id.eq(row.job_id.clone()),
            usage_records::description.eq(row.description.clone()),
            usage_records::cpu_core_seconds.eq(row.cpu_core_seconds),
            usage_records::gpu_seconds.eq(row.gpu_seconds),
            usage_records::ended_at.eq(row.ended_at),
            usage_records::cost_minor.eq(row.cost.amount.get()),
            usage_records::currency.eq(row.cost.currency.code()),
            usage_records::created_at.eq(now),
        ));
    }
    if !problems.is_empty() {
        return Err(StoreError::Rejected(problems));
    }
    let mut inserted = 0;
    // Batches keep each statement under SQLite's bound-parameter limit.
    for chunk in values.chunks(500) {
        inserted += diesel::insert_into(usage_records::table)
            .values(chunk)
            .execute(c)?;
    }
    Ok(inserted)
}

pub fn for_user(c: &mut Conn, user_id: i64) -> Result<Vec<UsageRow>, StoreError> {
    Ok(usage_records::table
        .filter(usage_records::user_id.eq(user_id))
        .order((usage_records::ended_at.desc(), usage_records::id.desc()))
        .select(UsageRow::as_select())
        .load(c)?)
}

pub fn for_receipt(c: &mut Conn, receipt_id: i64) -> Result<Vec<UsageRow>, StoreError> {
    Ok(usage_records::table
        .filter(usage_records::receipt_id.eq(receipt_id))
        .order(usage_records::id)
        .select(UsageRow::as_select())
        .load(c)?)
}
