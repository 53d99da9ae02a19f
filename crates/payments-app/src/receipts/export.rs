//! A list of receipts as a spreadsheet reads it (CSV), and its totals per currency: amounts
//! from the integer minor units, never floats.

use payments_core::Money;
use payments_store::ReceiptRow;

use crate::format::format_time_seconds;
use crate::Error;

/// The CSV's header line.
pub const CSV_HEADER: &str = "receipt,user,status,created,paid,currency,total_minor,total";

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

/// `(receipt, owner)` rows as CSV with CRLF line ends: times in ISO 8601, the total both in
/// minor units and as a decimal string.
pub fn receipts_csv(rows: &[(ReceiptRow, String)]) -> Result<String, Error> {
    let mut out = format!("{CSV_HEADER}\r\n");
    for (r, owner) in rows {
        let total = r.total()?;
        let line = [
            r.id.to_string(),
            csv_field(owner),
            csv_field(&r.status),
            format_time_seconds(r.created_at),
            r.paid_at.map(format_time_seconds).unwrap_or_default(),
            total.currency.code().to_string(),
            r.total_minor.to_string(),
            total.decimal_string(),
        ]
        .join(",");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    Ok(out)
}

/// Totals per currency, in minor units (checked i64 sums, never floats), as display strings in
/// the order of the currency codes.
pub fn totals_by_currency(rows: &[(ReceiptRow, String)]) -> Result<Vec<String>, Error> {
    let mut totals: Vec<Money> = Vec::new();
    for (r, _) in rows {
        let m = r.total()?;
        match totals.iter_mut().find(|t| t.currency == m.currency) {
            Some(t) => *t = t.checked_add(m).map_err(Error::internal)?,
            None => totals.push(m),
        }
    }
    totals.sort_by_key(|m| m.currency.code());
    Ok(totals.iter().map(|m| m.to_string()).collect())
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
