//! Webhook events: every declared kind maps to the right `EventKind`, amount, currency, ids.

use super::amounts::{Chosen, Class};
use super::{ensure, money, refund_of, skip, Check, Cx, Kind};
use crate::money::Money;
use crate::provider::{CheckoutRequest, CheckoutSession};
use crate::webhook::{EventKind, WebhookEvent};

fn declared(cx: &Cx<'_>, kind: Kind) -> Check {
    if cx.f.event_kinds().contains(&kind) {
        Ok(())
    } else {
        Err(skip(format!("the fixture declares no {} event", kind.label())))
    }
}

/// What the event must say, whatever its kind.
fn same_payment(
    cx: &Cx<'_>,
    kind: Kind,
    req: &CheckoutRequest,
    session: &CheckoutSession,
    ev: &WebhookEvent,
) -> Check {
    let what = kind.label();
    let provider = cx.f.provider().name();
    ensure!(
        ev.provider == provider,
        "{what}: provider {:?}, not {provider:?}",
        ev.provider
    );
    ensure!(
        ev.signature.is_verified(),
        "{what}: a genuine event has verdict {:?}",
        ev.signature
    );
    ensure!(!ev.event_id.trim().is_empty(), "{what}: the event id is empty");
    // A refund event may state the payment's amount or the refunded one (its `EventKind`
    // carries the cumulative refund, checked by the caller); every other event the payment's.
    let refunded = match &ev.kind {
        EventKind::Refunded { amount: Some(a) } => Some(Money::new(a.get(), req.amount.currency)),
        _ => None,
    };
    // A dispute's amount is the disputed amount: the payment's, or part of it.
    let disputed_part = kind == Kind::Disputed
        && ev.amount.is_some_and(|m| {
            m.currency == req.amount.currency && m.amount.get() > 0 && m.amount <= req.amount.amount
        });
    ensure!(
        ev.amount == Some(req.amount)
            || (kind == Kind::Refunded && ev.amount.is_some() && ev.amount == refunded)
            || disputed_part,
        "{what}: amount {:?}, the payment is {}",
        ev.amount.map(|m| m.to_string()),
        req.amount
    );
    let external = cx.f.event_external_id(kind, session);
    ensure!(
        ev.external_payment_id.as_deref() == Some(external.as_str()),
        "{what}: external payment id {:?}, expected {external:?}",
        ev.external_payment_id
    );
    if cx.f.carries_payment_ref(kind) {
        ensure!(
            ev.payment_ref.as_deref() == Some(req.payment_ref.as_str()),
            "{what}: our payment id came back as {:?}, expected {:?}",
            ev.payment_ref,
            req.payment_ref
        );
    }
    Ok(())
}

/// A success event for the chosen amount of `class` carries exactly that amount.
pub async fn amount_in_event(cx: &Cx<'_>, class: &Class, chosen: Option<Chosen>) -> Check {
    let c = chosen.ok_or_else(|| skip(format!("no {} currency supported", class.name)))?;
    declared(cx, Kind::Succeeded)?;
    let amount = money(&c)?;
    let (req, session) = cx.checkout(class.name, amount).await?;
    let ev = cx.event(Kind::Succeeded, &req, &session, None).await?;
    ensure!(
        ev.kind == EventKind::PaymentSucceeded,
        "succeeded: mapped to {:?}",
        ev.kind
    );
    same_payment(cx, Kind::Succeeded, &req, &session, &ev)
}

fn expected(kind: Kind, refunded: Option<Money>) -> EventKind {
    match kind {
        Kind::Succeeded => EventKind::PaymentSucceeded,
        Kind::Failed => EventKind::PaymentFailed,
        Kind::Pending => EventKind::PaymentPending,
        Kind::Expired => EventKind::CheckoutExpired,
        Kind::CaptureRequired => EventKind::CaptureRequired,
        Kind::Refunded => EventKind::Refunded {
            amount: refunded.map(|m| m.amount),
        },
        Kind::Disputed => EventKind::Disputed,
    }
}

/// A genuine event of `kind` maps to its `EventKind` (a refund with the cumulative refunded
/// amount), the payment's amount and currency, our payment id and the provider's id.
pub async fn kind(cx: &Cx<'_>, kind: Kind) -> Check {
    declared(cx, kind)?;
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout(kind.label(), amount).await?;
    let refunded = (kind == Kind::Refunded).then(|| refund_of(amount)).flatten();
    let ev = cx.event(kind, &req, &session, refunded).await?;
    let want = expected(kind, refunded);
    // A provider that reports refunds one at a time (no running total) names the refund
    // instead; for the payment's first refund its amount is the total (two successive partial
    // refunds: `refunds.two_partial_events`).
    let one_at_a_time = kind == Kind::Refunded
        && ev.kind == (EventKind::Refunded { amount: None })
        && ev
            .refund
            .as_ref()
            .is_some_and(|r| !r.id.trim().is_empty() && r.amount == refunded.map(|m| m.amount));
    ensure!(
        ev.kind == want || one_at_a_time,
        "{}: mapped to {:?}, expected {want:?}",
        kind.label(),
        ev.kind
    );
    same_payment(cx, kind, &req, &session, &ev)
}

/// Every declared kind about one payment (pending, then succeeded, ...) is its own event: no two
/// share an event id, else the store would drop the later one as a redelivery.
pub async fn distinct_ids(cx: &Cx<'_>) -> Check {
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout("distinct_ids", amount).await?;
    let mut seen: Vec<(Kind, String)> = Vec::new();
    for kind in cx.f.event_kinds() {
        let refunded = (kind == Kind::Refunded).then(|| refund_of(amount)).flatten();
        let ev = match cx.event(kind, &req, &session, refunded).await {
            Ok(ev) => ev,
            // A kind the fixture cannot build here is judged by `events.<kind>`.
            Err(super::Verdict::Skip(_)) => continue,
            Err(e) => return Err(e),
        };
        if let Some((other, _)) = seen.iter().find(|(_, id)| *id == ev.event_id) {
            return Err(super::fail(format!(
                "the {} and {} events about one payment have one event id {:?}: the second would be \
                 dropped as a redelivery",
                other.label(),
                kind.label(),
                ev.event_id
            )));
        }
        seen.push((kind, ev.event_id));
    }
    ensure!(seen.len() >= 2, "fewer than two event kinds could be built");
    Ok(())
}
