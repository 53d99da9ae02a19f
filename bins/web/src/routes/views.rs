//! What pages show of stored rows: amounts and times formatted, nothing recomputed.

use payments_app::format::{format_duration, format_time};
use payments_store::{DisputeRow, ReceiptRow, RefundRow, UsageRow};
use serde::Serialize;

use crate::error::AppError;

#[derive(Serialize)]
pub struct UsageView {
    pub id: i64,
    pub job_id: String,
    pub description: String,
    pub cpu: String,
    pub gpu: String,
    pub ended: String,
    pub cost: String,
    /// For the selection total the page's script keeps (integer minor units).
    pub cost_minor: i64,
    pub receipt_id: Option<i64>,
}

impl UsageView {
    pub fn from(u: &UsageRow) -> Result<Self, AppError> {
        Ok(UsageView {
            id: u.id,
            job_id: u.job_id.clone(),
            description: u.description.clone(),
            cpu: format_duration(u.cpu_core_seconds),
            gpu: format_duration(u.gpu_seconds),
            ended: format_time(u.ended_at),
            cost: u.cost()?.to_string(),
            cost_minor: u.cost_minor,
            receipt_id: u.receipt_id,
        })
    }
}

#[derive(Serialize)]
pub struct ReceiptView {
    pub id: i64,
    pub owner: String,
    pub created: String,
    pub paid: Option<String>,
    pub status: String,
    /// The status in words (`Partially refunded, THB 20.00 back`).
    pub status_text: String,
    pub total: String,
    /// A dispute was recorded against one of its payments (admin list).
    pub disputed: bool,
    /// A second payment arrived for it (see `PaymentRow::second_payment`): to be refunded.
    pub paid_twice: bool,
}

impl ReceiptView {
    pub fn from(r: &ReceiptRow, owner: &str) -> Result<Self, AppError> {
        Ok(ReceiptView {
            id: r.id,
            owner: owner.to_string(),
            created: format_time(r.created_at),
            paid: r.paid_at.map(format_time),
            status: r.status.clone(),
            status_text: payments_app::receipts::receipt_status_text(
                &r.status,
                r.total()?,
                None,
                r.paid_at.map(format_time).as_deref(),
            ),
            total: r.total()?.to_string(),
            disputed: false,
            paid_twice: false,
        })
    }

    /// The same, its status telling what was refunded (`money` from `Store::receipt_money`).
    pub fn with_money(
        r: &ReceiptRow,
        owner: &str,
        money: Option<&payments_store::ReceiptMoney>,
    ) -> Result<Self, AppError> {
        let mut view = ReceiptView::from(r, owner)?;
        if let Some(m) = money {
            let total = r.total()?;
            let refunded =
                (m.refunded_minor > 0).then(|| payments_core::Money::new(m.refunded_minor, total.currency));
            view.status_text = payments_app::receipts::receipt_status_text(
                &r.status,
                total,
                refunded,
                r.paid_at.map(format_time).as_deref(),
            );
            view.disputed = m.disputed;
        }
        Ok(view)
    }
}

#[derive(Serialize)]
pub struct RefundView {
    pub id: i64,
    /// The refund's provider (the payment's).
    pub provider: String,
    /// 1, 2, ... on its receipt.
    pub number: usize,
    /// The state in words (the payer's view).
    pub state: String,
    /// The note to the payer (empty when there is none).
    pub note: String,
    pub created: String,
    pub amount: String,
    pub status: String,
    pub error: Option<String>,
    pub origin_text: String,
    pub reason: String,
    pub external_id: String,
    /// `retry` (the provider is asked first), `record` (it cannot be asked: the admin records
    /// what they find at the provider) or empty: see `payments_app::refunds::RetryOffer`.
    pub offer: payments_app::refunds::RetryOffer,
    /// The outcome is unknown: the admin may record what they found at the provider.
    pub unknown: bool,
}

impl RefundView {
    /// `entry` is the refund as the receipt document numbers and tells it.
    pub fn from(
        app: &payments_app::App,
        r: &RefundRow,
        entry: Option<&payments_app::receipts::RefundEntry>,
    ) -> Result<Self, AppError> {
        Ok(RefundView {
            id: r.id,
            provider: r.provider.clone(),
            number: entry.map_or(0, |e| e.number),
            state: entry.map(|e| e.state.clone()).unwrap_or_default(),
            note: entry.map(|e| e.note.clone()).unwrap_or_default(),
            created: format_time(r.created_at),
            amount: r.amount()?.to_string(),
            status: r.status.clone(),
            error: r.error.clone(),
            origin_text: if r.origin == "admin" {
                r.requested_by.trim_start_matches("user:").to_string()
            } else {
                format!("at {}", r.provider)
            },
            reason: r.reason.clone(),
            external_id: r.external_id.clone().unwrap_or_default(),
            offer: payments_app::refunds::RetryOffer::of(app, r),
            unknown: r.status == "requested",
        })
    }
}

#[derive(Serialize)]
pub struct DisputeView {
    pub created: String,
    pub provider: String,
    pub event_type: String,
    pub event_id: String,
    pub amount: String,
}

impl DisputeView {
    pub fn from(d: &DisputeRow) -> Result<Self, AppError> {
        let amount = match (d.amount_minor, d.currency.as_deref()) {
            (Some(a), Some(c)) => payments_core::Currency::from_code(c)
                .map(|cur| payments_core::Money::new(a, cur).to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        Ok(DisputeView {
            created: format_time(d.created_at),
            provider: d.provider.clone(),
            event_type: d.event_type.clone(),
            event_id: d.event_id.clone(),
            amount,
        })
    }
}

pub fn views<T, U>(rows: &[T], f: impl Fn(&T) -> Result<U, AppError>) -> Result<Vec<U>, AppError> {
    rows.iter().map(f).collect()
}
