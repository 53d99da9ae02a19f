//! A receipt with everything that is shown about it, read in one go: its line items, payments,
//! the newest "Pay now" attempt, refunds and disputes.

use payments_store::{AuditQuery, AuditRow, DisputeRow, PaymentRow, ReceiptRow, RefundRow, UsageRow};

use super::ReceiptDoc;
use crate::settings::Settings;
use crate::{App, Error};

/// Which of a receipt's lines to read: all (the PDF), or a page of them (the receipt page).
#[derive(Debug, Clone, Copy)]
pub enum Lines {
    All,
    /// At most `limit` lines after the line with id `after` (from the first when `None`).
    Page {
        after: Option<i64>,
        limit: i64,
    },
}

/// What a receipt page or PDF is made of.
#[derive(Debug, Clone)]
pub struct ReceiptRecord {
    pub receipt: ReceiptRow,
    /// The owner's username.
    pub owner: String,
    pub usage: Vec<UsageRow>,
    /// How many lines the receipt has (`usage` may hold a page of them).
    pub line_count: i64,
    /// With a page of lines: the id of its last line when more follow.
    pub more_after: Option<i64>,
    pub payments: Vec<PaymentRow>,
    /// The newest `payment.intent` audit entry (for the page's "Pay now" problems).
    pub intents: Vec<AuditRow>,
    pub refunds: Vec<RefundRow>,
    /// The payer notes of `refunds`: `(refund id, note)`.
    pub notes: Vec<(i64, String)>,
    pub disputes: Vec<DisputeRow>,
    /// The newest `receipt.void` audit entry, when the receipt was voided.
    pub voided: Option<AuditRow>,
}

impl ReceiptRecord {
    /// Receipt `id` with everything shown on it, or `None` when there is no such receipt.
    /// Whoever asks must be checked against `receipt.user_id` by the caller.
    pub async fn load(app: &App, id: i64, lines: Lines) -> Result<Option<ReceiptRecord>, Error> {
        app.db(move |s| {
            let Some(receipt) = s.receipt(id)? else {
                return Ok(None);
            };
            let owner = s
                .user_by_id(receipt.user_id)?
                .map(|u| u.username)
                .unwrap_or_default();
            let intents = s
                .audit_log(&AuditQuery {
                    action: Some("payment.intent".into()),
                    receipt_id: Some(id),
                    limit: 1,
                    offset: 0,
                })?
                .0;
            let voided = if receipt.status == "void" {
                s.audit_log(&AuditQuery {
                    action: Some("receipt.void".into()),
                    receipt_id: Some(id),
                    limit: 1,
                    offset: 0,
                })?
                .0
                .into_iter()
                .next()
            } else {
                None
            };
            let (usage, line_count, more_after) = match lines {
                Lines::All => {
                    let usage = s.usage_for_receipt(id)?;
                    let count = usage.len() as i64;
                    (usage, count, None)
                }
                Lines::Page { after, limit } => {
                    let (mut usage, count) = s.receipt_lines(id, after, limit + 1)?;
                    let more = usage.len() as i64 > limit;
                    usage.truncate(limit.max(0) as usize);
                    let last = usage.last().map(|u| u.id);
                    (usage, count, last.filter(|_| more))
                }
            };
            Ok(Some(ReceiptRecord {
                receipt,
                owner,
                usage,
                line_count,
                more_after,
                payments: s.payments_for_receipt(id)?,
                intents,
                refunds: s.refunds_for_receipt(id)?,
                notes: s.refund_notes_for_receipt(id)?,
                disputes: s.disputes_for_receipt(id)?,
                voided,
            }))
        })
        .await
    }

    /// The receipt document (for the page and the PDF alike).
    pub fn document(&self, settings: &Settings) -> Result<ReceiptDoc, Error> {
        ReceiptDoc::build(
            &super::document::ReceiptRows {
                receipt: &self.receipt,
                customer: &self.owner,
                usage: &self.usage,
                payments: &self.payments,
                refunds: &self.refunds,
                notes: &self.notes,
                disputes: &self.disputes,
            },
            &settings.issuer,
            &settings.rates,
        )
    }

    /// Why and by whom the receipt was voided: `(reason, admin's username, when)`.
    pub fn void_reason(&self) -> Option<(String, String, i64)> {
        let entry = self.voided.as_ref()?;
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).ok()?;
        let reason = detail.get("reason")?.as_str()?.to_string();
        let by = entry
            .actor
            .strip_prefix("user:")
            .unwrap_or(&entry.actor)
            .to_string();
        Some((reason, by, entry.created_at))
    }

    /// The newest "Pay now" attempt's error for this receipt, if it failed with `provider`:
    /// `(refused amount reason, the full error for admins)`.
    pub fn last_intent_error(&self, provider: &str) -> Option<(Option<String>, String)> {
        let newest = self.intents.first()?;
        let detail: serde_json::Value = serde_json::from_str(&newest.detail).ok()?;
        if detail.get("provider").and_then(|p| p.as_str()) != Some(provider) {
            return None;
        }
        let error = detail.get("error")?.as_str()?.to_string();
        let refused = error.strip_prefix("amount refused: ").map(str::to_string);
        Some((refused, error))
    }
}
