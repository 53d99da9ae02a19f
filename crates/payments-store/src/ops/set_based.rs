//! A batch of plain payment successes written set-based: one statement per kind of write for the
//! whole batch instead of five per event.
//!
//! The usual batch at a busy moment is nothing but first deliveries of payment successes, each
//! for its own open payment, with the exact amount. For such a batch the writes of every event
//! are the same: its receipt from unpaid to paid, its payment to succeeded, the event stored as
//! finalized, perhaps new provider ids of the payment, and two audit entries. Written per event
//! (see `ingest::apply_success`) that is five round trips each, every one of them planned and
//! checked by the database again; here it is one `UPDATE … WHERE id IN (…) RETURNING` for the
//! receipts, one for the payments, one multi-row insert for the events and one for the new ids,
//! whatever the batch's size.
//!
//! It applies only when every event of the batch qualifies (see [`plan`]), so that the order in
//! which the events are handled cannot matter. The statements re-check what was read before the
//! batch (the receipt still unpaid, the payment not succeeded, the event not stored): if any of
//! them finds otherwise (another writer got there first, or the data is not what it should be),
//! everything written here is rolled back to this path's savepoint and the caller handles the
//! batch event by event, the way that gives each event its own outcome.

use std::collections::HashSet;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use payments_core::{unix_now, EventKind, Money};

use super::ingest::{provider_ids, Prefetched};
use super::payments::{finalized_audit, webhook_audit};
use super::Conn;
use crate::models::{HandledEvent, NewAudit, PaymentRow, PaymentState, ReceiptStatus};
use crate::outcomes::{EventOutcome, FinalizeOutcome, VerifiedEvent};
use crate::schema::{payment_events, payment_references, payments, receipts};
use crate::StoreError;

/// One event of a batch that qualifies: its payment (as read before the batch), the amount it
/// must have, and the provider ids of it not recorded yet.
struct Planned<'a> {
    ev: &'a VerifiedEvent,
    payment: &'a PaymentRow,
    expected: Money,
    new_ids: Vec<&'a str>,
}

/// Every event of `events`, when all of them are first deliveries of a payment's success,
/// each for its own payment and receipt, of an open payment found among what the batch read
/// first, with exactly its amount; `None` when any is not (or the batch has only one event).
fn plan<'a>(
    events: &'a [VerifiedEvent],
    pre: &'a Prefetched,
) -> Result<Option<Vec<Planned<'a>>>, StoreError> {
    if events.len() < 2 {
        return Ok(None);
    }
    let mut planned = Vec::with_capacity(events.len());
    let mut event_ids = HashSet::new();
    let mut payment_ids = HashSet::new();
    let mut receipt_ids = HashSet::new();
    let mut new_anywhere = HashSet::new();
    for ev in events {
        if ev.kind != EventKind::PaymentSucceeded || pre.stored(ev) {
            return Ok(None);
        }
        let (Some(payment), known) = pre.payment(ev) else {
            return Ok(None);
        };
        if matches!(payment.state()?, PaymentState::Succeeded | PaymentState::Refunded) {
            return Ok(None);
        }
        let expected = payment.amount()?;
        if ev.amount != Some(expected) {
            return Ok(None);
        }
        // Each event on its own payment and receipt, each id of a payment named by one event
        // only: then no event's writes depend on another's.
        if !event_ids.insert((ev.provider.as_str(), ev.event_id.as_str()))
            || !payment_ids.insert(payment.id)
            || !receipt_ids.insert(payment.receipt_id)
        {
            return Ok(None);
        }
        // The ids of its payment it names that are not recorded yet, each named as new by this
        // event only.
        let mut new_ids: Vec<&str> = Vec::new();
        for id in provider_ids(ev) {
            if known.iter().any(|k| k == id) {
                continue;
            }
            let id = id.trim();
            if new_ids.contains(&id) {
                continue;
            }
            if !new_anywhere.insert((ev.provider.as_str(), id)) {
                return Ok(None);
            }
            new_ids.push(id);
        }
        planned.push(Planned {
            ev,
            payment,
            expected,
            new_ids,
        });
    }
    Ok(Some(planned))
}

/// What [`apply_successes`] did with a batch.
#[derive(Debug)]
pub enum SetBased {
    /// Written: each event's outcome, in order (their audit entries are in `audits`).
    Written(Vec<EventOutcome>),
    /// Not every event qualifies: nothing was tried.
    NotApplicable,
    /// Tried, but what the batch read first was out of date (or a statement was refused):
    /// everything was rolled back to this path's savepoint.
    Undone,
}

/// Writes the whole batch set-based when every event qualifies (see the module), with their
/// audit entries appended to `audits`. Otherwise nothing is written, and the caller handles the
/// events one by one.
pub fn apply_successes(
    c: &mut Conn,
    events: &[VerifiedEvent],
    pre: &Prefetched,
    audits: &mut Vec<NewAudit>,
) -> Result<SetBased, StoreError> {
    let Some(planned) = plan(events, pre)? else {
        return Ok(SetBased::NotApplicable);
    };
    c.batch_execute("SAVEPOINT batch_set")?;
    match write(c, &planned) {
        Ok(true) => c.batch_execute("RELEASE SAVEPOINT batch_set")?,
        // Out of date, or refused (a constraint, a lost deadlock): undone; one by one instead.
        undone => {
            if let Err(e) = undone {
                tracing::debug!(error = %e, "a set-based webhook batch was refused; handling its events one by one");
            }
            c.batch_execute("ROLLBACK TO SAVEPOINT batch_set; RELEASE SAVEPOINT batch_set")?;
            return Ok(SetBased::Undone);
        }
    }
    let mut outcomes = Vec::with_capacity(planned.len());
    for p in &planned {
        let outcome = EventOutcome::Finalize(FinalizeOutcome::Finalized {
            payment_id: p.payment.id,
            receipt_id: p.payment.receipt_id,
        });
        let actor = format!("provider:{}", p.ev.provider);
        let source = format!("webhook {}", p.ev.event_id);
        audits.push(finalized_audit(&actor, p.payment, p.expected, &source));
        audits.push(webhook_audit(p.ev, Some(p.payment), &outcome.label()));
        outcomes.push(outcome);
    }
    Ok(SetBased::Written(outcomes))
}

/// The batch's statements; `false` as soon as one of them finds what was read first out of date.
fn write(c: &mut Conn, planned: &[Planned<'_>]) -> Result<bool, StoreError> {
    let now = unix_now();
    let n = planned.len();
    // Receipts first, as event by event: the conditional update takes their row locks and
    // decides every race for them.
    let receipt_ids: Vec<i64> = planned.iter().map(|p| p.payment.receipt_id).collect();
    let paid = diesel::update(
        receipts::table
            .filter(receipts::id.eq_any(&receipt_ids))
            .filter(receipts::status.eq(ReceiptStatus::Unpaid.as_str())),
    )
    .set((
        receipts::status.eq(ReceiptStatus::Paid.as_str()),
        receipts::paid_at.eq(now),
    ))
    .execute(c)?;
    if paid != n {
        return Ok(false);
    }
    let payment_ids: Vec<i64> = planned.iter().map(|p| p.payment.id).collect();
    let succeeded: Vec<i64> = diesel::update(
        payments::table
            .filter(payments::id.eq_any(&payment_ids))
            .filter(payments::status.ne(PaymentState::Succeeded.as_str())),
    )
    .set((
        payments::status.eq(PaymentState::Succeeded.as_str()),
        payments::updated_at.eq(now),
    ))
    .returning(payments::refunded_minor)
    .get_results(c)?;
    // A refund recorded while a payment was open here applies to its receipt now: that is the
    // event-by-event path's work (`refunds::after_finalize`).
    if succeeded.len() != n || succeeded.iter().any(|&refunded| refunded > 0) {
        return Ok(false);
    }
    let rows: Vec<_> = planned
        .iter()
        .map(|p| HandledEvent::new(p.ev, Some(p.payment.id), "finalized", Some(now)))
        .collect();
    let stored: Vec<i64> = diesel::insert_into(payment_events::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .returning(payment_events::id)
        .get_results(c)?;
    if stored.len() != n {
        // Stored meanwhile by another writer: event by event, it is answered as a duplicate.
        return Ok(false);
    }
    let ids: Vec<_> = planned
        .iter()
        .flat_map(|p| {
            p.new_ids.iter().map(|id| {
                (
                    payment_references::provider.eq(p.payment.provider.as_str()),
                    payment_references::reference.eq(*id),
                    payment_references::payment_id.eq(p.payment.id),
                    payment_references::created_at.eq(now),
                )
            })
        })
        .collect();
    if !ids.is_empty() {
        // An id recorded meanwhile (for this or another payment) is left as it is, as event by
        // event.
        diesel::insert_into(payment_references::table)
            .values(&ids)
            .on_conflict_do_nothing()
            .execute(c)?;
    }
    Ok(true)
}
