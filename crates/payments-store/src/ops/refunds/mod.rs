//! Refunds and disputes. Every decision about one payment's refunds is taken under that
//! payment's lock (`lock_payment`: `FOR UPDATE` on PostgreSQL, the `BEGIN IMMEDIATE` write lock
//! on SQLite), so concurrent requests and webhooks are decided one at a time and the refunded
//! amount can never exceed what was paid.

mod settle;
mod sync;

pub(crate) use settle::after_finalize;
use settle::settle;
pub use sync::{manual_outcome, open_refunds, sync};

use diesel::prelude::*;
use payments_core::{idempotency_key, unix_now, EventKind};
use serde_json::json;

use super::{audit, lock_payment, Conn};

use crate::models::{DisputeRow, NewAudit, PaymentRow, PaymentState, RefundRow, RefundStatus};
use crate::outcomes::{EventOutcome, RefundAnswer, RefundRequested, VerifiedEvent};
use crate::schema::{disputes, payments, refunds};
use crate::StoreError;

const AUDIT_ACTION: &str = "payment.refund";

fn payment_by_id(c: &mut Conn, id: i64) -> Result<PaymentRow, StoreError> {
    payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("payment #{id}")))
}

/// Locks the payment and reads it again (the read after the lock sees every committed refund).
fn locked(c: &mut Conn, payment_id: i64) -> Result<PaymentRow, StoreError> {
    lock_payment(c, payment_id)?;
    payment_by_id(c, payment_id)
}

fn sum_where(c: &mut Conn, payment_id: i64, statuses: &[&str]) -> Result<i64, StoreError> {
    let amounts: Vec<i64> = refunds::table
        .filter(refunds::payment_id.eq(payment_id))
        .filter(refunds::status.eq_any(statuses))
        .select(refunds::amount_minor)
        .load(c)?;
    amounts
        .into_iter()
        .try_fold(0i64, i64::checked_add)
        .ok_or_else(|| StoreError::Corrupt(format!("refunds of payment #{payment_id} overflow")))
}

/// What is already taken from the payment: the provider's cumulative figure or the refunds we
/// know of that are not failed (requested ones included), whichever is larger.
fn committed(c: &mut Conn, p: &PaymentRow) -> Result<i64, StoreError> {
    Ok(sum_where(c, p.id, &RefundStatus::COUNTED)?.max(p.refunded_minor))
}

fn refund_audit(p: &PaymentRow, actor: &str, detail: serde_json::Value) -> NewAudit {
    NewAudit::new(actor, AUDIT_ACTION, format!("payment {}", p.public_id), detail)
        .receipt(p.receipt_id)
        .payment(p.id)
}

/// A refund we learn of from the provider (an event or its list) that no row of ours is: one made
/// in the provider's dashboard. Returns its row id.
fn insert_from_provider(
    c: &mut Conn,
    p: &PaymentRow,
    external_id: &str,
    amount_minor: i64,
    status: RefundStatus,
    actor: &str,
    now: i64,
) -> Result<i64, StoreError> {
    Ok(diesel::insert_into(refunds::table)
        .values((
            refunds::payment_id.eq(p.id),
            refunds::provider.eq(&p.provider),
            refunds::external_id.eq(external_id),
            refunds::amount_minor.eq(amount_minor),
            refunds::currency.eq(&p.currency),
            refunds::status.eq(status.as_str()),
            refunds::origin.eq("provider"),
            refunds::reason.eq("started at the provider"),
            refunds::requested_by.eq(actor),
            refunds::created_at.eq(now),
            refunds::updated_at.eq(now),
        ))
        .returning(refunds::id)
        .get_result(c)?)
}

fn fmt(p: &PaymentRow, minor: i64) -> String {
    payments_core::Currency::from_code(&p.currency)
        .map(|cur| payments_core::Money::new(minor, cur).to_string())
        .unwrap_or_else(|_| format!("{minor} {}", p.currency))
}

/// Stores a refund of `amount_minor` of the payment `public_id` as `requested`, with its
/// deterministic idempotency key (`pay:{payment}:refund:{n}`), BEFORE anyone calls the provider.
/// Refused (nothing stored) when the payment is not paid or the amount is not positive or larger
/// than what remains unrefunded.
///
/// `token` is the confirmation page's random token: the first request with it makes the refund,
/// every later one (one after the other or at once: they are decided one at a time under the
/// payment's lock) gets that refund back as [`RefundRequested::Repeated`], nothing stored.
pub fn request(
    c: &mut Conn,
    public_id: &str,
    amount_minor: i64,
    reason: &str,
    payer_note: &str,
    actor: &str,
    token: Option<&str>,
) -> Result<RefundRequested, StoreError> {
    let found = super::payments::by_public_id(c, public_id)?
        .ok_or_else(|| StoreError::NotFound(format!("payment {public_id}")))?;
    let p = locked(c, found.id)?;
    if let Some(token) = token {
        if let Some(first) = by_request_token(c, token)? {
            if first.payment_id != p.id {
                return Err(StoreError::Invalid(format!(
                    "this confirmation was made for another payment than {public_id}: open the receipt again"
                )));
            }
            return Ok(RefundRequested::Repeated(first));
        }
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(StoreError::Invalid("a refund needs a reason".into()));
    }
    if reason.chars().count() > 500 {
        return Err(StoreError::Invalid(
            "the reason is longer than 500 characters".into(),
        ));
    }
    let payer_note = payer_note.trim();
    if payer_note.chars().count() > 500 {
        return Err(StoreError::Invalid(
            "the note to the payer is longer than 500 characters".into(),
        ));
    }
    match p.state()? {
        PaymentState::Succeeded => {}
        PaymentState::Refunded => {
            return Err(StoreError::Conflict(format!(
                "payment {public_id} is already refunded in full"
            )))
        }
        other => {
            return Err(StoreError::Conflict(format!(
                "payment {public_id} is {other}: only a paid payment can be refunded"
            )))
        }
    }
    if amount_minor <= 0 {
        return Err(StoreError::Invalid(format!(
            "a refund must be more than zero (got {})",
            fmt(&p, amount_minor)
        )));
    }
    let taken = committed(c, &p)?;
    let remaining = p.amount_minor - taken;
    if amount_minor > remaining {
        return Err(StoreError::Invalid(format!(
            "a refund of {} is more than the {} that remains of payment {public_id} ({} paid, {} refunded or being refunded)",
            fmt(&p, amount_minor),
            fmt(&p, remaining.max(0)),
            fmt(&p, p.amount_minor),
            fmt(&p, taken),
        )));
    }
    let last: Option<i64> = refunds::table
        .filter(refunds::payment_id.eq(p.id))
        .select(diesel::dsl::max(refunds::seq))
        .first(c)?;
    let seq = last.unwrap_or(0) + 1;
    let key = idempotency_key(&p.public_id, "refund", u32::try_from(seq).unwrap_or(u32::MAX));
    let now = unix_now();
    let row: RefundRow = diesel::insert_into(refunds::table)
        .values((
            refunds::payment_id.eq(p.id),
            refunds::provider.eq(&p.provider),
            refunds::seq.eq(Some(seq)),
            refunds::idempotency_key.eq(Some(&key)),
            refunds::amount_minor.eq(amount_minor),
            refunds::currency.eq(&p.currency),
            refunds::status.eq(RefundStatus::Requested.as_str()),
            refunds::origin.eq("admin"),
            refunds::reason.eq(reason),
            refunds::requested_by.eq(actor),
            refunds::created_at.eq(now),
            refunds::updated_at.eq(now),
            refunds::request_token.eq(token),
        ))
        .returning(RefundRow::as_returning())
        .get_result(c)?;
    if !payer_note.is_empty() {
        diesel::insert_into(crate::schema::refund_notes::table)
            .values((
                crate::schema::refund_notes::refund_id.eq(row.id),
                crate::schema::refund_notes::note.eq(payer_note),
            ))
            .execute(c)?;
    }
    audit::append(
        c,
        &refund_audit(
            &p,
            actor,
            json!({
                "step": "requested",
                "refund": row.id,
                "seq": seq,
                "amount": fmt(&p, amount_minor),
                "amount_minor": amount_minor,
                "remaining_after": fmt(&p, remaining - amount_minor),
                "reason": reason,
                "idempotency_key": key,
            }),
        ),
    )?;
    Ok(RefundRequested::New(row))
}

/// Moves a refund to `to` as the provider reports it, unless that would go backwards: a failed
/// or canceled refund stays so, a pending one is never `requested` again, and a succeeded one
/// can still fail (Stripe: a refund can fail after it succeeded) but not become pending again.
pub(crate) fn advance(current: RefundStatus, to: RefundStatus) -> RefundStatus {
    use RefundStatus::*;
    match (current, to) {
        (Failed | Canceled, _) => current,
        (Succeeded, Failed) => Failed,
        (Succeeded, _) => current,
        (Pending, Requested) => current,
        _ => to,
    }
}

/// Stores the provider's answer to a refund we asked for (`request`), then settles the payment
/// and its receipt. Returns the refund as it now stands.
pub fn record_answer(
    c: &mut Conn,
    refund_id: i64,
    answer: &RefundAnswer,
    actor: &str,
) -> Result<RefundRow, StoreError> {
    let row: RefundRow = refunds::table
        .find(refund_id)
        .select(RefundRow::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("refund #{refund_id}")))?;
    let p = locked(c, row.payment_id)?;
    let row: RefundRow = refunds::table
        .find(refund_id)
        .select(RefundRow::as_select())
        .first(c)?;
    let current = row.state()?;
    let now = unix_now();
    let (status, external, error, detail) = match answer {
        RefundAnswer::Accepted {
            external_id,
            amount_minor,
            state,
        } => {
            if let Some(a) = amount_minor.filter(|a| *a != row.amount_minor) {
                return Err(StoreError::Corrupt(format!(
                    "the provider refunded {} for refund #{refund_id} of {}",
                    fmt(&p, a),
                    fmt(&p, row.amount_minor)
                )));
            }
            // A webhook may have recorded this very refund first, as the provider's own.
            diesel::delete(
                refunds::table
                    .filter(refunds::provider.eq(&row.provider))
                    .filter(refunds::external_id.eq(external_id))
                    .filter(refunds::id.ne(row.id))
                    .filter(refunds::origin.eq("provider"))
                    .filter(refunds::payment_id.eq(row.payment_id)),
            )
            .execute(c)?;
            // The refund's id names this payment too (a later event may name only it).
            super::payments::remember_references(c, &p, [external_id.as_str()])?;
            let to = advance(current, RefundStatus::from_core(*state));
            (
                to,
                Some(external_id.clone()),
                None,
                json!({"step": "provider_answer", "refund": row.id, "result": "accepted",
                       "external_refund_id": external_id, "status": to.as_str(),
                       "amount": fmt(&p, row.amount_minor)}),
            )
        }
        RefundAnswer::Refused { error } => {
            let to = advance(current, RefundStatus::Failed);
            (
                to,
                row.external_id.clone(),
                Some(error.clone()),
                json!({"step": "provider_answer", "refund": row.id, "result": "refused",
                       "status": to.as_str(), "error": error, "amount": fmt(&p, row.amount_minor)}),
            )
        }
        RefundAnswer::Unknown { error } => (
            current,
            row.external_id.clone(),
            Some(error.clone()),
            json!({"step": "provider_answer", "refund": row.id, "result": "unknown",
                   "status": current.as_str(), "error": error,
                   "note": "the amount stays reserved; retrying uses the same idempotency key"}),
        ),
    };
    let row: RefundRow = diesel::update(refunds::table.find(row.id))
        .set((
            refunds::status.eq(status.as_str()),
            refunds::external_id.eq(external.or(row.external_id.clone())),
            refunds::error.eq(error),
            refunds::updated_at.eq(now),
        ))
        .returning(RefundRow::as_returning())
        .get_result(c)?;
    audit::append(c, &refund_audit(&p, actor, detail))?;
    settle(c, p.id, None, actor)?;
    Ok(row)
}

/// The provider's refunded total of a payment, learned from a look-up (not an event): taken as
/// the provider's books, settled and audited.
pub(crate) fn apply_total(c: &mut Conn, payment_id: i64, total: i64, actor: &str) -> Result<(), StoreError> {
    let p = locked(c, payment_id)?;
    audit::append(
        c,
        &refund_audit(
            &p,
            actor,
            json!({"step": "provider_total", "total_reported": fmt(&p, total), "source": "look-up"}),
        ),
    )?;
    settle(c, p.id, Some(total), actor)?;
    Ok(())
}

/// A verified refund event for `payment`: records the refund it names (once per refund id: a
/// refund we started is recognised by its id, or while in flight by its amount), takes the
/// provider's cumulative total when it gives one, and settles the payment and receipt.
pub fn apply_event(
    c: &mut Conn,
    ev: &VerifiedEvent,
    payment: &PaymentRow,
) -> Result<EventOutcome, StoreError> {
    let EventKind::Refunded { amount: total } = &ev.kind else {
        return Err(StoreError::Corrupt("not a refund event".into()));
    };
    // A payment still open here (its success not yet seen, or lost) keeps the refund for when
    // it is finalized: `settle` leaves its receipt alone until then.
    let p = locked(c, payment.id)?;
    let actor = format!("provider:{}", ev.provider);
    let now = unix_now();
    let mut recorded = json!(null);
    let mut refused = None;
    if let Some(r) = &ev.refund {
        let to = RefundStatus::from_core(r.state);
        let known: Option<RefundRow> = refunds::table
            .filter(refunds::provider.eq(&p.provider))
            .filter(refunds::external_id.eq(&r.id))
            .select(RefundRow::as_select())
            .first(c)
            .optional()?;
        let claimed = match known {
            Some(row) => Some(row),
            // Ours, still waiting for the provider's answer: the same amount, no id yet.
            None => refunds::table
                .filter(refunds::payment_id.eq(p.id))
                .filter(refunds::origin.eq("admin"))
                .filter(refunds::external_id.is_null())
                .filter(
                    refunds::status
                        .eq_any([RefundStatus::Requested.as_str(), RefundStatus::Pending.as_str()]),
                )
                .filter(refunds::amount_minor.nullable().eq(r.amount.map(|a| a.get())))
                .order(refunds::id)
                .select(RefundRow::as_select())
                .first(c)
                .optional()?,
        };
        match claimed {
            Some(row) => {
                let next = advance(row.state()?, to);
                diesel::update(refunds::table.find(row.id))
                    .set((
                        refunds::external_id.eq(&r.id),
                        refunds::status.eq(next.as_str()),
                        refunds::updated_at.eq(now),
                    ))
                    .execute(c)?;
                recorded = json!({"refund": row.id, "external_refund_id": r.id, "status": next.as_str()});
            }
            None => match r.amount.map(|a| a.get()).filter(|a| *a > 0) {
                Some(a) if !to.is_void() => {
                    let settled = sum_where(
                        c,
                        p.id,
                        &[RefundStatus::Pending.as_str(), RefundStatus::Succeeded.as_str()],
                    )?;
                    if settled + a > p.amount_minor {
                        let reason = format!(
                            "refund {} of {} refused: with the {} already refunded it would exceed the {} paid",
                            r.id,
                            fmt(&p, a),
                            fmt(&p, settled),
                            fmt(&p, p.amount_minor)
                        );
                        recorded = json!({"external_refund_id": r.id, "refused": reason});
                        refused = Some(reason);
                    } else {
                        let id = insert_from_provider(c, &p, &r.id, a, to, &actor, now)?;
                        recorded = json!({"refund": id, "external_refund_id": r.id, "status": to.as_str(), "origin": "provider"});
                    }
                }
                _ => recorded = json!({"external_refund_id": r.id, "status": to.as_str()}),
            },
        }
    }
    // Neither a total nor one refund: the provider says the payment is refunded, in full.
    let reported = match (total, &ev.refund) {
        (Some(t), _) => Some(t.get()),
        (None, None) => Some(p.amount_minor),
        (None, Some(_)) => None,
    };
    audit::append(
        c,
        &refund_audit(
            &p,
            &actor,
            json!({"step": "webhook", "event_id": ev.event_id, "type": ev.raw_type,
                   "total_reported": reported.map(|t| fmt(&p, t)),
                   "refund_reported": ev.refund.as_ref().map(|r| json!({
                       "id": r.id, "amount": r.amount.map(|a| fmt(&p, a.get())), "state": r.state.as_str()})),
                   "recorded": recorded}),
        ),
    )?;
    let paid = matches!(p.state()?, PaymentState::Succeeded | PaymentState::Refunded);
    Ok(match (settle(c, p.id, reported, &actor)?, refused) {
        (Some(state), _) => EventOutcome::StateChanged {
            payment_id: p.id,
            state: state.to_string(),
        },
        // The one refund it named was refused, and nothing else changed: say so.
        (None, Some(reason)) => EventOutcome::RefundRefused {
            payment_id: p.id,
            reason,
        },
        (None, None) if !paid => EventOutcome::Ignored {
            reason: format!(
                "refund recorded while the payment is {}; applied when it is finalized",
                p.status
            ),
        },
        (None, None) => EventOutcome::Ignored {
            reason: "refund already recorded".into(),
        },
    })
}

/// A verified dispute event for `payment`: recorded once per event and audited.
pub fn record_dispute(
    c: &mut Conn,
    ev: &VerifiedEvent,
    payment: &PaymentRow,
) -> Result<EventOutcome, StoreError> {
    let amount = ev.amount.filter(|m| m.currency.code() == payment.currency);
    diesel::insert_into(disputes::table)
        .values((
            disputes::payment_id.eq(payment.id),
            disputes::provider.eq(&ev.provider),
            disputes::event_id.eq(&ev.event_id),
            disputes::event_type.eq(&ev.raw_type),
            disputes::amount_minor.eq(amount.map(|m| m.amount.get())),
            disputes::currency.eq(amount.map(|m| m.currency.code())),
            disputes::created_at.eq(unix_now()),
        ))
        .on_conflict_do_nothing()
        .execute(c)?;
    audit::append(
        c,
        &NewAudit::new(
            &format!("provider:{}", ev.provider),
            "payment.dispute",
            format!("payment {}", payment.public_id),
            json!({"event_id": ev.event_id, "type": ev.raw_type,
                   "amount": amount.map(|m| m.to_string()), "payment_status": payment.status}),
        )
        .receipt(payment.receipt_id)
        .payment(payment.id),
    )?;
    Ok(EventOutcome::Disputed {
        payment_id: payment.id,
    })
}

pub fn for_receipt(c: &mut Conn, receipt_id: i64) -> Result<Vec<RefundRow>, StoreError> {
    Ok(refunds::table
        .inner_join(payments::table)
        .filter(payments::receipt_id.eq(receipt_id))
        .order(refunds::id)
        .select(RefundRow::as_select())
        .load(c)?)
}

/// The payer notes of a receipt's refunds: `(refund id, note)`.
pub fn notes_for_receipt(c: &mut Conn, receipt_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
    use crate::schema::refund_notes;
    Ok(refund_notes::table
        .inner_join(refunds::table.inner_join(payments::table))
        .filter(payments::receipt_id.eq(receipt_id))
        .select((refund_notes::refund_id, refund_notes::note))
        .load(c)?)
}

pub fn payment(c: &mut Conn, id: i64) -> Result<Option<PaymentRow>, StoreError> {
    Ok(payments::table
        .find(id)
        .select(PaymentRow::as_select())
        .first(c)
        .optional()?)
}

pub fn by_id(c: &mut Conn, id: i64) -> Result<Option<RefundRow>, StoreError> {
    Ok(refunds::table
        .find(id)
        .select(RefundRow::as_select())
        .first(c)
        .optional()?)
}

pub fn by_request_token(c: &mut Conn, token: &str) -> Result<Option<RefundRow>, StoreError> {
    Ok(refunds::table
        .filter(refunds::request_token.eq(token))
        .select(RefundRow::as_select())
        .first(c)
        .optional()?)
}

pub fn disputes_for_receipt(c: &mut Conn, receipt_id: i64) -> Result<Vec<DisputeRow>, StoreError> {
    Ok(disputes::table
        .inner_join(payments::table)
        .filter(payments::receipt_id.eq(receipt_id))
        .order(disputes::id)
        .select(DisputeRow::as_select())
        .load(c)?)
}

/// Which of `receipt_ids` have at least one dispute.
pub fn disputed_receipts(c: &mut Conn, receipt_ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    let mut ids: Vec<i64> = disputes::table
        .inner_join(payments::table)
        .filter(payments::receipt_id.eq_any(receipt_ids))
        .select(payments::receipt_id)
        .load(c)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
