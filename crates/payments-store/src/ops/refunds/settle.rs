//! A payment's refunded total and its receipt's state, brought up to date after any change to
//! its refunds: our books follow the provider's, down as well as up.

use diesel::prelude::*;
use payments_core::unix_now;
use serde_json::json;

use super::super::{audit, Conn};
use super::{fmt, payment_by_id, refund_audit, sum_where};
use crate::models::{PaymentRow, PaymentState, ReceiptStatus, RefundStatus};
use crate::schema::{payments, receipts, refunds};
use crate::StoreError;

/// What the refunded total becomes. `succeeded` and `in_flight` are the sums of the payment's
/// refunds in those states; `previous` is the refunded total stored so far; `reported` the
/// provider's own cumulative figure, when this change comes with one.
///
/// The provider's figure is taken as it is, also when it went down (a refund failed). Without
/// one, the succeeded refunds count, plus whatever of an earlier provider figure our in-flight
/// refunds still explain (a provider that reports only totals counted them before we knew).
pub(crate) fn refunded_total(succeeded: i64, in_flight: i64, previous: i64, reported: Option<i64>) -> i64 {
    match reported {
        Some(total) => total.max(0),
        None => succeeded.max(previous.min(succeeded.saturating_add(in_flight))),
    }
}

/// The receipt's state for a paying payment of `amount` of which `refunded` is refunded.
fn receipt_state(amount: i64, refunded: i64) -> ReceiptStatus {
    if refunded <= 0 {
        ReceiptStatus::Paid
    } else if refunded >= amount {
        ReceiptStatus::Refunded
    } else {
        ReceiptStatus::PartiallyRefunded
    }
}

/// Brings the payment's refunded total, its state and its receipt's state up to date (see
/// [`refunded_total`]); never above the amount paid. A payment that is not (yet) paid here keeps
/// its total for when it is: its receipt is left alone. Returns the receipt's new state label
/// when something changed.
pub(crate) fn settle(
    c: &mut Conn,
    payment_id: i64,
    reported: Option<i64>,
    actor: &str,
) -> Result<Option<&'static str>, StoreError> {
    let p = payment_by_id(c, payment_id)?;
    let succeeded = sum_where(c, p.id, &[RefundStatus::Succeeded.as_str()])?;
    let in_flight = sum_where(
        c,
        p.id,
        &[RefundStatus::Requested.as_str(), RefundStatus::Pending.as_str()],
    )?;
    let wanted = refunded_total(succeeded, in_flight, p.refunded_minor, reported);
    if wanted > p.amount_minor {
        audit::append(
            c,
            &refund_audit(
                &p,
                actor,
                json!({"step": "anomaly", "detail": format!(
                    "refunds of {} reported for a payment of {}; kept at the amount paid",
                    fmt(&p, wanted), fmt(&p, p.amount_minor))}),
            ),
        )?;
    }
    let refunded = wanted.min(p.amount_minor);
    if reported.is_some_and(|t| t < succeeded) {
        audit::append(
            c,
            &refund_audit(
                &p,
                actor,
                json!({"step": "anomaly", "detail": format!(
                    "the provider reports {} refunded, less than the {} of refunds recorded as succeeded; \
                     the provider's figure is kept and its refund list will settle which refund failed",
                    fmt(&p, refunded), fmt(&p, succeeded))}),
            ),
        )?;
    }
    // A refund the provider reported only in its total (no refund id), that nothing of ours in
    // flight explains: recorded as the provider's own, so the list adds up.
    if refunded > succeeded + in_flight {
        let now = unix_now();
        diesel::insert_into(refunds::table)
            .values((
                refunds::payment_id.eq(p.id),
                refunds::provider.eq(&p.provider),
                refunds::amount_minor.eq(refunded - succeeded - in_flight),
                refunds::currency.eq(&p.currency),
                refunds::status.eq(RefundStatus::Succeeded.as_str()),
                refunds::origin.eq("provider"),
                refunds::reason.eq("refunded at the provider (its total refunded went up)"),
                refunds::requested_by.eq(actor),
                refunds::created_at.eq(now),
                refunds::updated_at.eq(now),
            ))
            .execute(c)?;
    }
    let state = p.state()?;
    let paid = matches!(state, PaymentState::Succeeded | PaymentState::Refunded);
    let full = p.amount_minor > 0 && refunded >= p.amount_minor;
    let new_state = match (paid, full) {
        (true, true) => PaymentState::Refunded,
        (true, false) => PaymentState::Succeeded,
        (false, _) => state,
    };
    let payment_changed = refunded != p.refunded_minor || new_state != state;
    if payment_changed {
        diesel::update(payments::table.find(p.id))
            .set((
                payments::refunded_minor.eq(refunded),
                payments::status.eq(new_state.as_str()),
                payments::updated_at.eq(unix_now()),
            ))
            .execute(c)?;
    }
    if !paid || p.second_payment {
        if payment_changed {
            let detail = if paid {
                json!({"step": "settled", "refunded": fmt(&p, refunded), "refunded_minor": refunded,
                       "paid": fmt(&p, p.amount_minor), "second_payment": true,
                       "note": "a second payment: its receipt is left as it is"})
            } else {
                json!({"step": "recorded_before_payment", "refunded": fmt(&p, refunded),
                       "refunded_minor": refunded, "payment_status": p.status,
                       "note": "applied to the receipt when the payment is finalized"})
            };
            audit::append(c, &refund_audit(&p, actor, detail))?;
        }
        return Ok((paid && payment_changed).then_some(if full { "refunded" } else { "partially_refunded" }));
    }
    let receipt_to = receipt_state(p.amount_minor, refunded);
    // Only the receipt this payment paid: a receipt paid by another payment or voided is left.
    let flipped = diesel::update(
        receipts::table
            .find(p.receipt_id)
            .filter(receipts::status.eq_any(["paid", "partially_refunded", "refunded"]))
            .filter(receipts::status.ne(receipt_to.as_str())),
    )
    .set(receipts::status.eq(receipt_to.as_str()))
    .execute(c)?;
    if flipped == 0 && !payment_changed {
        return Ok(None);
    }
    audit::append(
        c,
        &refund_audit(
            &p,
            actor,
            json!({"step": "settled", "refunded": fmt(&p, refunded),
                   "refunded_minor": refunded, "paid": fmt(&p, p.amount_minor),
                   "previously_refunded": fmt(&p, p.refunded_minor),
                   "receipt": receipt_to.as_str()}),
        ),
    )?;
    Ok(Some(match receipt_to {
        ReceiptStatus::Refunded => "refunded",
        ReceiptStatus::PartiallyRefunded => "partially_refunded",
        _ => "paid",
    }))
}

/// After a payment was finalized: refunds recorded while it was still open here (an early
/// event, the provider's figure at reconciliation) are applied to its receipt now. Only a
/// refunded total can change the receipt (refunds still in flight or void add nothing), so one
/// read of it decides; on the usual path, nothing was refunded and that is all.
pub(crate) fn after_finalize(c: &mut Conn, payment: &PaymentRow, actor: &str) -> Result<(), StoreError> {
    let stored: i64 = payments::table
        .find(payment.id)
        .select(payments::refunded_minor)
        .first(c)?;
    if stored > 0 {
        settle(c, payment.id, None, actor)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::refunded_total;

    #[test]
    fn the_provider_figure_is_followed_down_as_well_as_up() {
        // The provider's figure wins, also when it went down.
        assert_eq!(refunded_total(3_100, 0, 3_100, Some(0)), 0);
        assert_eq!(refunded_total(0, 1_000, 0, Some(1_000)), 1_000);
        // Without one: succeeded refunds, plus what an earlier figure our in-flight ones explain.
        assert_eq!(refunded_total(0, 1_000, 1_000, None), 1_000);
        assert_eq!(refunded_total(0, 0, 1_000, None), 0);
        assert_eq!(refunded_total(500, 0, 3_100, None), 500);
        assert_eq!(refunded_total(2_000, 0, 1_000, None), 2_000);
    }
}
