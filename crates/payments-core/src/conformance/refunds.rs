//! Refunds are found again, never made twice: every refund the adapter makes carries our
//! [`refund_marker`](crate::refund_marker) and is listed with it by `list_refunds`, so that a
//! refund whose answer was lost is settled by asking, even after the provider forgot its key.

use super::amounts::{contains_number, Chosen, Class};
use super::{checkout_request, ensure, fail, money, refund_of, skip, Check, Cx, Verdict};
use crate::provider::{idempotency_key, refund_marker, CheckoutSession, PaymentStatus, RefundRequest};
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

/// A refund whose answer is lost is found by `list_refunds`; after the provider has forgotten
/// the key it still holds exactly one refund.
pub async fn lost_answer(cx: &Cx<'_>) -> Check {
    let (session, request, part) = paid(cx, "refund_lost").await?;
    if !cx.f.lose_next_refund_answer().await {
        return Err(skip("the fixture cannot lose a refund's answer"));
    }
    let provider = cx.f.provider();
    ensure!(
        provider.refund(&request).await.is_err(),
        "a refund whose answer was lost reported success"
    );
    let listed = provider
        .list_refunds(&session.external_id)
        .await
        .map_err(|e| fail(format!("list_refunds after a lost answer failed: {e}")))?;
    let marker = refund_marker(&request.idempotency_key);
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
