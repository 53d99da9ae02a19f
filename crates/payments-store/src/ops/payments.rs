use diesel::prelude::*;
use payments_core::{idempotency_key, unix_now, EventKind, Money};
use serde_json::json;

use super::{audit, events, Conn};
use crate::models::{NewAudit, PaymentRow, PaymentState, ReceiptStatus};
use crate::outcomes::{EventOutcome, FinalizeOutcome, IntentOutcome, RecordOutcome, VerifiedEvent};
use crate::schema::{payment_references, payments, receipts};
use crate::{ids, StoreError};

/// Opens a payment intent for an unpaid receipt, or reuses the open one.
pub fn create_for_receipt(
    c: &mut Conn,
    receipt_id: i64,
    provider: &str,
) -> Result<IntentOutcome, StoreError> {
    let receipt = super::receipts::by_id(c, receipt_id)?
        .ok_or_else(|| StoreError::NotFound(format!("receipt {receipt_id}")))?;
    if receipt.status()? != ReceiptStatus::Unpaid {
        return Err(StoreError::ReceiptNotPayable {
            id: receipt_id,
            status: receipt.status,
        });
    }
    if receipt.total_minor <= 0 {
        return Err(StoreError::Invalid(format!(
            "receipt {receipt_id} has nothing to pay"
        )));
    }
    let open: Option<PaymentRow> = payments::table
        .filter(payments::receipt_id.eq(receipt_id))
        .filter(payments::status.eq_any(PaymentState::OPEN))
        .select(PaymentRow::as_select())
        .first(c)
        .optional()?;
    if let Some(p) = open {
        if p.provider == provider && p.amount_minor == receipt.total_minor && p.currency == receipt.currency {
            return Ok(IntentOutcome::Reused(p));
        }
        // Another provider (the operator switched) or another amount: retire the old intent.
        set_state(c, p.id, PaymentState::Canceled)?;
    }
    let public_id = ids::payment_public_id()?;
    let now = unix_now();
    let row = diesel::insert_into(payments::table)
        .values((
            payments::public_id.eq(&public_id),
            payments::receipt_id.eq(receipt_id),
            payments::provider.eq(provider),
            payments::idempotency_key.eq(idempotency_key(&public_id, "checkout", 0)),
            payments::amount_minor.eq(receipt.total_minor),
            payments::currency.eq(&receipt.currency),
            payments::status.eq(PaymentState::Created.as_str()),
            payments::created_at.eq(now),
            payments::updated_at.eq(now),
        ))
        .returning(PaymentRow::as_returning())
        .get_result(c)?;
    Ok(IntentOutcome::Created(row))
}

/// Stores the provider's ids for an open intent and audits `payment.intent`.
pub fn attach_checkout(
    c: &mut Conn,
    payment_id: i64,
    external_id: &str,
    checkout_url: &str,
    actor: &str,
) -> Result<PaymentRow, StoreError> {
    let updated = diesel::update(
        payments::table
            .find(payment_id)
            .filter(payments::status.eq_any(PaymentState::OPEN)),
    )
    .set((
        payments::external_id.eq(external_id),
        payments::checkout_url.eq(checkout_url),
        payments::status.eq(PaymentState::Pending.as_str()),
        payments::updated_at.eq(unix_now()),
    ))
    .returning(PaymentRow::as_returning())
    .get_result(c)
    .optional()
    .map_err(|e| {
        if StoreError::unique_violation(&e) {
            StoreError::Conflict(format!("checkout {external_id} belongs to another payment"))
        } else {
            e.into()
        }
    })?
    .ok_or_else(|| StoreError::Conflict(format!("payment {payment_id} is no longer open")))?;
    remember_references(c, &updated, [external_id])?;
    audit::append(
        c,
        &NewAudit::new(
            actor,
            "payment.intent",
            format!("payment {}", updated.public_id),
            json!({
                "provider": updated.provider,
                "external_id": external_id,
                "amount": updated.amount()?.to_string(),
                "amount_minor": updated.amount_minor,
                "currency": updated.currency,
                "idempotency_key": updated.idempotency_key,
            }),
        )
        .receipt(updated.receipt_id)
        .payment(updated.id),
    )?;
    Ok(updated)
}

pub fn by_public_id(c: &mut Conn, public_id: &str) -> Result<Option<PaymentRow>, StoreError> {
    Ok(payments::table
        .filter(payments::public_id.eq(public_id))
        .select(PaymentRow::as_select())
        .first(c)
        .optional()?)
}

pub fn for_receipt(c: &mut Conn, receipt_id: i64) -> Result<Vec<PaymentRow>, StoreError> {
    Ok(payments::table
        .filter(payments::receipt_id.eq(receipt_id))
        .order(payments::id.desc())
        .select(PaymentRow::as_select())
        .load(c)?)
}

/// Records provider ids of `payment` (unique per provider); an id already known, for this or
/// another payment, is left as it is. Returns how many were new.
pub fn remember_references<'a>(
    c: &mut Conn,
    payment: &PaymentRow,
    references: impl IntoIterator<Item = &'a str>,
) -> Result<usize, StoreError> {
    let now = unix_now();
    let mut seen: Vec<&str> = Vec::new();
    let mut added = 0;
    for reference in references {
        let reference = reference.trim();
        if reference.is_empty() || seen.contains(&reference) {
            continue;
        }
        seen.push(reference);
        // One single-row statement per new reference: its text never varies, so the connection
        // keeps it prepared (a multi-row insert is prepared again for every call). Callers pass
        // only the references they did not find stored (usually one, often none).
        added += diesel::insert_into(payment_references::table)
            .values((
                payment_references::provider.eq(payment.provider.as_str()),
                payment_references::reference.eq(reference),
                payment_references::payment_id.eq(payment.id),
                payment_references::created_at.eq(now),
            ))
            .on_conflict_do_nothing()
            .execute(c)?;
    }
    Ok(added)
}

pub fn references_of(c: &mut Conn, payment_id: i64) -> Result<Vec<String>, StoreError> {
    Ok(payment_references::table
        .filter(payment_references::payment_id.eq(payment_id))
        .order((payment_references::created_at, payment_references::reference))
        .select(payment_references::reference)
        .load(c)?)
}

/// The payment an event is about: by any provider id it names (recorded references first, then
/// the checkout id on the payment), else by our id echoed in metadata.
pub fn lookup(
    c: &mut Conn,
    provider: &str,
    external_id: Option<&str>,
    references: &[String],
    payment_ref: Option<&str>,
) -> Result<Option<PaymentRow>, StoreError> {
    Ok(lookup_with_known(c, provider, external_id, references, payment_ref)?.0)
}

/// [`lookup`], and which of `external_id` and `references` are stored already (for any payment
/// of `provider`), so that only the others need remembering.
pub fn lookup_with_known(
    c: &mut Conn,
    provider: &str,
    external_id: Option<&str>,
    references: &[String],
    payment_ref: Option<&str>,
) -> Result<(Option<PaymentRow>, Vec<String>), StoreError> {
    let ids: Vec<&str> = external_id
        .into_iter()
        .chain(references.iter().map(String::as_str))
        .filter(|r| !r.trim().is_empty())
        .collect();
    let mut known = Vec::new();
    if !ids.is_empty() {
        let found: Vec<(String, PaymentRow)> = crate::prepared::PlannedPerCall(
            payment_references::table
                .inner_join(payments::table)
                .filter(payment_references::provider.eq(provider))
                .filter(payment_references::reference.eq_any(&ids))
                .order((payment_references::created_at, payment_references::reference))
                .select((payment_references::reference, PaymentRow::as_select())),
        )
        .load(c)?;
        let mut found = found.into_iter();
        if let Some((reference, payment)) = found.next() {
            known.push(reference);
            known.extend(found.map(|(reference, _)| reference));
            return Ok((Some(payment), known));
        }
    }
    if let Some(ext) = external_id {
        let found = payments::table
            .filter(payments::provider.eq(provider))
            .filter(payments::external_id.eq(ext))
            .select(PaymentRow::as_select())
            .first(c)
            .optional()?;
        if found.is_some() {
            return Ok((found, known));
        }
    }
    match payment_ref {
        Some(r) => Ok((by_public_id(c, r)?.filter(|p| p.provider == provider), known)),
        None => Ok((None, known)),
    }
}

/// Moves an open payment to `state`; returns 0 (and changes nothing) when the payment is no
/// longer open, even if it was when it was read: a success or a close committed meanwhile by
/// another writer (or an earlier event of the same batch) is never overwritten.
fn set_state(c: &mut Conn, payment_id: i64, state: PaymentState) -> Result<usize, StoreError> {
    let [open_1, open_2, open_3] = PaymentState::OPEN;
    Ok(crate::prepared::MoveOpenPayment {
        id: &payment_id,
        status: state.as_str(),
        now: &unix_now(),
        open_1,
        open_2,
        open_3,
    }
    .execute(c)?)
}

/// The payment's status as stored now.
fn current_status(c: &mut Conn, payment_id: i64) -> Result<String, StoreError> {
    Ok(payments::table
        .find(payment_id)
        .select(payments::status)
        .first(c)?)
}

/// Flips the payment and its receipt to paid when the amount and currency match exactly; audits
/// every attempt that is not a no-op repeat.
pub fn finalize_success(
    c: &mut Conn,
    payment: Option<PaymentRow>,
    amount: Option<Money>,
    actor: &str,
    source: &str,
    audits: &mut Vec<NewAudit>,
) -> Result<FinalizeOutcome, StoreError> {
    let Some(payment) = payment else {
        audits.push(NewAudit::new(
            actor,
            "payment.finalize",
            "unknown payment",
            json!({"result": "unknown_payment", "source": source}),
        ));
        return Ok(FinalizeOutcome::UnknownPayment);
    };
    // Paid before (and perhaps refunded since): a later success event changes nothing.
    if matches!(payment.state()?, PaymentState::Succeeded | PaymentState::Refunded) {
        return Ok(FinalizeOutcome::AlreadyFinalized {
            payment_id: payment.id,
        });
    }
    let expected = payment.amount()?;
    let subject = format!("payment {}", payment.public_id);
    if amount != Some(expected) {
        let outcome = FinalizeOutcome::Mismatch {
            payment_id: payment.id,
            expected,
            got: amount,
        };
        audits.push(
            NewAudit::new(
                actor,
                "payment.finalize",
                subject,
                json!({
                    "result": "mismatch",
                    "source": source,
                    "expected": expected.to_string(),
                    "got": amount.map_or("nothing".to_string(), |m| m.to_string()),
                }),
            )
            .receipt(payment.receipt_id)
            .payment(payment.id),
        );
        return Ok(outcome);
    }
    let now = unix_now();
    // The receipt first: this conditional update takes the receipt's row lock and decides every
    // race for it (two events of this payment, another payment of the same receipt, a void), so
    // that when it changes nothing, nothing was changed at all and no savepoint is needed.
    let receipt_flipped = crate::prepared::PayReceipt {
        id: &payment.receipt_id,
        from: ReceiptStatus::Unpaid.as_str(),
        to: ReceiptStatus::Paid.as_str(),
        paid_at: &now,
    }
    .execute(c)?;
    if receipt_flipped != 1 {
        // Read after the lock was released by whoever changed the receipt (on PostgreSQL each
        // statement sees what was committed before it began).
        let current = current_status(c, payment.id)?;
        if current == PaymentState::Succeeded.as_str() || current == PaymentState::Refunded.as_str() {
            // Another event of this payment finalized it first.
            return Ok(FinalizeOutcome::AlreadyFinalized {
                payment_id: payment.id,
            });
        }
        // Money arrived for a receipt paid by another payment or voided: nothing changed; an
        // operator must refund it.
        let receipt_status = receipts::table
            .find(payment.receipt_id)
            .select(receipts::status)
            .first::<String>(c)
            .optional()?
            .unwrap_or_else(|| "missing".into());
        // The money is real: kept as a second payment (succeeded, flagged) so that it shows on
        // the receipt and in All receipts and can be refunded in full; the receipt is left.
        // (Also one closed here: expired or replaced here while the provider still took it.)
        let kept = diesel::update(payments::table.find(payment.id).filter(
            payments::status.ne_all([PaymentState::Succeeded.as_str(), PaymentState::Refunded.as_str()]),
        ))
        .set((
            payments::status.eq(PaymentState::Succeeded.as_str()),
            payments::second_payment.eq(true),
            payments::updated_at.eq(now),
        ))
        .execute(c)?;
        audits.push(
            NewAudit::new(
                actor,
                "payment.finalize",
                subject,
                json!({"result": "receipt_not_payable", "source": source, "receipt_status": receipt_status,
                       "amount": expected.to_string(),
                       "second_payment": kept == 1,
                       "note": "paid at the provider for a receipt already paid or voided: kept as a second payment; refund it"}),
            )
            .receipt(payment.receipt_id)
            .payment(payment.id),
        );
        return Ok(FinalizeOutcome::ReceiptNotPayable {
            payment_id: payment.id,
            receipt_status,
        });
    }
    // The receipt was unpaid and is now ours: its payment cannot have succeeded yet (a success
    // pays its receipt in the same transaction) and no other payment of it can have. If the
    // stored data says otherwise, fail, and the caller's transaction or savepoint takes the
    // receipt's flip back with everything else.
    let corrupt = || {
        StoreError::Corrupt(format!(
            "receipt {} was unpaid while payment {} or another payment of it had succeeded",
            payment.receipt_id, payment.public_id
        ))
    };
    let flipped = crate::prepared::SetPaymentStatus {
        id: &payment.id,
        status: PaymentState::Succeeded.as_str(),
        unless: PaymentState::Succeeded.as_str(),
        now: &now,
    }
    .execute(c)
    .map_err(|e| {
        if StoreError::unique_violation(&e) {
            corrupt()
        } else {
            e.into()
        }
    })?;
    if flipped != 1 {
        return Err(corrupt());
    }
    audits.push(finalized_audit(actor, &payment, expected, source));
    // Refunds recorded while it was open here (an early event) apply to the receipt now.
    super::refunds::after_finalize(c, &payment, actor)?;
    Ok(FinalizeOutcome::Finalized {
        payment_id: payment.id,
        receipt_id: payment.receipt_id,
    })
}

/// The audit entry of a payment finalized: its receipt is paid.
pub(crate) fn finalized_audit(actor: &str, payment: &PaymentRow, expected: Money, source: &str) -> NewAudit {
    NewAudit::new(
        actor,
        "payment.finalize",
        format!("payment {}", payment.public_id),
        json!({"result": "finalized", "source": source, "amount": expected.to_string()}),
    )
    .receipt(payment.receipt_id)
    .payment(payment.id)
}

pub fn webhook_audit(ev: &VerifiedEvent, payment: Option<&PaymentRow>, outcome: &str) -> NewAudit {
    let mut entry = NewAudit::new(
        &format!("provider:{}", ev.provider),
        "payment.webhook",
        format!("event {}", ev.event_id),
        json!({
            "provider": ev.provider,
            "event_id": ev.event_id,
            "type": ev.raw_type,
            "kind": ev.kind.label(),
            "signature": format!("✅ verified ({})", ev.verified_by),
            "external_payment_id": ev.external_payment_id,
            "amount": ev.amount.map(|m| m.to_string()),
            "outcome": outcome,
        }),
    );
    if let Some(p) = payment {
        entry = entry.receipt(p.receipt_id).payment(p.id);
    }
    entry
}

/// Records a verified event and acts on it, all in the caller's transaction.
pub fn apply_event(
    c: &mut Conn,
    ev: &VerifiedEvent,
    audits: &mut Vec<NewAudit>,
) -> Result<EventOutcome, StoreError> {
    let event_row = match events::record(c, ev)? {
        RecordOutcome::Duplicate { outcome } => {
            let payment = lookup(
                c,
                &ev.provider,
                ev.external_payment_id.as_deref(),
                &ev.references,
                ev.payment_ref.as_deref(),
            )?;
            audits.push(webhook_audit(
                ev,
                payment.as_ref(),
                &format!("duplicate of {outcome}"),
            ));
            return Ok(EventOutcome::Duplicate { previous: outcome });
        }
        RecordOutcome::Inserted(id) | RecordOutcome::Reprocess(id) => id,
    };
    let (payment, known) = lookup_with_known(
        c,
        &ev.provider,
        ev.external_payment_id.as_deref(),
        &ev.references,
        ev.payment_ref.as_deref(),
    )?;
    // A verified event may reveal new ids of the payment (a PaymentIntent, a charge): keep them,
    // so later events naming only those ids (a dispute) are matched.
    if let Some(p) = &payment {
        let ids = ev.external_payment_id.iter().chain(ev.references.iter());
        remember_references(
            c,
            p,
            ids.map(String::as_str)
                .filter(|id| !known.iter().any(|k| k == id)),
        )?;
    }
    let actor = format!("provider:{}", ev.provider);
    let (outcome, processed) = match (&ev.kind, &payment) {
        (EventKind::Other { raw_type }, _) => (
            EventOutcome::Ignored {
                reason: format!("{raw_type} is not acted on"),
            },
            true,
        ),
        // A success or approval may race the checkout that creates the payment: stay retryable.
        (EventKind::PaymentSucceeded | EventKind::CaptureRequired, None) => {
            (EventOutcome::UnknownPayment, false)
        }
        // A refund or dispute naming only ids we have not learned yet (a PaymentIntent, a
        // charge): left unprocessed, so that once the caller has learned them by asking the
        // provider (or the provider redelivers) it is processed, never lost.
        (EventKind::Refunded { .. } | EventKind::Disputed, None) => (EventOutcome::Unmatched, false),
        // Anything else for a payment we do not know would be retried forever: acknowledge it.
        (_, None) => (EventOutcome::Unmatched, true),
        (EventKind::PaymentSucceeded, Some(p)) => (
            EventOutcome::Finalize(finalize_success(
                c,
                Some(p.clone()),
                ev.amount,
                &actor,
                &format!("webhook {}", ev.event_id),
                audits,
            )?),
            true,
        ),
        (EventKind::CaptureRequired, Some(p)) => {
            if p.state()? == PaymentState::Succeeded {
                (
                    EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { payment_id: p.id }),
                    true,
                )
            } else if !p.state()?.is_open() {
                // Never capture money for an intent that was closed (cancelled, failed, replaced).
                (
                    EventOutcome::Ignored {
                        reason: format!("approval for a payment that is {}", p.status),
                    },
                    true,
                )
            } else if ev.amount != Some(p.amount()?) {
                // Never capture an amount we did not ask for.
                (
                    EventOutcome::Finalize(finalize_success(
                        c,
                        Some(p.clone()),
                        ev.amount,
                        &actor,
                        &format!("webhook {}", ev.event_id),
                        audits,
                    )?),
                    true,
                )
            } else if set_state(c, p.id, PaymentState::RequiresCapture)? == 0 {
                // Finalized or closed since it was read.
                (
                    EventOutcome::Ignored {
                        reason: format!("approval for a payment that is {}", current_status(c, p.id)?),
                    },
                    true,
                )
            } else {
                (
                    EventOutcome::CaptureRequired {
                        event_row_id: event_row,
                        payment_id: p.id,
                        public_id: p.public_id.clone(),
                        external_id: p.external_id.clone().unwrap_or_default(),
                    },
                    false,
                )
            }
        }
        (EventKind::Refunded { .. }, Some(p)) => (super::refunds::apply_event(c, ev, p)?, true),
        (EventKind::Disputed, Some(p)) => (super::refunds::record_dispute(c, ev, p)?, true),
        (kind, Some(p)) => {
            let new_state = match kind {
                EventKind::PaymentFailed => Some(PaymentState::Failed),
                EventKind::CheckoutExpired => Some(PaymentState::Expired),
                _ => None,
            };
            match new_state {
                // Failure and expiry only close an open intent; they never undo a success.
                Some(s @ (PaymentState::Failed | PaymentState::Expired))
                    if p.state()?.is_open() && set_state(c, p.id, s)? == 1 =>
                {
                    (
                        EventOutcome::StateChanged {
                            payment_id: p.id,
                            state: s.to_string(),
                        },
                        true,
                    )
                }
                _ => (
                    EventOutcome::Ignored {
                        reason: format!(
                            "{} while the payment is {}",
                            kind.label(),
                            current_status(c, p.id)?
                        ),
                    },
                    true,
                ),
            }
        }
    };
    events::set_outcome(
        c,
        event_row,
        payment.as_ref().map(|p| p.id),
        &outcome.label(),
        processed,
    )?;
    audits.push(webhook_audit(ev, payment.as_ref(), &outcome.label()));
    Ok(outcome)
}

/// Closes an open payment (failed, expired, canceled) and audits it; false when it was not open.
pub fn close(
    c: &mut Conn,
    public_id: &str,
    state: PaymentState,
    actor: &str,
    reason: &str,
) -> Result<bool, StoreError> {
    let Some(p) = by_public_id(c, public_id)? else {
        return Err(StoreError::NotFound(format!("payment {public_id}")));
    };
    if !p.state()?.is_open() || state.is_open() || state == PaymentState::Succeeded {
        return Ok(false);
    }
    if set_state(c, p.id, state)? == 0 {
        return Ok(false);
    }
    audit::append(
        c,
        &NewAudit::new(
            actor,
            "payment.close",
            format!("payment {public_id}"),
            json!({"state": state.as_str(), "reason": reason}),
        )
        .receipt(p.receipt_id)
        .payment(p.id),
    )?;
    Ok(true)
}

/// Which of `receipt_ids` received a second payment.
pub fn paid_twice(c: &mut Conn, receipt_ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    let mut ids: Vec<i64> = payments::table
        .filter(payments::receipt_id.eq_any(receipt_ids))
        .filter(payments::second_payment.eq(true))
        .select(payments::receipt_id)
        .load(c)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
