//! A period of whole days (UTC) as people type it in a filter: `YYYY-MM-DD` to `YYYY-MM-DD`,
//! both inclusive, each bound optional; a bad bound is reported in words and left out.

use serde::Serialize;

/// A day as `YYYY-MM-DD` (UTC) → unix seconds at its start; `what` names the field.
pub fn parse_day(value: &str, what: &str) -> Result<i64, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let v = value.trim();
    if v.len() > 10 {
        return Err(format!(
            "{what} must be a date written YYYY-MM-DD (got {} characters)",
            v.chars().count()
        ));
    }
    time::Date::parse(v, &fmt)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| format!("{what} {v:?} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-01"))
}

/// A date range from a query: `[from, to_exclusive)` in unix seconds, the texts to show back in
/// the form, and a message when a value was refused (the refused bound is then ignored).
#[derive(Default, Serialize)]
pub struct DateRange {
    pub from: String,
    pub to: String,
    #[serde(skip)]
    pub start: Option<i64>,
    #[serde(skip)]
    pub end: Option<i64>,
}

impl DateRange {
    pub fn parse(from: Option<&str>, to: Option<&str>, problems: &mut Vec<String>) -> DateRange {
        let mut r = DateRange::default();
        if let Some(f) = from.map(str::trim).filter(|f| !f.is_empty()) {
            match parse_day(f, "From") {
                Ok(t) => {
                    r.start = Some(t);
                    r.from = f.to_string();
                }
                Err(e) => problems.push(e),
            }
        }
        if let Some(t) = to.map(str::trim).filter(|t| !t.is_empty()) {
            match parse_day(t, "To") {
                Ok(day) => {
                    r.end = Some(day + 86_400);
                    r.to = t.to_string();
                }
                Err(e) => problems.push(e),
            }
        }
        if let (Some(s), Some(e)) = (r.start, r.end) {
            if s >= e {
                problems.push(format!(
                    "From ({}) is after To ({}): no day can be in that range, so the filter is not applied",
                    r.from, r.to
                ));
                r = DateRange::default();
            }
        }
        r
    }

    pub fn contains(&self, unix: i64) -> bool {
        self.start.is_none_or(|s| unix >= s) && self.end.is_none_or(|e| unix < e)
    }

    pub fn is_set(&self) -> bool {
        self.start.is_some() || self.end.is_some()
    }
}
