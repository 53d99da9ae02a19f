//! A batch of verified events (group commit): what the batch reads once for all its events, and
//! the payment-success path that uses it.
//!
//! Per event, [`super::payments::apply_event`] records the event first (an insert that claims its
//! id), looks its payment up, acts, then stores the outcome: four statements besides the action.
//! In a batch, the events already stored and the payments the events name are read first, in
//! one query each for the whole batch, and a new success event is inserted once, at the end,
//! with its outcome. Each event still runs in its own savepoint (the caller's).
//!
//! What was read first can be out of date by the time an event is handled (an earlier event of
//! the batch, or another writer, changed it). The success path stays correct regardless: the
//! receipt and payment are flipped by conditional updates that re-check the stored state
//! (see `finalize_success`), a payment not found in what was read is looked up again, and an
//! event that turns out to be stored meanwhile (the same delivery earlier in the batch, or in
//! another writer's batch) is answered `StoredMeanwhile`: the caller rolls its savepoint back and
//! handles it the per-event way, which then sees the stored row. Every other kind of event (refunds,
//! disputes, failures, captures) and any event stored but not processed goes the per-event way.

use std::collections::HashMap;

use diesel::prelude::*;
use payments_core::EventKind;

use super::payments::{finalize_success, lookup_with_known, remember_references, webhook_audit};
use super::Conn;
use crate::models::{NewAudit, PaymentRow};
use crate::outcomes::{EventOutcome, VerifiedEvent};
use crate::prepared::PlannedPerCall;
use crate::schema::{payment_events, payment_references, payments};
use crate::StoreError;

/// An event row stored before the batch began.
struct Stored {
    processed: bool,
    outcome: Option<String>,
}

/// What a batch read before its first write.
pub struct Prefetched {
    /// provider → event id → the stored row.
    events: HashMap<String, HashMap<String, Stored>>,
    /// provider → reference → (when the reference was recorded, its payment).
    references: HashMap<String, HashMap<String, (i64, PaymentRow)>>,
}

impl Prefetched {
    /// Reads, for the batch's success events, their stored rows and the payments their provider
    /// ids name: one query each per provider in the batch (usually one).
    pub fn load(c: &mut Conn, events: &[VerifiedEvent]) -> Result<Prefetched, StoreError> {
        let mut by_provider: HashMap<&str, (Vec<&str>, Vec<&str>)> = HashMap::new();
        for ev in events.iter().filter(|ev| ev.kind == EventKind::PaymentSucceeded) {
            let (ids, refs) = by_provider.entry(ev.provider.as_str()).or_default();
            ids.push(&ev.event_id);
            refs.extend(provider_ids(ev));
        }
        let mut pre = Prefetched {
            events: HashMap::new(),
            references: HashMap::new(),
        };
        for (provider, (ids, refs)) in by_provider {
            let stored: Vec<(String, Option<i64>, Option<String>)> = PlannedPerCall(
                payment_events::table
                    .filter(payment_events::provider.eq(provider))
                    .filter(payment_events::external_event_id.eq_any(&ids))
                    .select((
                        payment_events::external_event_id,
                        payment_events::processed_at,
                        payment_events::outcome,
                    )),
            )
            .load(c)?;
            let events = pre.events.entry(provider.to_string()).or_default();
            for (id, processed_at, outcome) in stored {
                let processed = processed_at.is_some();
                events.insert(id, Stored { processed, outcome });
            }
            if refs.is_empty() {
                continue;
            }
            let found: Vec<(String, i64, PaymentRow)> = PlannedPerCall(
                payment_references::table
                    .inner_join(payments::table)
                    .filter(payment_references::provider.eq(provider))
                    .filter(payment_references::reference.eq_any(&refs))
                    .select((
                        payment_references::reference,
                        payment_references::created_at,
                        PaymentRow::as_select(),
                    )),
            )
            .load(c)?;
            let references = pre.references.entry(provider.to_string()).or_default();
            for (reference, created_at, payment) in found {
                references.insert(reference, (created_at, payment));
            }
        }
        Ok(pre)
    }

    /// Whether `ev` (its provider and event id) was stored before the batch.
    pub(crate) fn stored(&self, ev: &VerifiedEvent) -> bool {
        self.events
            .get(&ev.provider)
            .is_some_and(|e| e.contains_key(&ev.event_id))
    }

    /// The payment `ev` names by a recorded reference (the oldest recorded first, as
    /// [`super::payments::lookup`] does), and which of its ids are recorded.
    pub(crate) fn payment(&self, ev: &VerifiedEvent) -> (Option<&PaymentRow>, Vec<String>) {
        let mut best: Option<&(i64, PaymentRow)> = None;
        let mut best_ref = "";
        let mut known = Vec::new();
        let recorded = self.references.get(&ev.provider);
        for reference in provider_ids(ev) {
            if let Some(found) = recorded.and_then(|r| r.get(reference)) {
                known.push(reference.to_string());
                let older = best.is_none_or(|(at, _)| (found.0, reference) < (*at, best_ref));
                if older {
                    best = Some(found);
                    best_ref = reference;
                }
            }
        }
        (best.map(|(_, p)| p), known)
    }
}

/// The provider ids an event names (its checkout or payment id, then any further references).
pub(crate) fn provider_ids(ev: &VerifiedEvent) -> impl Iterator<Item = &str> {
    ev.external_payment_id
        .iter()
        .chain(ev.references.iter())
        .map(String::as_str)
        .filter(|r| !r.trim().is_empty())
}

/// What [`apply_success`] did with an event.
#[derive(Debug)]
pub enum Batched {
    /// Handled; its rows are written (in the caller's savepoint).
    Handled(EventOutcome),
    /// Not for this path; nothing was written. Handle it with `apply_event`.
    PerEvent,
    /// Stored meanwhile (the same delivery earlier in the batch, or by another writer): roll
    /// back the event's savepoint (something was written), then handle it with `apply_event`.
    StoredMeanwhile,
}

/// Handles `ev` using what the batch read first, when it is a payment success that was not
/// stored before the batch.
pub fn apply_success(
    c: &mut Conn,
    ev: &VerifiedEvent,
    pre: &Prefetched,
    audits: &mut Vec<NewAudit>,
) -> Result<Batched, StoreError> {
    if ev.kind != EventKind::PaymentSucceeded {
        return Ok(Batched::PerEvent);
    }
    match pre.events.get(&ev.provider).and_then(|e| e.get(&ev.event_id)) {
        // A redelivery of a processed event: nothing to write but its audit entry.
        Some(Stored {
            processed: true,
            outcome,
        }) => {
            let outcome = outcome.clone().unwrap_or_default();
            let payment = match pre.payment(ev).0 {
                Some(p) => Some(p.clone()),
                None => lookup(c, ev)?.0,
            };
            audits.push(webhook_audit(
                ev,
                payment.as_ref(),
                &format!("duplicate of {outcome}"),
            ));
            return Ok(Batched::Handled(EventOutcome::Duplicate { previous: outcome }));
        }
        // Stored but not processed to the end: the per-event way reprocesses it.
        Some(_) => return Ok(Batched::PerEvent),
        None => {}
    }
    let (payment, known) = match pre.payment(ev) {
        (Some(p), known) => (Some(p.clone()), known),
        // Not among the references read first (perhaps recorded by an earlier event of this
        // batch, or matched by the checkout id or our own id): look it up now.
        (None, _) => lookup(c, ev)?,
    };
    if let Some(p) = &payment {
        let ids = provider_ids(ev).filter(|id| !known.iter().any(|k| k == id));
        remember_references(c, p, ids)?;
    }
    let (outcome, processed) = match &payment {
        // It may race the checkout that records the payment: stay retryable.
        None => (EventOutcome::UnknownPayment, false),
        Some(p) => (
            EventOutcome::Finalize(finalize_success(
                c,
                Some(p.clone()),
                ev.amount,
                &format!("provider:{}", ev.provider),
                &format!("webhook {}", ev.event_id),
                audits,
            )?),
            true,
        ),
    };
    let label = outcome.label();
    if super::events::insert_handled(c, ev, payment.as_ref().map(|p| p.id), &label, processed)?.is_none() {
        return Ok(Batched::StoredMeanwhile);
    }
    audits.push(webhook_audit(ev, payment.as_ref(), &label));
    Ok(Batched::Handled(outcome))
}

fn lookup(c: &mut Conn, ev: &VerifiedEvent) -> Result<(Option<PaymentRow>, Vec<String>), StoreError> {
    lookup_with_known(
        c,
        &ev.provider,
        ev.external_payment_id.as_deref(),
        &ev.references,
        ev.payment_ref.as_deref(),
    )
}
