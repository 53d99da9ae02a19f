use diesel::prelude::*;
use payments_core::unix_now;

use super::Conn;
use crate::models::HandledEvent;
use crate::outcomes::{RecordOutcome, VerifiedEvent};
use crate::schema::payment_events;
use crate::StoreError;

/// Inserts a verified event once per (provider, event id).
pub fn record(c: &mut Conn, ev: &VerifiedEvent) -> Result<RecordOutcome, StoreError> {
    // One round trip for a new event: the insert says whether it was new and gives its id.
    let inserted: Option<i64> = diesel::insert_into(payment_events::table)
        .values((
            payment_events::provider.eq(&ev.provider),
            payment_events::external_event_id.eq(&ev.event_id),
            payment_events::event_type.eq(&ev.raw_type),
            payment_events::kind.eq(ev.kind.label()),
            payment_events::signature.eq(format!("verified ({})", ev.verified_by)),
            payment_events::raw_payload.eq(&ev.raw_payload),
            payment_events::received_at.eq(ev.received_at),
        ))
        .on_conflict_do_nothing()
        .returning(payment_events::id)
        .get_result(c)
        .optional()?;
    if let Some(id) = inserted {
        return Ok(RecordOutcome::Inserted(id));
    }
    let (id, processed_at, outcome) = payment_events::table
        .filter(payment_events::provider.eq(&ev.provider))
        .filter(payment_events::external_event_id.eq(&ev.event_id))
        .select((
            payment_events::id,
            payment_events::processed_at,
            payment_events::outcome,
        ))
        .first::<(i64, Option<i64>, Option<String>)>(c)?;
    Ok(match processed_at {
        None => RecordOutcome::Reprocess(id),
        Some(_) => RecordOutcome::Duplicate {
            outcome: outcome.unwrap_or_default(),
        },
    })
}

/// Inserts a verified event together with what handling it did (a batch's new event, see
/// `ingest`); `None` when the (provider, event id) is stored already, so nothing was inserted.
pub fn insert_handled(
    c: &mut Conn,
    ev: &VerifiedEvent,
    payment_id: Option<i64>,
    outcome: &str,
    processed: bool,
) -> Result<Option<i64>, StoreError> {
    Ok(diesel::insert_into(payment_events::table)
        .values(HandledEvent::new(
            ev,
            payment_id,
            outcome,
            processed.then(unix_now),
        ))
        .on_conflict_do_nothing()
        .returning(payment_events::id)
        .get_result(c)
        .optional()?)
}

/// Stores what processing did; `processed` false keeps the event open for a redelivery.
pub fn set_outcome(
    c: &mut Conn,
    event_row_id: i64,
    payment_id: Option<i64>,
    outcome: &str,
    processed: bool,
) -> Result<(), StoreError> {
    // A statement the connection keeps prepared (diesel re-prepares its own updates each time).
    crate::prepared::SetEventOutcome {
        id: &event_row_id,
        payment_id: &payment_id,
        outcome,
        processed_at: &processed.then(unix_now),
    }
    .execute(c)?;
    Ok(())
}

/// Like [`set_outcome`] without touching the payment link.
pub fn set_outcome_only(
    c: &mut Conn,
    event_row_id: i64,
    outcome: &str,
    processed: bool,
) -> Result<(), StoreError> {
    diesel::update(payment_events::table.find(event_row_id))
        .set((
            payment_events::outcome.eq(outcome),
            payment_events::processed_at.eq(processed.then(unix_now)),
        ))
        .execute(c)?;
    Ok(())
}
