//! What a webhook's sender is told: the answer in the application's terms (the server maps it
//! to an HTTP status) and the JSON body, for every outcome of the store.

use payments_store::{EventOutcome, FinalizeOutcome, StoreError};
use serde::Serialize;

/// How a webhook was answered, in the application's terms; the server maps each to its HTTP
/// status (`bins/web/src/error.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Done (or deliberately left alone): the sender must not deliver it again.
    Processed,
    /// Not verified or not readable: no delivery of the same request can succeed.
    Refused,
    /// Verified, but the amount or currency is not the receipt's, or a refund would exceed the
    /// amount paid: refused and audited.
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

/// A store failure: retry later when it may pass (with `Retry-After: 1`), else our fault.
pub(super) fn store_failure(e: &StoreError) -> WebhookReply {
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

pub(super) fn reply_for(outcome: &EventOutcome) -> WebhookReply {
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
        EventOutcome::Duplicate { previous } if previous == "refund_refused" => WebhookReply::new(
            Answer::Mismatch,
            "refund_refused",
            "duplicate of a refund refused because it would exceed the amount paid",
        ),
        EventOutcome::Duplicate { .. } => ok("duplicate; already processed"),
        EventOutcome::StateChanged { state, .. } => ok(&format!("payment is now {state}")),
        EventOutcome::Ignored { reason } => ok(reason),
        // Verified, but the books cannot take it: refused like an amount mismatch (409, audited).
        EventOutcome::RefundRefused { reason, .. } => {
            WebhookReply::new(Answer::Mismatch, "refund_refused", reason.clone())
        }
        EventOutcome::CaptureRequired { .. } => ok("capture required"),
    }
}
