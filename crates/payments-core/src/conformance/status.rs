//! `fetch_payment` and `capture` round trips through every status the fixture declares.

use super::{ensure, fail, skip, Check, Cx};
use crate::provider::{PaymentSnapshot, PaymentStatus};

pub const ALL: [PaymentStatus; 7] = [
    PaymentStatus::Pending,
    PaymentStatus::RequiresCapture,
    PaymentStatus::Succeeded,
    PaymentStatus::Failed,
    PaymentStatus::Expired,
    PaymentStatus::Canceled,
    PaymentStatus::Refunded,
];

pub fn label(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::Pending => "pending",
        PaymentStatus::RequiresCapture => "requires_capture",
        PaymentStatus::Succeeded => "succeeded",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Expired => "expired",
        PaymentStatus::Canceled => "canceled",
        PaymentStatus::Refunded => "refunded",
    }
}

fn same_payment(
    what: &str,
    snap: &PaymentSnapshot,
    external_id: &str,
    amount: crate::Money,
    payment_ref: &str,
) -> Check {
    ensure!(
        snap.external_id == external_id,
        "{what}: external id {:?}, expected {external_id:?}",
        snap.external_id
    );
    ensure!(
        snap.amount == Some(amount),
        "{what}: amount {:?}, the payment is {amount}",
        snap.amount.map(|m| m.to_string())
    );
    ensure!(
        snap.payment_ref.as_deref().is_none_or(|r| r == payment_ref),
        "{what}: our payment id came back as {:?}, expected {payment_ref:?}",
        snap.payment_ref
    );
    Ok(())
}

/// A mock payment put in `status` is reported by `fetch_payment` as exactly that status.
pub async fn fetch(cx: &Cx<'_>, status: PaymentStatus) -> Check {
    if !cx.f.provider().capabilities().fetch_payment {
        return Err(skip("the adapter does not declare fetch_payment"));
    }
    if !cx.f.statuses().contains(&status) {
        return Err(skip(format!("the fixture declares no {} payment", label(status))));
    }
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout(label(status), amount).await?;
    if !cx.f.set_status(&session, status).await {
        return Err(skip(format!(
            "the fixture cannot make a {} payment",
            label(status)
        )));
    }
    let snap =
        cx.f.provider()
            .fetch_payment(&session.external_id)
            .await
            .map_err(|e| {
                fail(format!(
                    "fetch_payment of a {} payment failed: {e}",
                    label(status)
                ))
            })?;
    ensure!(
        snap.status == status,
        "fetch_payment reported a {} payment as {:?}",
        label(status),
        snap.status
    );
    same_payment(
        "fetch_payment",
        &snap,
        &session.external_id,
        amount,
        &req.payment_ref,
    )
}

/// An approved payment is captured (twice with the same key, once at the provider) and then
/// reported as succeeded.
pub async fn capture_approved(cx: &Cx<'_>) -> Check {
    let provider = cx.f.provider();
    if !provider.capabilities().capture {
        return Err(skip("the adapter does not declare capture"));
    }
    let (_, amount) = cx.primary()?;
    let (req, session) = cx.checkout("capture", amount).await?;
    if !cx.f.set_status(&session, PaymentStatus::RequiresCapture).await {
        return Err(skip("the fixture cannot make an approved, uncaptured payment"));
    }
    let key = crate::idempotency_key(&req.payment_ref, "capture", 0);
    for attempt in ["first", "repeated"] {
        let snap = provider.capture(&session.external_id, &key).await.map_err(|e| {
            fail(format!(
                "the {attempt} capture of an approved payment failed: {e}"
            ))
        })?;
        ensure!(
            snap.status == PaymentStatus::Succeeded,
            "the {attempt} capture reported {:?}",
            snap.status
        );
        ensure!(
            snap.amount == Some(amount),
            "the {attempt} capture reported amount {:?}, the payment is {amount}",
            snap.amount.map(|m| m.to_string())
        );
    }
    if provider.capabilities().fetch_payment {
        let snap = provider
            .fetch_payment(&session.external_id)
            .await
            .map_err(|e| fail(format!("fetch_payment after capture failed: {e}")))?;
        ensure!(
            snap.status == PaymentStatus::Succeeded,
            "after capture fetch_payment reported {:?}",
            snap.status
        );
    }
    Ok(())
}

/// Capturing a payment that was not approved never reports success.
pub async fn capture_not_approved(cx: &Cx<'_>) -> Check {
    let provider = cx.f.provider();
    if !provider.capabilities().capture {
        return Err(skip("the adapter does not declare capture"));
    }
    let (_, amount) = cx.primary()?;
    let mut ran = 0;
    for status in cx.f.statuses() {
        if matches!(
            status,
            PaymentStatus::RequiresCapture | PaymentStatus::Succeeded | PaymentStatus::Refunded
        ) {
            continue;
        }
        let (req, session) = cx.checkout("nocapture", amount).await?;
        if !cx.f.set_status(&session, status).await {
            continue;
        }
        ran += 1;
        let key = crate::idempotency_key(&req.payment_ref, "capture", 0);
        if let Ok(snap) = provider.capture(&session.external_id, &key).await {
            ensure!(
                snap.status != PaymentStatus::Succeeded,
                "capturing a {} payment reported success",
                label(status)
            );
        }
    }
    if ran == 0 {
        return Err(skip("the fixture declares no unapproved status it can set"));
    }
    Ok(())
}
