//! What the transactional operations report back.

use payments_core::{EventKind, Money, RefundReport};
use serde::Serialize;

use crate::models::{PaymentRow, RefundRow};

/// `create_payment_for_receipt`.
#[derive(Debug, Clone)]
pub enum IntentOutcome {
    Created(PaymentRow),
    /// An open intent for the same receipt, provider and amount already existed.
    Reused(PaymentRow),
}

impl IntentOutcome {
    pub fn payment(&self) -> &PaymentRow {
        match self {
            IntentOutcome::Created(p) | IntentOutcome::Reused(p) => p,
        }
    }
}

/// `record_webhook_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// First delivery; the row id.
    Inserted(i64),
    /// Seen before but never processed to the end (e.g. the capture call failed): process again.
    Reprocess(i64),
    /// Already processed; the stored outcome.
    Duplicate { outcome: String },
}

/// `finalize_success_if_amount_matches`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FinalizeOutcome {
    /// The payment and its receipt are now paid.
    Finalized {
        payment_id: i64,
        receipt_id: i64,
    },
    AlreadyFinalized {
        payment_id: i64,
    },
    /// Nothing was changed.
    Mismatch {
        payment_id: i64,
        expected: Money,
        got: Option<Money>,
    },
    UnknownPayment,
    /// The receipt was paid by another payment, or voided; this money needs a refund.
    ReceiptNotPayable {
        payment_id: i64,
        receipt_status: String,
    },
}

impl FinalizeOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            FinalizeOutcome::Finalized { .. } => "finalized",
            FinalizeOutcome::AlreadyFinalized { .. } => "already_finalized",
            FinalizeOutcome::Mismatch { .. } => "mismatch",
            FinalizeOutcome::UnknownPayment => "unknown_payment",
            FinalizeOutcome::ReceiptNotPayable { .. } => "receipt_not_payable",
        }
    }
}

/// A webhook event whose authenticity the adapter established.
#[derive(Debug, Clone)]
pub struct VerifiedEvent {
    pub provider: String,
    pub event_id: String,
    pub raw_type: String,
    pub kind: EventKind,
    pub external_payment_id: Option<String>,
    pub payment_ref: Option<String>,
    /// Further provider ids of the payment the event reveals (see `WebhookEvent::references`).
    pub references: Vec<String>,
    /// The one refund a refund event describes (see `WebhookEvent::refund`).
    pub refund: Option<RefundReport>,
    pub amount: Option<Money>,
    /// How it was verified, for the audit log (`hmac-sha256`, `api-refetch`, ...).
    pub verified_by: String,
    pub raw_payload: String,
    pub received_at: i64,
}

/// `handle_verified_event`: what happened to one verified webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EventOutcome {
    Finalize(FinalizeOutcome),
    /// Processed before; `previous` is what happened then.
    Duplicate {
        previous: String,
    },
    /// The payer approved; the caller must capture, then call `complete_capture`.
    CaptureRequired {
        event_row_id: i64,
        payment_id: i64,
        public_id: String,
        external_id: String,
    },
    /// The payment's state changed (failed, expired, refunded, pending).
    StateChanged {
        payment_id: i64,
        state: String,
    },
    /// A verified refund the books cannot take (it would make the refunds exceed the amount
    /// paid): not recorded, audited with the reason, and answered as refused.
    RefundRefused {
        payment_id: i64,
        reason: String,
    },
    /// Acknowledged without effect.
    Ignored {
        reason: String,
    },
    /// No payment of ours matches a success (or approval); recorded unprocessed so a
    /// redelivery is tried again (it can race the checkout).
    UnknownPayment,
    /// A dispute (chargeback) was recorded against the payment.
    Disputed {
        payment_id: i64,
    },
    /// No payment of ours matches an event that is not a success (refund, dispute, failure,
    /// expiry, pending): recorded as processed and acknowledged, so the provider stops retrying.
    Unmatched,
}

impl EventOutcome {
    /// The text stored in `payment_events.outcome`.
    pub fn label(&self) -> String {
        match self {
            EventOutcome::Finalize(f) => f.label().to_string(),
            EventOutcome::Duplicate { previous } => format!("duplicate of {previous}"),
            EventOutcome::CaptureRequired { .. } => "capture_required".into(),
            EventOutcome::StateChanged { state, .. } => format!("state_{state}"),
            EventOutcome::Ignored { reason } => format!("ignored: {reason}"),
            EventOutcome::RefundRefused { .. } => "refund_refused".into(),
            EventOutcome::UnknownPayment => "unknown_payment".into(),
            EventOutcome::Unmatched => "unmatched".into(),
            EventOutcome::Disputed { .. } => "dispute_recorded".into(),
        }
    }
}

/// `Store::request_refund_once`.
#[derive(Debug, Clone)]
pub enum RefundRequested {
    /// Stored now, as `requested`: call the provider.
    New(RefundRow),
    /// The confirmation page was posted before: the refund it made, as it stands.
    Repeated(RefundRow),
}

impl RefundRequested {
    pub fn row(&self) -> &RefundRow {
        match self {
            RefundRequested::New(r) | RefundRequested::Repeated(r) => r,
        }
    }
}

/// What [`crate::Store::sync_refunds`] found when it compared our refunds of a payment with the
/// provider's list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RefundSync {
    /// Our refunds whose state changed (id, new status).
    pub changed: Vec<(i64, String)>,
    /// Refunds at the provider we did not know, now recorded as the provider's own.
    pub added: usize,
    /// Our refunds still `requested` that the provider does not list (their call never arrived,
    /// or has not been carried out yet).
    pub not_listed: Vec<i64>,
}

/// What the provider answered to a refund we asked for (`Store::record_refund_answer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundAnswer {
    /// The provider took it: its refund id, the amount it states (checked against ours) and
    /// where the refund stands.
    Accepted {
        external_id: String,
        amount_minor: Option<i64>,
        state: payments_core::RefundState,
    },
    /// The provider refused it for good (an API error): nothing was refunded, the amount is
    /// free again.
    Refused { error: String },
    /// No answer (network, timeout, 5xx): it may or may not have happened, so the amount stays
    /// reserved; a retry with the same idempotency key cannot refund twice.
    Unknown { error: String },
}
