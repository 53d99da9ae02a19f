//! A list of receipts as a spreadsheet reads it (CSV), and its totals per currency: amounts
//! from the integer minor units, never floats.

use std::collections::HashMap;

use payments_core::{Currency, Money};
use payments_store::{ReceiptMoney, ReceiptRow};
use serde::Serialize;

use crate::format::format_time_seconds;
use crate::Error;

/// The CSV's header line.
pub const CSV_HEADER: &str = "receipt,user,status,created,paid,currency,total_minor,total,\
received_minor,received,refunded_minor,refunded,net_minor,net,provider,provider_payment_ids,refunds,disputed";

/// A CSV field: quoted when it holds a comma, quote or line break, and never starting with a
/// character a spreadsheet would run as a formula.
pub fn csv_field(value: &str) -> String {
    let v = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// CSV with CRLF line ends: times in ISO 8601, amounts both in minor units and as decimal
/// strings; `money` (from `Store::receipt_money`) gives what was received (succeeded payments, a
/// second payment included), refunded and kept (net), the providers and their payment ids
/// (`;`-separated), the number of refunds and whether a dispute was recorded.
///
/// Every receipt matching `filter` as CSV, however many there are, in chunks of `chunk`
/// receipts (newest first; each chunk one query for the receipts and one for their money):
/// `write` gets the header, then each chunk's lines, and returns `false` to stop (the reader
/// went away). Returns how many receipts were written.
pub fn stream_csv(
    store: &payments_store::Store,
    filter: &payments_store::ReceiptFilter,
    chunk: i64,
    mut write: impl FnMut(String) -> bool,
) -> Result<u64, Error> {
    if !write(format!("{CSV_HEADER}\r\n")) {
        return Ok(0);
    }
    let mut before = None;
    let mut written = 0u64;
    loop {
        let cursor = before.map_or(payments_store::IdCursor::Newest, payments_store::IdCursor::Before);
        let rows = store.receipts_page(filter, cursor, chunk.max(1))?;
        let Some((last, _)) = rows.last() else {
            return Ok(written);
        };
        before = Some(last.id);
        let ids: Vec<i64> = rows.iter().map(|(r, _)| r.id).collect();
        let money = store.receipt_money(&ids)?;
        written += rows.len() as u64;
        if !write(csv_lines(&rows, &money)?) {
            return Ok(written);
        }
    }
}

/// The CSV lines (CRLF) of `rows`, without the header.
fn csv_lines(rows: &[(ReceiptRow, String)], money: &HashMap<i64, ReceiptMoney>) -> Result<String, Error> {
    let mut out = String::new();
    let none = ReceiptMoney::default();
    for (r, owner) in rows {
        let total = r.total()?;
        let m = money.get(&r.id).unwrap_or(&none);
        let net = m.paid_minor - m.refunded_minor;
        let amount = |minor: i64| Money::new(minor, total.currency).decimal_string();
        let mut providers: Vec<&str> = m.providers.iter().map(|(p, _)| p.as_str()).collect();
        providers.dedup();
        let ids: Vec<&str> = m
            .providers
            .iter()
            .map(|(_, id)| id.as_str())
            .filter(|id| !id.is_empty())
            .collect();
        let line = [
            r.id.to_string(),
            csv_field(owner),
            csv_field(&r.status),
            format_time_seconds(r.created_at),
            r.paid_at.map(format_time_seconds).unwrap_or_default(),
            total.currency.code().to_string(),
            r.total_minor.to_string(),
            total.decimal_string(),
            m.paid_minor.to_string(),
            amount(m.paid_minor),
            m.refunded_minor.to_string(),
            amount(m.refunded_minor),
            net.to_string(),
            amount(net),
            csv_field(&providers.join(";")),
            csv_field(&ids.join(";")),
            m.refunds.to_string(),
            if m.disputed { "yes" } else { "no" }.to_string(),
        ]
        .join(",");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    Ok(out)
}

/// One currency's money over a list of receipts: billed (their totals), received (succeeded
/// payments), refunded, and net (received less refunded).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CurrencyTotals {
    pub currency: String,
    pub billed: String,
    pub received: String,
    pub refunded: String,
    pub net: String,
}

/// [`CurrencyTotals`] from the database's count and sums per currency (`Store::receipt_totals`),
/// in the order of the currency codes.
pub fn money_totals(sums: &[payments_store::CurrencyTotal]) -> Result<Vec<CurrencyTotals>, Error> {
    let mut out = Vec::with_capacity(sums.len());
    for t in sums {
        let c = Currency::from_code(&t.currency).map_err(Error::internal)?;
        let net = t
            .received_minor
            .checked_sub(t.refunded_minor)
            .ok_or_else(|| Error::internal("a total overflows"))?;
        out.push(CurrencyTotals {
            currency: c.code().to_string(),
            billed: Money::new(t.billed_minor, c).to_string(),
            received: Money::new(t.received_minor, c).to_string(),
            refunded: Money::new(t.refunded_minor, c).to_string(),
            net: Money::new(net, c).to_string(),
        });
    }
    out.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_that_a_spreadsheet_would_run_or_split_are_escaped() {
        assert_eq!(csv_field("alice"), "alice");
        assert_eq!(csv_field("=1+2"), "'=1+2");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
