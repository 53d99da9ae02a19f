//! What a receipt says, built once from the stored rows for the HTML page and the PDF alike:
//! issuer, customer, number and dates, line items with their quantities and rates, the total,
//! how amounts were rounded, the payment history, and the refunds and disputes (as the payer
//! is told them: numbered per receipt, with the note to the payer, never the internal reason).
//!
//! Amounts are never recomputed here: each line shows the cost stored when its usage was
//! imported, and the total the receipt stores. The rates shown are the configured rate card;
//! a line whose stored cost is not what that card gives (the rates changed after the import)
//! says so instead of showing a rate it was not priced at.

use payments_core::{Currency, Money};
use payments_store::{DisputeRow, PaymentRow, ReceiptRow, RefundRow, UsageRow};
use serde::Serialize;

use super::Issuer;
use crate::format::{format_duration, format_time, format_time_exact};
use crate::usage::RateCard;
use crate::Error;

#[derive(Debug, Clone, Serialize)]
pub struct ReceiptDoc {
    pub number: i64,
    pub issuer: Issuer,
    pub customer: String,
    /// When the receipt was made (`2026-11-26 15:40 UTC`).
    pub created: String,
    pub status: String,
    /// The status in words, with the payment time when paid.
    pub status_text: String,
    pub paid: Option<String>,
    pub lines: Vec<LineItem>,
    pub total: String,
    /// The rate card, one entry per resource (`CPU core time: THB 1.00 per core-hour`).
    pub rates: Vec<String>,
    /// How line amounts and the total are rounded.
    pub rounding: String,
    /// Whether some line was priced at rates other than the ones configured now.
    pub earlier_rates: bool,
    pub payments: Vec<PaymentEntry>,
    /// Refunds, oldest first, numbered 1, 2, ... on this receipt.
    pub refunds: Vec<RefundEntry>,
    pub disputes: Vec<DisputeEntry>,
    /// What the provider refunded of this receipt's payments, when anything (`THB 20.00`).
    pub refunded: Option<String>,
}

/// One refund as the payer is told it.
#[derive(Debug, Clone, Serialize)]
pub struct RefundEntry {
    /// 1, 2, ... on this receipt.
    pub number: usize,
    /// The stored id (for the admin's forms and links).
    pub id: i64,
    pub date: String,
    pub amount: String,
    /// The stored status (also the badge's class).
    pub status: String,
    /// The state in words.
    pub state: String,
    /// The note to the payer (empty when there is none).
    pub note: String,
}

/// One dispute event recorded against a payment of this receipt.
#[derive(Debug, Clone, Serialize)]
pub struct DisputeEntry {
    pub date: String,
    pub amount: String,
    /// What the provider called the event (`charge.dispute.created`).
    pub event: String,
}

/// A refund's state in words, for the payer.
pub fn refund_state(status: &str) -> &'static str {
    match status {
        "requested" | "pending" => "in progress",
        "succeeded" => "refunded",
        "failed" => "failed: nothing was refunded",
        "canceled" => "cancelled: nothing was refunded",
        _ => "unknown",
    }
}

/// A receipt's status in words: `Paid 2026-11-26 15:40 UTC`, `Unpaid: THB 12.00 due`,
/// `Partially refunded, THB 20.00 back`, `Refunded, THB 120.00 back`, `Void`.
pub fn receipt_status_text(
    status: &str,
    total: Money,
    refunded: Option<Money>,
    paid: Option<&str>,
) -> String {
    let back = |r: Option<Money>| r.map(|m| format!(", {m} back")).unwrap_or_default();
    match (status, paid) {
        ("paid", Some(at)) => format!("Paid {at}"),
        ("paid", None) => "Paid".to_string(),
        ("unpaid", _) => format!("Unpaid: {total} due"),
        ("partially_refunded", _) => format!("Partially refunded{}", back(refunded)),
        ("refunded", _) => format!("Refunded{}", back(refunded)),
        ("void", _) => "Void".to_string(),
        (other, _) => other.replace('_', " "),
    }
}

/// The stored rows a receipt document is made of.
#[derive(Debug, Clone, Copy)]
pub struct ReceiptRows<'a> {
    pub receipt: &'a ReceiptRow,
    /// The owner's username.
    pub customer: &'a str,
    pub usage: &'a [UsageRow],
    pub payments: &'a [PaymentRow],
    pub refunds: &'a [RefundRow],
    /// The payer notes of `refunds`: `(refund id, note)`.
    pub notes: &'a [(i64, String)],
    pub disputes: &'a [DisputeRow],
}

/// One job on the receipt. `quantities[i]` is charged at `rates[i]`.
#[derive(Debug, Clone, Serialize)]
pub struct LineItem {
    pub ended: String,
    pub job_id: String,
    pub description: String,
    pub quantities: Vec<String>,
    /// Empty when the line was priced at rates that are no longer configured.
    pub rates: Vec<String>,
    pub amount: String,
}

impl LineItem {
    /// The line of usage record `u`: its quantities, the rates of `rates` it was priced at, and
    /// its stored amount. Priced at rates that have changed since (its stored cost is not what
    /// `rates` give), it shows no rate.
    pub fn from_usage(u: &UsageRow, rates: &RateCard) -> Result<LineItem, Error> {
        let per_hour = |minor: i64| format!("{}/h", Money::new(minor, rates.currency));
        let cost = u.cost()?;
        let mut quantities = Vec::new();
        let mut line_rates = Vec::new();
        if u.cpu_core_seconds > 0 || u.gpu_seconds == 0 {
            quantities.push(format!("CPU {}", format_duration(u.cpu_core_seconds)));
            line_rates.push(per_hour(rates.cpu_core_hour));
        }
        if u.gpu_seconds > 0 {
            quantities.push(format!("GPU {}", format_duration(u.gpu_seconds)));
            line_rates.push(per_hour(rates.gpu_hour));
        }
        // The rates shown must be the ones the stored amount was priced at.
        if rates.cost(u.cpu_core_seconds, u.gpu_seconds).ok() != Some(cost) {
            line_rates.clear();
        }
        Ok(LineItem {
            ended: format_time(u.ended_at),
            job_id: u.job_id.clone(),
            description: u.description.clone(),
            quantities,
            rates: line_rates,
            amount: cost.to_string(),
        })
    }
}

/// One payment attempt: who took it, how it stands, when it started and last changed.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentEntry {
    pub public_id: String,
    pub provider: String,
    pub external_id: String,
    /// The stored status (also the badge's class).
    pub status: String,
    /// The status in words.
    pub state: String,
    pub started: String,
    pub updated: String,
    pub amount: String,
}

/// A payment status in words.
fn payment_state(status: &str) -> &str {
    match status {
        "created" => "started",
        "pending" => "processing",
        "requires_capture" => "awaiting capture",
        "succeeded" => "succeeded",
        "failed" => "failed",
        "expired" => "expired",
        "canceled" => "cancelled",
        "refunded" => "refunded",
        other => other,
    }
}

impl ReceiptDoc {
    pub fn build(rows: &ReceiptRows<'_>, issuer: &Issuer, rates: &RateCard) -> Result<ReceiptDoc, Error> {
        let ReceiptRows {
            receipt,
            customer,
            usage,
            payments,
            refunds,
            notes,
            disputes,
        } = *rows;
        let total = receipt.total()?;
        let currency = total.currency;
        let refunded_minor = payments
            .iter()
            .try_fold(0i64, |sum, p| sum.checked_add(p.refunded_minor))
            .ok_or_else(|| Error::internal("refunded total overflows"))?;
        // Line items by the date the job ended, then job id (as on a statement).
        let mut usage: Vec<&UsageRow> = usage.iter().collect();
        usage.sort_by(|a, b| (a.ended_at, &a.job_id, a.id).cmp(&(b.ended_at, &b.job_id, b.id)));
        let lines = usage
            .iter()
            .map(|u| LineItem::from_usage(u, rates))
            .collect::<Result<Vec<_>, Error>>()?;
        let earlier_rates = lines.iter().any(|l| l.rates.is_empty());
        let mut payments: Vec<&PaymentRow> = payments.iter().collect();
        payments.sort_by_key(|p| (p.created_at, p.id));
        let payments = payments
            .iter()
            .map(|p| {
                Ok(PaymentEntry {
                    public_id: p.public_id.clone(),
                    provider: p.provider.clone(),
                    external_id: p.external_id.clone().unwrap_or_default(),
                    status: p.display_status().to_string(),
                    state: match p.refunded() {
                        Ok(r) if p.refunded_minor > 0 && p.status == "succeeded" => {
                            format!("partially refunded ({r})")
                        }
                        _ => payment_state(&p.status).to_string(),
                    },
                    started: format_time_exact(p.created_at),
                    updated: format_time_exact(p.updated_at),
                    amount: p.amount()?.to_string(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let paid = receipt.paid_at.map(format_time);
        let refunded = (refunded_minor > 0).then(|| Money::new(refunded_minor, currency));
        let status_text = receipt_status_text(&receipt.status, total, refunded, paid.as_deref());
        let mut ordered: Vec<&RefundRow> = refunds.iter().collect();
        ordered.sort_by_key(|r| (r.created_at, r.id));
        let refunds = ordered
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(RefundEntry {
                    number: i + 1,
                    id: r.id,
                    date: format_time(r.created_at),
                    amount: r.amount()?.to_string(),
                    status: r.status.clone(),
                    state: refund_state(&r.status).to_string(),
                    note: notes
                        .iter()
                        .find(|(id, _)| *id == r.id)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let disputes = disputes
            .iter()
            .map(|d| DisputeEntry {
                date: format_time(d.created_at),
                amount: match (d.amount_minor, d.currency.as_deref().map(Currency::from_code)) {
                    (Some(a), Some(Ok(c))) => Money::new(a, c).to_string(),
                    _ => String::new(),
                },
                event: d.event_type.clone(),
            })
            .collect();
        Ok(ReceiptDoc {
            number: receipt.id,
            issuer: issuer.clone(),
            customer: customer.to_string(),
            created: format_time(receipt.created_at),
            status: receipt.status.clone(),
            status_text,
            paid,
            lines,
            total: total.to_string(),
            rates: vec![
                format!(
                    "CPU core time: {} per core-hour",
                    Money::new(rates.cpu_core_hour, rates.currency)
                ),
                format!(
                    "GPU time: {} per GPU-hour",
                    Money::new(rates.gpu_hour, rates.currency)
                ),
            ],
            rounding: rounding_rule(currency),
            earlier_rates,
            payments,
            refunds,
            disputes,
            refunded: refunded.map(|m| m.to_string()),
        })
    }
}

/// The rounding rule of `RateCard::cost` and of the receipt total, in words.
pub fn rounding_rule(currency: Currency) -> String {
    format!(
        "Each line's amount is its CPU core time times the CPU rate plus its GPU time times the \
         GPU rate, computed exactly to the second and rounded up once, to the next {}. \
         The total is the sum of the line amounts, with no further rounding.",
        Money::new(1, currency)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::tests::rates;

    fn usage(id: i64, job: &str, cpu: i64, gpu: i64, ended_at: i64, cost_minor: i64) -> UsageRow {
        UsageRow {
            id,
            user_id: 1,
            job_id: job.into(),
            description: "d".into(),
            cpu_core_seconds: cpu,
            gpu_seconds: gpu,
            ended_at,
            cost_minor,
            currency: "THB".into(),
            receipt_id: Some(7),
            created_at: 0,
        }
    }

    fn receipt(total_minor: i64) -> ReceiptRow {
        ReceiptRow {
            id: 7,
            user_id: 1,
            currency: "THB".into(),
            total_minor,
            status: "unpaid".into(),
            created_at: 1_764_000_000,
            paid_at: None,
        }
    }

    #[test]
    fn lines_show_quantities_and_rates_in_date_order_and_keep_stored_amounts() {
        let rows = [
            usage(1, "b", 5400, 1800, 200, 150 + 2500),
            usage(2, "a", 1, 0, 100, 1),
            usage(3, "c", 3600, 0, 200, 100),
            // Priced when the CPU rate was THB 2.00: its amount stays, its rate is not claimed.
            usage(4, "d", 3600, 0, 300, 200),
        ];
        let doc = ReceiptDoc::build(
            &ReceiptRows {
                receipt: &receipt(2951),
                customer: "alice",
                usage: &rows,
                payments: &[],
                refunds: &[],
                notes: &[],
                disputes: &[],
            },
            &Issuer::default(),
            &rates(),
        )
        .unwrap();
        let jobs: Vec<&str> = doc.lines.iter().map(|l| l.job_id.as_str()).collect();
        assert_eq!(jobs, ["a", "b", "c", "d"], "by end date, then job id");
        assert_eq!(doc.lines[1].quantities, ["CPU 1h 30m 00s", "GPU 30m 00s"]);
        assert_eq!(doc.lines[1].rates, ["THB 1.00/h", "THB 50.00/h"]);
        assert_eq!(doc.lines[1].amount, "THB 26.50");
        assert_eq!(
            doc.lines[0].amount, "THB 0.01",
            "1 s of a core rounds up to one satang"
        );
        assert!(doc.lines[3].rates.is_empty());
        assert_eq!(doc.lines[3].amount, "THB 2.00");
        assert!(doc.earlier_rates);
        assert_eq!(doc.total, "THB 29.51");
        assert!(doc.rounding.contains("rounded up once, to the next THB 0.01"));
        assert_eq!(doc.status_text, "Unpaid: THB 29.51 due");
    }

    #[test]
    fn statuses_are_told_in_words_with_what_went_back() {
        let thb = |m| Money::new(m, Currency::from_code("THB").unwrap());
        assert_eq!(
            receipt_status_text("partially_refunded", thb(10_000), Some(thb(2_000)), None),
            "Partially refunded, THB 20.00 back"
        );
        assert_eq!(
            receipt_status_text("refunded", thb(10_000), Some(thb(10_000)), None),
            "Refunded, THB 100.00 back"
        );
        assert_eq!(
            receipt_status_text("unpaid", thb(1_200), None, None),
            "Unpaid: THB 12.00 due"
        );
        assert_eq!(
            receipt_status_text("paid", thb(1), None, Some("2026-11-26 15:40 UTC")),
            "Paid 2026-11-26 15:40 UTC"
        );
        assert_eq!(receipt_status_text("void", thb(1), None, None), "Void");
        assert_eq!(refund_state("pending"), "in progress");
        assert_eq!(refund_state("canceled"), "cancelled: nothing was refunded");
    }

    #[test]
    fn the_rounding_rule_names_the_currencys_smallest_unit() {
        assert!(rounding_rule(Currency::from_code("JPY").unwrap()).contains("the next JPY 1."));
    }
}
