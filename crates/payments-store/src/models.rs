//! Rows as the application sees them.

use diesel::prelude::*;
use payments_core::{Currency, Money};
use serde::Serialize;

use crate::schema::*;
use crate::StoreError;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Result<Self, StoreError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(StoreError::Corrupt(format!("unknown {} {other:?}", stringify!($name)))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(Role { User => "user", Admin => "admin" });
text_enum!(
    /// A receipt's state.
    ReceiptStatus {
        Unpaid => "unpaid",
        Paid => "paid",
        PartiallyRefunded => "partially_refunded",
        Refunded => "refunded",
        Void => "void",
    }
);
text_enum!(
    /// A payment attempt's state.
    PaymentState {
        Created => "created",
        Pending => "pending",
        RequiresCapture => "requires_capture",
        Succeeded => "succeeded",
        Failed => "failed",
        Expired => "expired",
        Canceled => "canceled",
        Refunded => "refunded",
    }
);

impl PaymentState {
    /// Still waiting for the payer or the provider.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PaymentState::Created | PaymentState::Pending | PaymentState::RequiresCapture
        )
    }

    pub const OPEN: [&'static str; 3] = ["created", "pending", "requires_capture"];
}

fn money(amount: i64, currency: &str) -> Result<Money, StoreError> {
    Currency::from_code(currency)
        .map(|c| Money::new(amount, c))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
}

/// A login session (see `Store::session_*`). `id_hash` is the SHA-256 of the cookie's key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    /// The session's values as a JSON object of strings.
    pub state: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl UserRow {
    pub fn role(&self) -> Result<Role, StoreError> {
        Role::parse(&self.role)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = receipts)]
pub struct ReceiptRow {
    pub id: i64,
    pub user_id: i64,
    pub currency: String,
    pub total_minor: i64,
    pub status: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
}

impl ReceiptRow {
    pub fn total(&self) -> Result<Money, StoreError> {
        money(self.total_minor, &self.currency)
    }

    pub fn status(&self) -> Result<ReceiptStatus, StoreError> {
        ReceiptStatus::parse(&self.status)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = usage_records)]
pub struct UsageRow {
    pub id: i64,
    pub user_id: i64,
    pub job_id: String,
    pub description: String,
    pub cpu_core_seconds: i64,
    pub gpu_seconds: i64,
    pub ended_at: i64,
    pub cost_minor: i64,
    pub currency: String,
    pub receipt_id: Option<i64>,
    pub created_at: i64,
}

impl UsageRow {
    pub fn cost(&self) -> Result<Money, StoreError> {
        money(self.cost_minor, &self.currency)
    }
}

/// A usage record to import.
#[derive(Debug, Clone)]
pub struct NewUsage {
    pub username: String,
    pub job_id: String,
    pub description: String,
    pub cpu_core_seconds: i64,
    pub gpu_seconds: i64,
    pub ended_at: i64,
    pub cost: Money,
}

/// A priced usage row and the line of the file it came from.
#[derive(Debug, Clone)]
pub struct ImportLine {
    pub line: u64,
    pub row: NewUsage,
}

/// A chunk of usage rows to insert, column by column (PostgreSQL copies them into the import's
/// staging table; SQLite writes them as one multi-row statement).
#[derive(Debug, Default)]
pub(crate) struct UsageColumns<'a> {
    pub user_id: Vec<i64>,
    pub job_id: Vec<&'a str>,
    pub description: Vec<&'a str>,
    pub cpu_core_seconds: Vec<i64>,
    pub gpu_seconds: Vec<i64>,
    pub ended_at: Vec<i64>,
    pub cost_minor: Vec<i64>,
    pub currency: Vec<&'a str>,
    pub created_at: i64,
}

/// Where a page of a user's unbilled records starts: the first, or after or before the
/// `(ended_at, id)` of a record on the page shown (keyset paging: no offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageCursor {
    First,
    After(i64, i64),
    Before(i64, i64),
}

/// One currency's count and money over a filtered set of receipts (`Store::receipt_totals`),
/// in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyTotal {
    pub currency: String,
    pub receipts: i64,
    /// The receipts' totals.
    pub billed_minor: i64,
    /// Their succeeded payments (a second payment included).
    pub received_minor: i64,
    /// What the providers refunded of those.
    pub refunded_minor: i64,
}

/// Where a page of receipts (newest first) starts: the newest, below an id (older ones) or
/// above one (newer ones), keyset paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCursor {
    Newest,
    Before(i64),
    After(i64),
}

/// The most problems an import lists; beyond, it counts them.
pub const MAX_REPORTED: usize = 100;

/// What an import (or a check of a file) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Rows read (good and bad).
    pub read: u64,
    /// Rows written (kept only when `committed`).
    pub imported: u64,
    /// The first [`MAX_REPORTED`] problems, each `line N: what`, in file order.
    pub problems: Vec<String>,
    /// Every problem, listed or not.
    pub problem_count: u64,
    /// Whether the rows were kept (no problem, and not a dry run).
    pub committed: bool,
}

impl ImportOutcome {
    /// Notes a problem of file line `line`.
    pub fn problem(&mut self, line: u64, message: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_REPORTED {
            self.problems.push(format!("line {line}: {message}"));
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub id: i64,
    pub public_id: String,
    pub receipt_id: i64,
    pub provider: String,
    pub external_id: Option<String>,
    pub idempotency_key: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub checkout_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The cumulative refunded amount (minor units), never above `amount_minor`.
    pub refunded_minor: i64,
    /// Succeeded for a receipt another payment had paid (or that was voided): kept, flagged,
    /// to be refunded; it never changes its receipt.
    pub second_payment: bool,
}

impl PaymentRow {
    pub fn amount(&self) -> Result<Money, StoreError> {
        money(self.amount_minor, &self.currency)
    }

    pub fn refunded(&self) -> Result<Money, StoreError> {
        money(self.refunded_minor, &self.currency)
    }

    /// The state to show: `partially_refunded` for a succeeded payment with refunds (the stored
    /// state stays `succeeded`, so "one success per receipt" keeps holding), else the state.
    pub fn display_status(&self) -> &str {
        if self.status == PaymentState::Succeeded.as_str() && self.refunded_minor > 0 {
            "partially_refunded"
        } else {
            &self.status
        }
    }

    pub fn state(&self) -> Result<PaymentState, StoreError> {
        PaymentState::parse(&self.status)
    }
}

text_enum!(
    /// Where one refund stands: `requested` is stored before the provider is called (and stays
    /// so while its outcome is unknown); `failed` ones count for nothing.
    RefundStatus {
        Requested => "requested",
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
        Canceled => "canceled",
    }
);

impl RefundStatus {
    /// The states whose amount is taken from what can still be refunded.
    pub const COUNTED: [&'static str; 3] = ["requested", "pending", "succeeded"];

    pub fn from_core(state: payments_core::RefundState) -> Self {
        match state {
            payments_core::RefundState::Pending => RefundStatus::Pending,
            payments_core::RefundState::Succeeded => RefundStatus::Succeeded,
            payments_core::RefundState::Failed => RefundStatus::Failed,
            payments_core::RefundState::Canceled => RefundStatus::Canceled,
        }
    }

    /// Still waiting for the provider (asked, or accepted and not yet carried out).
    pub fn in_flight(self) -> bool {
        matches!(self, RefundStatus::Requested | RefundStatus::Pending)
    }

    /// Failed or canceled: nothing was refunded.
    pub fn is_void(self) -> bool {
        matches!(self, RefundStatus::Failed | RefundStatus::Canceled)
    }
}

/// One refund of a payment (see `Store::request_refund`).
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = refunds)]
pub struct RefundRow {
    pub id: i64,
    pub payment_id: i64,
    pub provider: String,
    /// 1, 2, ... for refunds started here; `None` for the provider's own.
    pub seq: Option<i64>,
    pub idempotency_key: Option<String>,
    pub external_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    /// `admin` (started here) or `provider` (seen first in a webhook).
    pub origin: String,
    pub reason: String,
    pub requested_by: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The confirmation page's token, for refunds started from it (see `Store::request_refund`).
    pub request_token: Option<String>,
}

impl RefundRow {
    pub fn amount(&self) -> Result<Money, StoreError> {
        money(self.amount_minor, &self.currency)
    }

    pub fn state(&self) -> Result<RefundStatus, StoreError> {
        RefundStatus::parse(&self.status)
    }
}

/// A dispute (chargeback) opened against a payment, one per provider event.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = disputes)]
pub struct DisputeRow {
    pub id: i64,
    pub payment_id: i64,
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = payment_events)]
pub struct EventRow {
    pub id: i64,
    pub provider: String,
    pub external_event_id: String,
    pub payment_id: Option<i64>,
    pub event_type: String,
    pub kind: String,
    pub signature: String,
    pub raw_payload: String,
    pub outcome: Option<String>,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub created_at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub receipt_id: Option<i64>,
    pub payment_id: Option<i64>,
    pub detail: String,
}

/// A verified event stored together with what handling it did (its payment, its outcome, and
/// `processed_at` unless it stays open for a redelivery).
#[derive(Debug, Insertable)]
#[diesel(table_name = payment_events, treat_none_as_null = true)]
pub(crate) struct HandledEvent<'a> {
    provider: &'a str,
    external_event_id: &'a str,
    payment_id: Option<i64>,
    event_type: &'a str,
    kind: &'a str,
    signature: String,
    raw_payload: &'a str,
    outcome: &'a str,
    received_at: i64,
    processed_at: Option<i64>,
}

impl<'a> HandledEvent<'a> {
    pub(crate) fn new(
        ev: &'a crate::outcomes::VerifiedEvent,
        payment_id: Option<i64>,
        outcome: &'a str,
        processed_at: Option<i64>,
    ) -> Self {
        HandledEvent {
            provider: &ev.provider,
            external_event_id: &ev.event_id,
            payment_id,
            event_type: &ev.raw_type,
            kind: ev.kind.label(),
            signature: format!("verified ({})", ev.verified_by),
            raw_payload: &ev.raw_payload,
            outcome,
            received_at: ev.received_at,
            processed_at,
        }
    }
}

/// An audit entry to append.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAudit {
    pub created_at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub receipt_id: Option<i64>,
    pub payment_id: Option<i64>,
    pub detail: String,
}

impl NewAudit {
    pub fn new(actor: &str, action: &str, subject: impl Into<String>, detail: serde_json::Value) -> Self {
        NewAudit {
            created_at: payments_core::unix_now(),
            actor: actor.to_string(),
            action: action.to_string(),
            subject: subject.into(),
            receipt_id: None,
            payment_id: None,
            detail: detail.to_string(),
        }
    }

    pub fn receipt(mut self, id: i64) -> Self {
        self.receipt_id = Some(id);
        self
    }

    pub fn payment(mut self, id: i64) -> Self {
        self.payment_id = Some(id);
        self
    }
}

/// Filter and page for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub receipt_id: Option<i64>,
    pub limit: i64,
    pub offset: i64,
}

/// Admin filters over receipts (see `Store::receipts_matching`): all optional; times are unix
/// seconds of creation, `since` inclusive and `until` exclusive; `search` is a receipt number
/// or part of a username, matched literally.
#[derive(Debug, Clone, Default)]
pub struct ReceiptFilter {
    pub status: Option<String>,
    pub username: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub search: Option<String>,
    /// Receipts with a payment (any state) through this provider.
    pub provider: Option<String>,
}

/// Further audit-log filters (see `Store::audit_page`): all optional; times are unix seconds,
/// `since` inclusive and `until` exclusive; `text` is matched literally; `actor` exactly, a bare
/// name (`boss`) standing for `user:boss` or the bare actor `boss` (`system`, `cli`, ...).
#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    pub actor: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub text: Option<String>,
}

/// What an admin's list and its CSV show of a receipt's money besides its total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptMoney {
    /// The succeeded payments' amounts (a second payment included).
    pub paid_minor: i64,
    /// What the provider refunded of them.
    pub refunded_minor: i64,
    /// Refunds recorded (any state).
    pub refunds: i64,
    pub disputed: bool,
    /// Provider and provider payment id of each succeeded payment, oldest first.
    pub providers: Vec<(String, String)>,
}
