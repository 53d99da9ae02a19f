//! The payment flow, independent of HTTP: start a checkout, process a webhook (verify, record,
//! finalize or capture), and reconcile when the payer returns before the webhook.

use actix_web::http::StatusCode;
use payments_core::{
    idempotency_key, CheckoutRequest, PaymentStatus, SignatureVerdict, WebhookError, WebhookRequest,
};
use payments_store::{
    EventOutcome, FinalizeOutcome, IntentOutcome, NewAudit, PaymentRow, PaymentState, ReceiptRow, StoreError,
    VerifiedEvent,
};
use serde::Serialize;
use serde_json::json;

use crate::error::{webhook_error_status, webhook_ingest_status, webhook_store_status, AppError};
use crate::ingest::IngestError;
use crate::state::AppState;

/// Where "Pay now" sends the browser.
pub async fn start_payment(
    state: &AppState,
    receipt: ReceiptRow,
    username: String,
    actor: String,
) -> Result<String, AppError> {
    let provider = state.provider_name();
    let receipt_id = receipt.id;
    let intent = state
        .db(move |s| s.create_payment_for_receipt(receipt_id, provider))
        .await?;
    if let IntentOutcome::Reused(p) = &intent {
        if let Some(url) = &p.checkout_url {
            tracing::info!(payment = %p.public_id, "reusing the open checkout");
            return Ok(url.clone());
        }
    }
    let payment = intent.payment().clone();
    let cfg = &state.config;
    let request = CheckoutRequest {
        payment_ref: payment.public_id.clone(),
        amount: payment.amount()?,
        username,
        receipt_id,
        description: format!("HPC usage receipt #{receipt_id}"),
        success_url: format!("{}?payment={}", cfg.url(&cfg.success_path), payment.public_id),
        // The page the payer returns to on "cancel" says which payment was cancelled.
        cancel_url: format!("{}?cancelled={}", cfg.url(&cfg.cancel_path), payment.public_id),
        idempotency_key: payment.idempotency_key.clone(),
        lifetime_secs: Some(cfg.reconcile.checkout_lifetime_secs),
    };
    match state.active.provider.create_checkout(&request).await {
        Ok(session) => {
            let pid = payment.id;
            let (ext, url, who) = (
                session.external_id.clone(),
                session.redirect_url.clone(),
                actor.clone(),
            );
            state
                .db(move |s| s.attach_provider_checkout(pid, &ext, &url, &who))
                .await?;
            tracing::info!(payment = %payment.public_id, external_id = %session.external_id, "checkout started");
            Ok(session.redirect_url)
        }
        Err(e) => {
            let entry = NewAudit::new(
                &actor,
                "payment.intent",
                format!("payment {}", payment.public_id),
                json!({"provider": provider, "error": e.to_string(), "amount": request.amount.to_string()}),
            )
            .receipt(receipt_id)
            .payment(payment.id);
            state.db(move |s| s.append_audit(&entry)).await?;
            Err(AppError::Provider(e))
        }
    }
}

/// The answer to a webhook sender.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookReply {
    #[serde(skip)]
    pub status: StatusCode,
    pub result: String,
    pub message: String,
    /// Sent as `Retry-After` (seconds) with a 503.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl WebhookReply {
    fn new(status: StatusCode, result: &str, message: impl Into<String>) -> Self {
        WebhookReply {
            status,
            result: result.to_string(),
            message: message.into(),
            retry_after: None,
        }
    }
}

/// The event id a refused body claims, for the audit log only (never trusted, never stored as a
/// key), escaped and bounded.
fn claimed_event_id(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("id")
        .and_then(|id| id.as_str())
        .map(|s| crate::logsafe::clean(s, 100))
}

/// Audits and logs a refused webhook in a bounded way: nothing of the request but a bounded,
/// escaped reason, its claimed event id and its size; per reason and minute one record and one
/// log line, then a count (see `refusals`).
async fn audit_refused(state: &AppState, request: &WebhookRequest, reason: &str, code: &str) {
    use crate::refusals::Refusal;
    let provider = state.provider_name();
    let reason = crate::logsafe::bounded(reason);
    state.metrics.refused(provider, code);
    let (refusal, previous) = state.refusals.note(provider, code, request.received_at);
    let mut entries: Vec<NewAudit> = previous.iter().map(refusal_summary).collect();
    if refusal == Refusal::First {
        tracing::warn!(provider, error = %reason, code, "webhook refused (further ones of this kind are counted for the rest of the minute)");
        entries.push(NewAudit::new(
            &format!("provider:{provider}"),
            "payment.webhook",
            format!(
                "event {}",
                claimed_event_id(&request.body).unwrap_or_else(|| "(unknown)".into())
            ),
            json!({
                "provider": provider,
                "signature": format!("❌ {reason}"),
                "error": code,
                "body_bytes": request.body.len(),
                "outcome": "refused",
            }),
        ));
    }
    for entry in entries {
        if let Err(e) = state.db(move |s| s.append_audit(&entry)).await {
            tracing::error!(error = %e, "could not audit a refused webhook");
        }
    }
}

/// The audit record of refusals that were only counted during one minute.
pub fn refusal_summary(s: &crate::refusals::Summary) -> NewAudit {
    let minute = crate::templates::format_time(s.minute);
    tracing::warn!(provider = %s.provider, code = %s.code, count = s.more, "{} more webhooks refused in the minute from {minute}", s.more);
    NewAudit::new(
        &format!("provider:{}", s.provider),
        "payment.webhook",
        format!("{} more refused in the minute from {minute}", s.more),
        json!({
            "provider": s.provider,
            "signature": "❌",
            "error": s.code,
            "count": s.more,
            "minute": s.minute,
            "outcome": "refused",
        }),
    )
}

/// Audits the counted refusals of every minute that is over (called every few seconds).
pub async fn flush_refusals(state: &AppState) {
    for summary in state.refusals.due(payments_core::unix_now()) {
        let entry = refusal_summary(&summary);
        if let Err(e) = state.db(move |s| s.append_audit(&entry)).await {
            tracing::error!(error = %e, "could not audit refused webhooks");
        }
    }
}

/// Verifies, records and acts on one webhook. Every path is audited.
pub async fn process_webhook(state: &AppState, request: WebhookRequest) -> WebhookReply {
    let provider = state.active.provider.clone();
    let event = match provider.parse_webhook(&request).await {
        Ok(ev) => ev,
        Err(e) => {
            audit_refused(state, &request, &e.to_string(), e.code()).await;
            let status = webhook_error_status(&e);
            let result = if matches!(e, WebhookError::Upstream(_)) {
                "retry_later"
            } else {
                "refused"
            };
            return WebhookReply::new(status, result, crate::logsafe::bounded(&e.to_string()));
        }
    };
    let verified_by = match &event.signature {
        SignatureVerdict::Verified { method } => method.clone(),
        other => {
            let reason = crate::logsafe::bounded(&format!("not verified: {other:?}"));
            audit_refused(state, &request, &reason, "not_verified").await;
            return WebhookReply::new(StatusCode::BAD_REQUEST, "refused", reason);
        }
    };
    tracing::info!(provider = provider.name(), event = %event.event_id, kind = event.kind.label(), "webhook verified");
    let verified = VerifiedEvent {
        provider: event.provider.clone(),
        event_id: event.event_id.clone(),
        raw_type: event.raw_type.clone(),
        kind: event.kind.clone(),
        external_payment_id: event.external_payment_id.clone(),
        payment_ref: event.payment_ref.clone(),
        references: event.references.clone(),
        refund: event.refund.clone(),
        amount: event.amount,
        verified_by,
        raw_payload: String::from_utf8_lossy(&request.body).into_owned(),
        received_at: request.received_at,
    };
    // Written by the one writer, in a batch with whatever else arrived meanwhile; the outcome
    // comes back only after that batch was committed.
    let outcome = match state.ingest.submit(verified).await {
        Ok(o) => o,
        Err(IngestError::Store(e)) => return store_failure(&e),
        Err(e) => {
            tracing::warn!(error = %e, "webhook not written; the provider will retry");
            let mut reply = WebhookReply::new(webhook_ingest_status(&e), "retry_later", e.to_string());
            reply.retry_after = Some(state.ingest.retry_after_secs());
            return reply;
        }
    };
    match outcome {
        EventOutcome::CaptureRequired {
            event_row_id,
            public_id,
            ..
        } => capture_and_finalize(state, event_row_id, public_id).await,
        other => reply_for(&other),
    }
}

fn store_failure(e: &StoreError) -> WebhookReply {
    tracing::error!(error = %e, "webhook could not be stored; the provider will retry");
    let status = webhook_store_status(e);
    let mut reply = WebhookReply::new(status, "retry_later", "the database is unavailable; retry later");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        reply.retry_after = Some(1);
    }
    reply
}

fn reply_for(outcome: &EventOutcome) -> WebhookReply {
    let ok = |msg: &str| WebhookReply::new(StatusCode::OK, &outcome.label(), msg);
    match outcome {
        EventOutcome::Finalize(FinalizeOutcome::Finalized { receipt_id, .. }) => {
            ok(&format!("receipt {receipt_id} is paid"))
        }
        EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { .. }) => ok("already paid"),
        EventOutcome::Finalize(FinalizeOutcome::Mismatch { expected, got, .. }) => WebhookReply::new(
            StatusCode::CONFLICT,
            "mismatch",
            format!(
                "amount mismatch: expected {expected}, got {}; the receipt stays unpaid",
                got.map_or("nothing".to_string(), |m| m.to_string())
            ),
        ),
        EventOutcome::Finalize(FinalizeOutcome::ReceiptNotPayable { receipt_status, .. }) => {
            ok(&format!("acknowledged; the receipt is {receipt_status}, this payment needs a refund"))
        }
        EventOutcome::Finalize(FinalizeOutcome::UnknownPayment) | EventOutcome::UnknownPayment => WebhookReply::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_payment",
            "no payment of ours matches this event; it will be processed if redelivered once the payment exists",
        ),
        EventOutcome::Unmatched => ok("no payment of ours matches this event; recorded and acknowledged"),
        EventOutcome::Disputed { .. } => ok("dispute recorded against the payment"),
        EventOutcome::Duplicate { previous } if previous == "mismatch" => WebhookReply::new(
            StatusCode::CONFLICT,
            "mismatch",
            "duplicate of an event refused for an amount mismatch",
        ),
        EventOutcome::Duplicate { .. } => ok("duplicate; already processed"),
        EventOutcome::StateChanged { state, .. } => ok(&format!("payment is now {state}")),
        EventOutcome::Ignored { reason } => ok(reason),
        EventOutcome::CaptureRequired { .. } => ok("capture required"),
    }
}

/// Captures an approved payment at the provider and finalizes from what the capture returned.
async fn capture_and_finalize(state: &AppState, event_row_id: i64, public_id: String) -> WebhookReply {
    let payment = match state.db(move |s| s.payment_by_public_id(&public_id)).await {
        Ok(Some(p)) => p,
        Ok(None) => return reply_for(&EventOutcome::UnknownPayment),
        Err(AppError::Store(e)) => return store_failure(&e),
        Err(e) => return WebhookReply::new(StatusCode::INTERNAL_SERVER_ERROR, "error", e.to_string()),
    };
    match capture_payment(state, &payment, Some(event_row_id), None).await {
        Ok(outcome) => reply_for(&EventOutcome::Finalize(outcome)),
        Err(CaptureFailure::Declined(msg)) => WebhookReply::new(StatusCode::OK, "capture_declined", msg),
        Err(CaptureFailure::Pending) => WebhookReply::new(
            StatusCode::OK,
            "capture_pending",
            "captured, pending at the provider; a later event completes it",
        ),
        Err(CaptureFailure::Retry(msg)) => {
            WebhookReply::new(StatusCode::SERVICE_UNAVAILABLE, "retry_later", msg)
        }
    }
}

#[derive(Debug)]
pub(crate) enum CaptureFailure {
    Declined(String),
    Pending,
    Retry(String),
}

/// Calls the provider's capture (idempotent: one key per payment) and finalizes from its result.
/// `by` is the (actor, source) the finalize is audited with; by default the provider and
/// `capture {id}`.
pub(crate) async fn capture_payment(
    state: &AppState,
    payment: &PaymentRow,
    event_row_id: Option<i64>,
    by: Option<(&str, &str)>,
) -> Result<FinalizeOutcome, CaptureFailure> {
    let Some(external_id) = payment.external_id.clone() else {
        return Err(CaptureFailure::Declined("the payment has no provider id".into()));
    };
    let key = idempotency_key(&payment.public_id, "capture", 0);
    let snapshot = match state.active.provider.capture(&external_id, &key).await {
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
            let _ = state.db(move |s| s.append_audit(&entry)).await;
            return Err(CaptureFailure::Retry(format!("capture failed: {e}")));
        }
    };
    let public_id = payment.public_id.clone();
    let actor = by.map_or_else(|| format!("provider:{}", payment.provider), |b| b.0.to_string());
    match snapshot.status {
        PaymentStatus::Succeeded => {
            let source = by.map_or_else(|| format!("capture {external_id}"), |b| b.1.to_string());
            state
                .db(move |s| s.complete_capture(event_row_id, &public_id, snapshot.amount, &actor, &source))
                .await
                .map_err(|e| CaptureFailure::Retry(e.to_string()))
        }
        PaymentStatus::Pending | PaymentStatus::RequiresCapture => {
            let note = "capture pending".to_string();
            state
                .db(move |s| {
                    s.set_event_outcome(event_row_id, "capture_pending", true)
                        .map(|_| ())
                })
                .await
                .map_err(|e| CaptureFailure::Retry(e.to_string()))?;
            let _ = note;
            Err(CaptureFailure::Pending)
        }
        other => {
            let reason = format!("capture {other:?}");
            let r2 = reason.clone();
            state
                .db(move |s| {
                    s.close_payment(&public_id, PaymentState::Failed, &actor, &r2)?;
                    s.set_event_outcome(event_row_id, "capture_declined", true)
                })
                .await
                .map_err(|e| CaptureFailure::Retry(e.to_string()))?;
            Err(CaptureFailure::Declined(reason))
        }
    }
}

/// When the payer comes back before any webhook: for providers that need a capture, look the
/// payment up at the provider and capture it now (idempotently), so the payer does not wait on
/// webhook delivery. A later webhook for the same payment is then a harmless duplicate.
/// Providers without a capture step are left to their (signed) webhook.
pub async fn reconcile_on_return(state: &AppState, payment: &PaymentRow) {
    let provider = state.active.provider.clone();
    if !provider.capabilities().capture || provider.name() != payment.provider {
        return;
    }
    if !payment.state().is_ok_and(|s| s.is_open()) {
        return;
    }
    let Some(external_id) = payment.external_id.as_deref() else {
        return;
    };
    match provider.fetch_payment(external_id).await {
        Ok(snapshot) if snapshot.status == PaymentStatus::RequiresCapture => {
            if snapshot.amount.is_some_and(|a| Some(a) != payment.amount().ok()) {
                tracing::warn!(payment = %payment.public_id, "approved amount differs; not capturing");
                return;
            }
            match capture_payment(state, payment, None, None).await {
                Ok(outcome) => {
                    tracing::info!(payment = %payment.public_id, outcome = outcome.label(), "captured on return")
                }
                Err(e) => {
                    tracing::warn!(payment = %payment.public_id, failure = ?e, "capture on return did not finish")
                }
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(payment = %payment.public_id, error = %e, "could not fetch the payment on return")
        }
    }
}
