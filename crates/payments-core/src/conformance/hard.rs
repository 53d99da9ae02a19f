//! The hard cases asked of every fixture: a payment authorized but not captured, a payload
//! whose second amount differs from the paid one, and event ids carried in a header.

use super::{ensure, fail, skip, Check, Cx, Kind, Secret};
use crate::money::Money;
use crate::webhook::{EventKind, WebhookRequest};

/// An event whose payment is authorized but not captured is never a success (nor a failure):
/// `CaptureRequired`, or pending.
pub async fn authorized_not_captured(cx: &Cx<'_>) -> Check {
    if let Some(why) = cx.f.no_authorization_because() {
        return Err(skip(format!("no authorized-not-captured state: {why}")));
    }
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout("authorized", amount).await?;
    let spec = cx.spec(Kind::CaptureRequired, &req, &session, None);
    let body = cx.f.event_body(&spec).await.ok_or_else(|| {
        fail(
            "the fixture builds no event whose payment is authorized but not captured (every fixture \
             must, from the provider's published payloads; a provider without such a state says so \
             in no_authorization_because)",
        )
    })?;
    let ev = cx.parse("authorized-not-captured", &body).await?;
    ensure!(
        matches!(ev.kind, EventKind::CaptureRequired | EventKind::PaymentPending),
        "a payment authorized but not captured was taken as {:?}",
        ev.kind
    );
    Ok(())
}

/// Where the payload holds a second amount (the link's, the order's, a subtotal) unlike the
/// paid one, the event carries the paid one.
pub async fn amounts_differ(cx: &Cx<'_>) -> Check {
    let Some(where_) = cx.f.second_amount() else {
        return Err(skip(
            "the fixture names no second amount in the provider's payload (hook second_amount)",
        ));
    };
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout("two_amounts", amount).await?;
    // Another amount of the same currency, neither a multiple nor a fraction of the paid one.
    let other = Money::new(amount.amount.get() + 1_700, amount.currency);
    let mut spec = cx.spec(Kind::Succeeded, &req, &session, None);
    spec.other_amount = Some(other);
    let body =
        cx.f.event_body(&spec)
            .await
            .ok_or_else(|| skip("the fixture builds no succeeded event"))?;
    let ev = cx.parse("succeeded", &body).await?;
    ensure!(
        ev.amount == Some(amount),
        "with {other} in {where_} and {amount} paid, the event says {:?}",
        ev.amount.map(|m| m.to_string())
    );
    Ok(())
}

/// With the event id in a header: the same body under two header ids is two events, and two
/// bodies under one header id are one.
pub async fn header_id(cx: &Cx<'_>) -> Check {
    let Some(header) = cx.f.event_id_header() else {
        return Err(skip("the provider's event id is in the body"));
    };
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout("header_id", amount).await?;
    let kind =
        cx.f.event_kinds()
            .first()
            .copied()
            .ok_or_else(|| skip("the fixture declares no event kind"))?;
    let first = cx.body(kind, &req, &session, None).await?;
    let second = cx.body(kind, &req, &session, None).await?;
    let now = cx.f.now();
    let parse = |body: Vec<u8>, id: String| async move {
        let headers =
            cx.f.sign_with_event_id(&body, now, &id)
                .or_else(|| cx.f.sign(&body, now, Secret::Current))
                .unwrap_or_default();
        cx.f.provider()
            .parse_webhook(&WebhookRequest::new(headers, body, now))
            .await
            .map(|e| e.event_id)
            .map_err(|e| fail(format!("a genuine webhook with {header}: {id} was refused: {e}")))
    };
    let (a, b) = (cx.new_event_id(), cx.new_event_id());
    let same_body_a = parse(first.clone(), a.clone()).await?;
    let same_body_b = parse(first, b.clone()).await?;
    ensure!(
        same_body_a != same_body_b,
        "one body sent with {header}: {a} and with {header}: {b} gave one event id {same_body_a:?}: \
         the second event would be dropped as a redelivery"
    );
    let other_body_a = parse(second, a.clone()).await?;
    ensure!(
        other_body_a == same_body_a,
        "two bodies sent with {header}: {a} gave the event ids {same_body_a:?} and {other_body_a:?}: \
         a redelivery would be processed twice"
    );
    Ok(())
}
