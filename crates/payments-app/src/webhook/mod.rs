//! Webhook ingest: verify (the adapter), queue to the writers, record and act in one
//! transaction per batch (the store), capture where the provider needs it, and say what the
//! sender is to be told. Every path is audited; refusals per kind and minute.

pub mod capture;
pub mod ingest;
pub mod refusals;
mod refused;

use payments_core::{SignatureVerdict, WebhookError, WebhookRequest};
use payments_store::{EventOutcome, FinalizeOutcome, StoreError, VerifiedEvent};
use serde::Serialize;

pub use refused::flush_refusals;

use crate::logsafe::bounded;
use crate::App;
use ingest::IngestError;

/// How a webhook was answered, in the application's terms; the server maps each to its HTTP
/// status (`bins/web/src/error.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Done (or deliberately left alone): the sender must not deliver it again.
    Processed,
    /// Not verified or not readable: no delivery of the same request can succeed.
    Refused,
    /// Verified, but the amount or currency is not the receipt's: refused and audited.
    Mismatch,
    /// Verified, but no payment of ours matches it yet.
    UnknownPayment,
    /// Not written now (queue full, database or provider unreachable): deliver it again later.
    RetryLater,
    /// Not written because of a fault of ours.
    Failed,
}

/// The answer to a webhook sender: the JSON body (`result`, `message`) and how to send it.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookReply {
    #[serde(skip)]
    pub answer: Answer,
    pub result: String,
    pub message: String,
    /// Sent as `Retry-After` (seconds) with a retry-later answer.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl WebhookReply {
    pub(crate) fn new(answer: Answer, result: &str, message: impl Into<String>) -> Self {
        WebhookReply {
            answer,
            result: result.to_string(),
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Verifies, records and acts on one webhook. Every path is audited. The answer comes only
/// after what it changed was committed.
pub async fn process_webhook(app: &App, request: WebhookRequest) -> WebhookReply {
    let provider = app.provider().clone();
    let event = match provider.parse_webhook(&request).await {
        Ok(ev) => ev,
        Err(e) => {
            refused::audit_refused(app, &request, &e.to_string(), e.code()).await;
            let (answer, result) = if matches!(e, WebhookError::Upstream(_)) {
                (Answer::RetryLater, "retry_later")
            } else {
                (Answer::Refused, "refused")
            };
            return WebhookReply::new(answer, result, bounded(&e.to_string()));
        }
    };
    let verified_by = match &event.signature {
        SignatureVerdict::Verified { method } => method.clone(),
        other => {
            let reason = bounded(&format!("not verified: {other:?}"));
            refused::audit_refused(app, &request, &reason, "not_verified").await;
            return WebhookReply::new(Answer::Refused, "refused", reason);
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
    // Written by a writer, in a batch with whatever else arrived meanwhile; the outcome comes
    // back only after that batch was committed.
    let outcome = match app.ingest().submit(verified).await {
        Ok(o) => o,
        Err(IngestError::Store(e)) => return store_failure(&e),
        Err(e) => {
            tracing::warn!(error = %e, "webhook not written; the provider will retry");
            let mut reply = WebhookReply::new(Answer::RetryLater, "retry_later", e.to_string());
            reply.retry_after = Some(app.ingest().retry_after_secs());
            return reply;
        }
    };
    match outcome {
        EventOutcome::CaptureRequired {
            event_row_id,
            public_id,
            ..
        } => capture::capture_and_finalize(app, event_row_id, public_id).await,
        other => reply_for(&other),
    }
}

/// A store failure: retry later when it may pass (with `Retry-After: 1`), else our fault.
fn store_failure(e: &StoreError) -> WebhookReply {
    tracing::error!(error = %e, "webhook could not be stored; the provider will retry");
    let transient = e.is_transient();
    let answer = if transient {
        Answer::RetryLater
    } else {
        Answer::Failed
    };
    let mut reply = WebhookReply::new(answer, "retry_later", "the database is unavailable; retry later");
    if transient {
        reply.retry_after = Some(1);
    }
    reply
}

fn reply_for(outcome: &EventOutcome) -> WebhookReply {
    let ok = |msg: &str| WebhookReply::new(Answer::Processed, &outcome.label(), msg);
    match outcome {
        EventOutcome::Finalize(FinalizeOutcome::Finalized { receipt_id, .. }) => {
            ok(&format!("receipt {receipt_id} is paid"))
        }
        EventOutcome::Finalize(FinalizeOutcome::AlreadyFinalized { .. }) => ok("already paid"),
        EventOutcome::Finalize(FinalizeOutcome::Mismatch { expected, got, .. }) => WebhookReply::new(
            Answer::Mismatch,
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
            Answer::UnknownPayment,
            "unknown_payment",
            "no payment of ours matches this event; it will be processed if redelivered once the payment exists",
        ),
        EventOutcome::Unmatched => ok("no payment of ours matches this event; recorded and acknowledged"),
        EventOutcome::Disputed { .. } => ok("dispute recorded against the payment"),
        EventOutcome::Duplicate { previous } if previous == "mismatch" => WebhookReply::new(
            Answer::Mismatch,
            "mismatch",
            "duplicate of an event refused for an amount mismatch",
        ),
        EventOutcome::Duplicate { .. } => ok("duplicate; already processed"),
        EventOutcome::StateChanged { state, .. } => ok(&format!("payment is now {state}")),
        EventOutcome::Ignored { reason } => ok(reason),
        EventOutcome::CaptureRequired { .. } => ok("capture required"),
    }
}
