//! A receipt with everything that is shown about it, read in one go: its line items (or a page
//! of them), payments, the newest "Pay now" attempt, refunds and disputes; and all its line
//! items read a page at a time as they are used ([`ReceiptLines`], for the PDF).

use payments_store::{AuditQuery, AuditRow, DisputeRow, PaymentRow, ReceiptRow, RefundRow, Store, UsageRow};

use super::{LineItem, ReceiptDoc};
use crate::settings::Settings;
use crate::usage::RateCard;
use crate::{App, Error};

/// Which of a receipt's lines to read with it: none (the PDF reads them as it writes, through
/// [`ReceiptLines`]), or a page of them (the receipt page).
#[derive(Debug, Clone, Copy)]
pub enum Lines {
    /// No lines (`line_count` is then 0).
    None,
    /// At most `limit` lines after the line with id `after` (from the first when `None`).
    Page { after: Option<i64>, limit: i64 },
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
                Lines::None => (Vec::new(), 0, None),
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

/// Lines read from the store at a time by [`ReceiptLines`] (as many as the receipt page shows).
pub const LINES_PER_READ: i64 = 500;

/// All line items of a receipt in receipt order (the date the job ended, then job id), read from
/// the store [`LINES_PER_READ`] at a time (keyset paging) as they are pulled, so that only one
/// read's worth is held at once. Blocking: use it on a blocking thread. A read that fails, or
/// lines that changed on the way (the receipt was voided meanwhile: its number of lines before
/// the first read, after the last and the number read differ), is an error, after which it
/// ends; the error comes before the last lines are handed out.
pub struct ReceiptLines<'a> {
    store: &'a Store,
    receipt: i64,
    rates: RateCard,
    /// The lines read and not yet pulled.
    read: std::vec::IntoIter<UsageRow>,
    /// The id of the last line read.
    after: Option<i64>,
    /// No line follows those in `read` (the last read was short, or failed).
    done: bool,
    /// How many lines the receipt had before the first read.
    count: Option<i64>,
    /// How many lines were read.
    seen: i64,
}

impl<'a> ReceiptLines<'a> {
    /// The lines of receipt `receipt`, each shown against `rates` (see [`LineItem::from_usage`]).
    pub fn new(store: &'a Store, receipt: i64, rates: RateCard) -> ReceiptLines<'a> {
        ReceiptLines {
            store,
            receipt,
            rates,
            read: Vec::new().into_iter(),
            after: None,
            done: false,
            count: None,
            seen: 0,
        }
    }
}

impl ReceiptLines<'_> {
    /// The next lines into `read`: the count before the first read and after the last (two
    /// counts, not one per read: each reads the whole index).
    fn read_more(&mut self) -> Result<(), Error> {
        if self.count.is_none() {
            self.count = Some(self.store.receipt_line_count(self.receipt)?);
        }
        let rows = self
            .store
            .receipt_lines_after(self.receipt, self.after, LINES_PER_READ)?;
        self.done = (rows.len() as i64) < LINES_PER_READ;
        self.after = rows.last().map(|u| u.id).or(self.after);
        self.seen += rows.len() as i64;
        self.read = rows.into_iter();
        // Lines are fixed once billed, unless the receipt is voided on the way: a PDF of some
        // of its lines must not pass for the whole.
        if self.done
            && Some(self.store.receipt_line_count(self.receipt)?) != self.count.filter(|c| *c == self.seen)
        {
            return Err(Error::Conflict(
                "the receipt's lines changed while they were read".into(),
            ));
        }
        Ok(())
    }
}

impl Iterator for ReceiptLines<'_> {
    type Item = Result<LineItem, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.read.len() == 0 && !self.done {
            if let Err(e) = self.read_more() {
                self.done = true;
                self.read = Vec::new().into_iter();
                return Some(Err(e));
            }
        }
        let u = self.read.next()?;
        Some(LineItem::from_usage(&u, &self.rates))
    }
}
