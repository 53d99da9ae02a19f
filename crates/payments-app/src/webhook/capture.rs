//! The capture step of providers that approve first and take the money on our call (PayPal):
//! capture with the payment's one idempotency key, then finalize from what the capture returned.

use payments_core::{idempotency_key, PaymentStatus};
use payments_store::{EventOutcome, FinalizeOutcome, NewAudit, PaymentRow, PaymentState};
use serde_json::json;

use super::reply::{reply_for, store_failure, Answer, WebhookReply};
use crate::{App, Error};

/// Captures an approved payment at the provider and finalizes from what the capture returned.
pub(super) async fn capture_and_finalize(app: &App, event_row_id: i64, public_id: String) -> WebhookReply {
    let payment = match app.db(move |s| s.payment_by_public_id(&public_id)).await {
        Ok(Some(p)) => p,
        Ok(None) => return reply_for(&EventOutcome::UnknownPayment),
        Err(Error::Store(e)) => return store_failure(&e),
        Err(e) => return WebhookReply::new(Answer::Failed, "error", e.to_string()),
    };
    match capture_payment(app, &payment, Some(event_row_id), None).await {
        Ok(outcome) => reply_for(&EventOutcome::Finalize(outcome)),
        Err(CaptureFailure::Declined(msg)) => WebhookReply::new(Answer::Processed, "capture_declined", msg),
        Err(CaptureFailure::Pending) => WebhookReply::new(
            Answer::Processed,
            "capture_pending",
            "captured, pending at the provider; a later event completes it",
        ),
        Err(CaptureFailure::Retry(msg)) => WebhookReply::new(Answer::RetryLater, "retry_later", msg),
    }
}

/// Why a capture did not end in a finalize.
#[derive(Debug)]
pub enum CaptureFailure {
    /// The provider declined it; the payment is closed as failed.
    Declined(String),
    /// Captured, but pending at the provider; a later event completes it.
    Pending,
    /// The call or the database failed; try again later (the key makes it safe).
    Retry(String),
}

/// Calls the provider's capture (idempotent: one key per payment) and finalizes from its result.
/// `by` is the (actor, source) the finalize is audited with; by default the provider and
/// `capture {id}`.
pub async fn capture_payment(
    app: &App,
    payment: &PaymentRow,
    event_row_id: Option<i64>,
    by: Option<(&str, &str)>,
) -> Result<FinalizeOutcome, CaptureFailure> {
    let Some(external_id) = payment.external_id.clone() else {
        return Err(CaptureFailure::Declined("the payment has no provider id".into()));
    };
    let key = idempotency_key(&payment.public_id, "capture", 0);
    let provider = app
        .provider(&payment.provider)
        .map_err(|e| CaptureFailure::Retry(e.to_string()))?
        .clone();
    let snapshot = match provider.capture(&external_id, &key).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(payment = %payment.public_id, error = %e, "capture failed");
            let entry = NewAudit::new(
                &format!("provider:{}", payment.provider),
                "payment.capture",
                format!("payment {}", payment.public_id),
                json!({"result": "error", "error": e.to_string()}),
            )
            .receipt(payment.receipt_id)
            .payment(payment.id);
            let _ = app.db(move |s| s.append_audit(&entry)).await;
            return Err(CaptureFailure::Retry(format!("capture failed: {e}")));
        }
    };
    let public_id = payment.public_id.clone();
    let actor = by.map_or_else(|| format!("provider:{}", payment.provider), |b| b.0.to_string());
    match snapshot.status {
        PaymentStatus::Succeeded => {
            let source = by.map_or_else(|| format!("capture {external_id}"), |b| b.1.to_string());
            app.db(move |s| s.finalize_from_provider(event_row_id, &public_id, &snapshot, &actor, &source))
                .await
                .map_err(|e| CaptureFailure::Retry(e.to_string()))
        }
        PaymentStatus::Pending | PaymentStatus::RequiresCapture => {
            app.db(move |s| {
                s.set_event_outcome(event_row_id, "capture_pending", true)
                    .map(|_| ())
            })
            .await
            .map_err(|e| CaptureFailure::Retry(e.to_string()))?;
            Err(CaptureFailure::Pending)
        }
        other => {
            let reason = format!("capture {other:?}");
            let r2 = reason.clone();
            app.db(move |s| {
                s.close_payment(&public_id, PaymentState::Failed, &actor, &r2)?;
                s.set_event_outcome(event_row_id, "capture_declined", true)
            })
            .await
            .map_err(|e| CaptureFailure::Retry(e.to_string()))?;
            Err(CaptureFailure::Declined(reason))
        }
    }
}
