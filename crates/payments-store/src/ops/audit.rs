use diesel::prelude::*;

use super::Conn;
use crate::models::{AuditQuery, AuditRow, NewAudit};
use crate::schema::audit_log;
use crate::StoreError;

pub fn append(c: &mut Conn, entry: &NewAudit) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table).values(entry).execute(c)?;
    Ok(())
}

/// Newest first, with the total count for paging.
pub fn list(c: &mut Conn, q: &AuditQuery) -> Result<(Vec<AuditRow>, i64), StoreError> {
    let filtered = || {
        let mut query = audit_log::table.into_boxed();
        if let Some(action) = &q.action {
            query = query.filter(audit_log::action.eq(action.clone()));
        }
        if let Some(receipt) = q.receipt_id {
            query = query.filter(audit_log::receipt_id.eq(receipt));
        }
        query
    };
    let total = filtered().count().get_result(c)?;
    let rows = filtered()
        .order(audit_log::id.desc())
        .limit(q.limit.max(1))
        .offset(q.offset.max(0))
        .select(AuditRow::as_select())
        .load(c)?;
    Ok((rows, total))
}
