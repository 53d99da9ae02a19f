//! Our refunds of a payment brought in line with the provider's own list of them, and the
//! admin's recorded outcome where the provider cannot be asked.

use diesel::prelude::*;
use payments_core::{refund_marker, unix_now, ProviderRefund, RefundState};
use serde_json::json;

use super::super::{audit, Conn};
use super::{advance, fmt, insert_from_provider, locked, refund_audit, settle};
use crate::models::{RefundRow, RefundStatus};
use crate::outcomes::RefundSync;
use crate::schema::refunds;
use crate::StoreError;

/// Which of `rows` the provider's `listed` refund is: by its id, else by the marker of our key,
/// else a refund recorded only from the provider's total (no id) of the same amount.
fn matching<'a>(rows: &'a [RefundRow], listed: &ProviderRefund) -> Option<&'a RefundRow> {
    rows.iter()
        .find(|r| r.external_id.as_deref() == Some(listed.refund_id.as_str()))
        .or_else(|| {
            let marker = listed.marker.as_deref()?;
            rows.iter().find(|r| {
                r.external_id.is_none()
                    && r.idempotency_key.as_deref().map(refund_marker).as_deref() == Some(marker)
            })
        })
        .or_else(|| {
            rows.iter().find(|r| {
                r.external_id.is_none()
                    && r.origin == "provider"
                    && listed.amount.map(|a| a.get()) == Some(r.amount_minor)
            })
        })
}

/// Compares our refunds of `payment_id` with `listed`, the provider's list of its refunds:
/// each of ours takes the state the provider gives it (never backwards, see `advance`), a refund
/// we did not know is recorded as the provider's own, and the payment and receipt are settled.
/// Every change is audited.
pub fn sync(
    c: &mut Conn,
    payment_id: i64,
    listed: &[ProviderRefund],
    actor: &str,
) -> Result<RefundSync, StoreError> {
    let p = locked(c, payment_id)?;
    let rows: Vec<RefundRow> = refunds::table
        .filter(refunds::payment_id.eq(p.id))
        .order(refunds::id)
        .select(RefundRow::as_select())
        .load(c)?;
    let now = unix_now();
    let mut report = RefundSync::default();
    let mut seen = Vec::new();
    for l in listed {
        let to = RefundStatus::from_core(RefundState::from_provider(&l.status));
        match matching(&rows, l) {
            Some(row) if !seen.contains(&row.id) => {
                seen.push(row.id);
                if let Some(a) = l.amount.map(|a| a.get()).filter(|a| *a != row.amount_minor) {
                    audit::append(
                        c,
                        &refund_audit(
                            &p,
                            actor,
                            json!({"step": "anomaly", "refund": row.id, "detail": format!(
                                "the provider lists refund {} of {}, recorded here as {}",
                                l.refund_id, fmt(&p, a), fmt(&p, row.amount_minor))}),
                        ),
                    )?;
                }
                let next = advance(row.state()?, to);
                if next.as_str() == row.status && row.external_id.is_some() {
                    // Asked about just now: not due again at reconciliation for a while.
                    if next.in_flight() {
                        diesel::update(refunds::table.find(row.id))
                            .set(refunds::updated_at.eq(now))
                            .execute(c)?;
                    }
                } else {
                    diesel::update(refunds::table.find(row.id))
                        .set((
                            refunds::status.eq(next.as_str()),
                            refunds::external_id.eq(&l.refund_id),
                            refunds::updated_at.eq(now),
                        ))
                        .execute(c)?;
                    report.changed.push((row.id, next.as_str().to_string()));
                    audit::append(
                        c,
                        &refund_audit(
                            &p,
                            actor,
                            json!({"step": "provider_list", "refund": row.id,
                                   "external_refund_id": l.refund_id, "from": row.status,
                                   "status": next.as_str(), "provider_status": l.status,
                                   "amount": fmt(&p, row.amount_minor)}),
                        ),
                    )?;
                }
            }
            Some(_) => {}
            None => {
                let Some(a) = l.amount.map(|a| a.get()).filter(|a| *a > 0) else {
                    continue;
                };
                if to.is_void() {
                    continue;
                }
                let id = insert_from_provider(c, &p, &l.refund_id, a, to, actor, now)?;
                seen.push(id);
                report.added += 1;
                audit::append(
                    c,
                    &refund_audit(
                        &p,
                        actor,
                        json!({"step": "provider_list", "refund": id, "external_refund_id": l.refund_id,
                               "status": to.as_str(), "origin": "provider", "amount": fmt(&p, a)}),
                    ),
                )?;
            }
        }
    }
    report.not_listed = rows
        .iter()
        .filter(|r| r.status == RefundStatus::Requested.as_str() && !seen.contains(&r.id))
        .map(|r| r.id)
        .collect();
    settle(c, p.id, None, actor)?;
    Ok(report)
}

/// The admin's record of a refund whose outcome is unknown here and that the provider cannot be
/// asked about: `succeeded` (the admin saw it at the provider) or not (it is not there: the
/// amount is free again). Only a refund still `requested` can be settled this way.
pub fn manual_outcome(
    c: &mut Conn,
    refund_id: i64,
    succeeded: bool,
    note: &str,
    actor: &str,
) -> Result<RefundRow, StoreError> {
    let row =
        super::by_id(c, refund_id)?.ok_or_else(|| StoreError::NotFound(format!("refund #{refund_id}")))?;
    let p = locked(c, row.payment_id)?;
    let row =
        super::by_id(c, refund_id)?.ok_or_else(|| StoreError::NotFound(format!("refund #{refund_id}")))?;
    if row.status != RefundStatus::Requested.as_str() {
        return Err(StoreError::Conflict(format!(
            "refund #{refund_id} is {}: only a refund whose outcome is unknown can be recorded by hand",
            row.status
        )));
    }
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 500 {
        return Err(StoreError::Invalid(
            "say what you saw at the provider (1 to 500 characters; it is kept in the audit log)".into(),
        ));
    }
    let to = if succeeded {
        RefundStatus::Succeeded
    } else {
        RefundStatus::Failed
    };
    let row: RefundRow = diesel::update(refunds::table.find(row.id))
        .set((
            refunds::status.eq(to.as_str()),
            refunds::error.eq(Some(format!("recorded by {actor}: {note}"))),
            refunds::updated_at.eq(unix_now()),
        ))
        .returning(RefundRow::as_returning())
        .get_result(c)?;
    audit::append(
        c,
        &refund_audit(
            &p,
            actor,
            json!({"step": "recorded_by_admin", "refund": row.id, "status": to.as_str(),
                   "amount": fmt(&p, row.amount_minor), "note": note}),
        ),
    )?;
    settle(c, p.id, None, actor)?;
    Ok(row)
}

/// Refunds still in flight (`requested` or `pending`) not updated since `before`, oldest first:
/// what reconciliation asks the provider about.
pub fn open_refunds(c: &mut Conn, before: i64, limit: i64) -> Result<Vec<RefundRow>, StoreError> {
    Ok(refunds::table
        .filter(refunds::status.eq_any([RefundStatus::Requested.as_str(), RefundStatus::Pending.as_str()]))
        .filter(refunds::updated_at.lt(before))
        .order(refunds::updated_at)
        .limit(limit)
        .select(RefundRow::as_select())
        .load(c)?)
}
