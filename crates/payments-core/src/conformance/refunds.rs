//! Refunds are found again, never made twice: every refund the adapter makes carries our
//! [`refund_marker`](crate::refund_marker) and is listed with it by `list_refunds`, so that a
//! refund whose answer was lost is settled by asking, even after the provider forgot its key.

use super::amounts::{contains_number, Chosen, Class};
use super::{checkout_request, ensure, fail, money, refund_of, skip, Check, Cx, Kind, Verdict};
use crate::provider::{idempotency_key, refund_marker, CheckoutSession, PaymentStatus, RefundRequest};
use crate::webhook::{EventKind, RefundState};
use crate::Money;

/// A paid checkout, and the refund request the suite makes of it (two fifths, key `refund:1`).
async fn paid(cx: &Cx<'_>, tag: &str) -> Result<(CheckoutSession, RefundRequest, Money), Verdict> {
    let provider = cx.f.provider();
    if !provider.capabilities().refund {
        return Err(skip("the adapter does not declare refunds"));
    }
    if !provider.capabilities().list_refunds {
        return Err(skip(
            "the adapter does not declare list_refunds: the server offers no Retry for a lost refund answer",
        ));
    }
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout(tag, amount).await?;
    if !cx.f.set_status(&session, PaymentStatus::Succeeded).await {
        return Err(skip("the fixture cannot make a paid payment"));
    }
    let part = refund_of(amount).ok_or_else(|| fail("no refund amount"))?;
    let request = RefundRequest {
        external_payment_id: session.external_id.clone(),
        amount: Some(part),
        idempotency_key: idempotency_key(&req.payment_ref, "refund", 1),
    };
    Ok((session, request, part))
}

/// A refund is listed with our marker, its id and its amount.
pub async fn listed_with_marker(cx: &Cx<'_>) -> Check {
    let (session, request, part) = paid(cx, "refund_listed").await?;
    let provider = cx.f.provider();
    let made = provider
        .refund(&request)
        .await
        .map_err(|e| fail(format!("a refund of {part} failed: {e}")))?;
    let listed = provider
        .list_refunds(&session.external_id)
        .await
        .map_err(|e| fail(format!("list_refunds failed: {e}")))?;
    let marker = refund_marker(&request.idempotency_key);
    let ours: Vec<_> = listed
        .iter()
        .filter(|r| r.marker.as_deref() == Some(&marker))
        .collect();
    ensure!(
        ours.len() == 1,
        "list_refunds shows {} refunds marked {marker:?} after one refund: {listed:?}",
        ours.len()
    );
    ensure!(
        ours[0].refund_id == made.refund_id,
        "the listed refund is {:?}, the refund made was {:?}",
        ours[0].refund_id,
        made.refund_id
    );
    ensure!(
        ours[0].amount == Some(part.amount),
        "the listed refund is of {:?} minor units, {part} was refunded",
        ours[0].amount
    );
    Ok(())
}

/// A refund whose answer is lost is either reported unknown or recovered as the very refund the
/// provider holds; it is found by `list_refunds`; after the provider has forgotten the key it
/// still holds exactly one refund.
pub async fn lost_answer(cx: &Cx<'_>) -> Check {
    let (session, request, part) = paid(cx, "refund_lost").await?;
    if !cx.f.lose_next_refund_answer().await {
        return Err(skip("the fixture cannot lose a refund's answer"));
    }
    let provider = cx.f.provider();
    // Either the adapter says it does not know (the server then asks `list_refunds`), or it
    // found the refund it made by itself (a look-up by marker before resending): then it must
    // report that very refund.
    let answered = provider.refund(&request).await.ok();
    let listed = provider
        .list_refunds(&session.external_id)
        .await
        .map_err(|e| fail(format!("list_refunds after a lost answer failed: {e}")))?;
    let marker = refund_marker(&request.idempotency_key);
    if let Some(outcome) = &answered {
        ensure!(
            listed
                .iter()
                .any(|r| r.refund_id == outcome.refund_id && r.marker.as_deref() == Some(&marker)),
            "a refund whose answer was lost was reported as {:?}, which is not the refund marked \
             {marker:?} at the provider: {listed:?}",
            outcome.refund_id
        );
    }
    ensure!(
        listed
            .iter()
            .any(|r| r.marker.as_deref() == Some(&marker) && r.amount == Some(part.amount)),
        "the refund made before its answer was lost is not listed with marker {marker:?}: {listed:?}"
    );
    if cx.f.forget_idempotency_keys().await {
        let again = provider
            .list_refunds(&session.external_id)
            .await
            .map_err(|e| fail(format!("list_refunds failed: {e}")))?;
        ensure!(
            again
                .iter()
                .filter(|r| r.marker.as_deref() == Some(&marker))
                .count()
                == 1,
            "after the mock forgot its keys the refund is listed {} times",
            again.len()
        );
    }
    match cx.f.refunds_at_provider(&session).await {
        Some(n) => ensure!(n == 1, "the provider mock holds {n} refunds, expected 1"),
        None => return Err(skip("the fixture cannot count the refunds at its mock")),
    }
    Ok(())
}

/// A paid checkout of `amount` (any currency the fixture supports) and a refund request for all
/// of it with key `refund:1`.
async fn paid_of(cx: &Cx<'_>, tag: &str, amount: Money) -> Result<(CheckoutSession, RefundRequest), Verdict> {
    let provider = cx.f.provider();
    if !provider.capabilities().refund {
        return Err(skip("the adapter does not declare refunds"));
    }
    let req = checkout_request(&cx.new_ref(tag), amount);
    let session = provider
        .create_checkout(&req)
        .await
        .map_err(|e| fail(format!("create_checkout of {amount} failed: {e}")))?;
    if !cx.f.set_status(&session, PaymentStatus::Succeeded).await {
        return Err(skip("the fixture cannot make a paid payment"));
    }
    let request = RefundRequest {
        external_payment_id: session.external_id.clone(),
        amount: Some(amount),
        idempotency_key: idempotency_key(&req.payment_ref, "refund", 1),
    };
    Ok((session, request))
}

/// A refund of the suite's amount in a currency class reaches the provider exactly as that
/// class's wire form (`123456`, `4321`, `12340`; or `"1234.56"`, ... for decimal providers): a
/// refund amount sent in the wrong units fails here, whatever the mock accepts.
pub async fn amount_on_wire(cx: &Cx<'_>, class: &Class, chosen: Option<Chosen>) -> Check {
    let c = class.chosen_or_skip(chosen)?;
    let amount = money(&c)?;
    let (_, request) = paid_of(cx, &format!("refund_{}", class.name), amount).await?;
    let before =
        cx.f.received()
            .await
            .ok_or_else(|| skip("the fixture hands over no requests received by a provider mock"))?
            .len();
    let made = cx.f.provider().refund(&request).await;
    let received = cx.f.received().await.unwrap_or_default();
    let creates: Vec<_> = received
        .iter()
        .skip(before)
        .filter(|r| cx.f.is_refund_create(r))
        .collect();
    if creates.is_empty() {
        return Err(match made {
            Err(e) => fail(format!(
                "the refund of {amount} failed before reaching the mock: {e}"
            )),
            Ok(_) => skip("the fixture does not say which requests create refunds (is_refund_create)"),
        });
    }
    for r in &creates {
        ensure!(
            contains_number(&r.text(), &c.wire),
            "a refund of {amount} ({} decimals at the provider) must reach it as {}; {} {} sent {}",
            c.provider_decimals,
            c.wire,
            r.method,
            r.path,
            String::from_utf8_lossy(&r.body)
        );
    }
    made.map_err(|e| fail(format!("the refund of {amount} failed: {e}")))?;
    Ok(())
}

/// The same refund asked twice with the same key: the same refund, one at the provider.
pub async fn same_key_twice(cx: &Cx<'_>) -> Check {
    let (session, request, part) = paid(cx, "refund_twice").await?;
    let provider = cx.f.provider();
    let first = provider
        .refund(&request)
        .await
        .map_err(|e| fail(format!("a refund of {part} failed: {e}")))?;
    let second = provider
        .refund(&request)
        .await
        .map_err(|e| fail(format!("the same refund asked again failed: {e}")))?;
    ensure!(
        first.refund_id == second.refund_id,
        "the same refund key gave two refunds: {} and {}",
        first.refund_id,
        second.refund_id
    );
    match cx.f.refunds_at_provider(&session).await {
        Some(n) => ensure!(
            n == 1,
            "the provider mock holds {n} refunds after one refund asked twice"
        ),
        None => return Err(skip("the fixture cannot count the refunds at its mock")),
    }
    Ok(())
}

/// A refund's state at the provider (pending, succeeded, and failed and canceled where the
/// provider has them), put there by the fixture in the provider's own words, reaches us through
/// `list_refunds` as that state.
pub async fn states(cx: &Cx<'_>) -> Check {
    let (session, request, part) = paid(cx, "refund_states").await?;
    let provider = cx.f.provider();
    let made = provider
        .refund(&request)
        .await
        .map_err(|e| fail(format!("a refund of {part} failed: {e}")))?;
    let mut tried = 0;
    for state in [
        RefundState::Pending,
        RefundState::Succeeded,
        RefundState::Failed,
        RefundState::Canceled,
    ] {
        if !cx.f.set_refund_state(&session, &made.refund_id, state).await {
            if tried == 0 {
                return Err(skip("the fixture cannot set a refund's state (set_refund_state)"));
            }
            // Every provider has pending and done refunds; not every one has failed (Omise)
            // or cancelled ones: the fixture says so by refusing.
            ensure!(
                matches!(state, RefundState::Failed | RefundState::Canceled),
                "the fixture cannot put a refund in the state {state:?} (hook set_refund_state)"
            );
            continue;
        }
        tried += 1;
        let listed = provider
            .list_refunds(&session.external_id)
            .await
            .map_err(|e| fail(format!("list_refunds failed: {e}")))?;
        let ours = listed
            .iter()
            .find(|r| r.refund_id == made.refund_id)
            .ok_or_else(|| fail(format!("refund {} is not listed: {listed:?}", made.refund_id)))?;
        let got = RefundState::from_provider(&ours.status);
        ensure!(
            got == state,
            "a refund the provider holds as {state:?} is listed with status {:?}, which means {got:?}",
            ours.status
        );
    }
    Ok(())
}

/// Two successive partial refunds (a fifth, then two fifths): two events (two event ids), each
/// stating the running total (a fifth, then three fifths) or naming its own refund with its own
/// amount (a fifth, then two fifths, under two refund ids), never the one for the other.
pub async fn two_partial_events(cx: &Cx<'_>) -> Check {
    if !cx.f.event_kinds().contains(&Kind::Refunded) {
        return Err(skip("the fixture declares no refunded event"));
    }
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout("two_refunds", amount).await?;
    let fifth = |n: i64| Money::new(amount.amount.get() * n / 5, amount.currency);
    let mut seen: Vec<String> = Vec::new();
    let mut event_ids: Vec<String> = Vec::new();
    for (n, (total, this)) in [(fifth(1), fifth(1)), (fifth(3), fifth(2))]
        .into_iter()
        .enumerate()
    {
        let mut spec = cx.spec(Kind::Refunded, &req, &session, Some(total));
        spec.this_refund = Some(this);
        let body =
            cx.f.event_body(&spec)
                .await
                .ok_or_else(|| skip("the fixture builds no refunded event"))?;
        let ev = cx.parse("refunded", &body).await?;
        let which = if n == 0 { "first" } else { "second" };
        // Two refunds are two events: one id for both would drop the second as a redelivery.
        ensure!(
            !event_ids.contains(&ev.event_id),
            "the two refund events have one event id {:?}: the second would be dropped as a redelivery",
            ev.event_id
        );
        event_ids.push(ev.event_id.clone());
        match (&ev.kind, &ev.refund) {
            (EventKind::Refunded { amount: Some(a) }, _) => ensure!(
                *a == total.amount,
                "the {which} refund event states a running total of {} minor units; {total} has been \
                 refunded in all ({this} by this refund)",
                a.get()
            ),
            (EventKind::Refunded { amount: None }, Some(r)) => {
                ensure!(
                    r.amount == Some(this.amount),
                    "the {which} refund event names refund {:?} of {:?} minor units; this refund is {this} \
                     ({total} in all)",
                    r.id,
                    r.amount.map(|a| a.get())
                );
                ensure!(
                    !r.id.trim().is_empty() && !seen.contains(&r.id),
                    "the {which} refund event names refund {:?}, already named by the first",
                    r.id
                );
                seen.push(r.id.clone());
            }
            (other, _) => {
                return Err(fail(format!(
                    "the {which} refund event ({this}, {total} in all) was taken as {other:?} without \
                     a total or a refund"
                )))
            }
        }
    }
    Ok(())
}
