//! What lists read from a query string: page numbers and the links between pages, date ranges,
//! text filters and payment references. A bad value is reported on the page, not as a bare 400.

use payments_core::{refuse_nul, NulText};

pub use payments_app::checkout::payment_reference;
pub use payments_app::period::{parse_day, DateRange};

use crate::error::AppError;

pub const PAGE_SIZE: i64 = 50;
/// The highest page number a list accepts (5 million rows at 50 a page).
pub const MAX_PAGE: i64 = 100_000;

/// A page number from the query: 1 when absent, a clear 400 outside 1..=MAX_PAGE (so the
/// offset never overflows, whatever the database).
pub fn page_number(page: Option<i64>) -> Result<i64, AppError> {
    match page {
        None => Ok(1),
        Some(p) if (1..=MAX_PAGE).contains(&p) => Ok(p),
        Some(p) => Err(AppError::BadRequest(format!(
            "Page {p} does not exist: pages are numbered from 1 to {MAX_PAGE}"
        ))),
    }
}

/// A page number given as text: 1 when absent; a message (and page 1) when it is not one.
pub fn page_from_text(page: Option<&str>, problems: &mut Vec<String>) -> i64 {
    match page.map(str::trim).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => match p.parse::<i64>().ok().and_then(|n| page_number(Some(n)).ok()) {
            Some(n) => n,
            None => {
                problems.push(format!(
                    "Page {:?} does not exist: pages are numbered from 1 to {MAX_PAGE}; showing page 1",
                    payments_app::logsafe::bounded(p)
                ));
                1
            }
        },
    }
}

/// The longest actor or search text the audit filters accept.
pub const MAX_FILTER_TEXT: usize = 100;

/// A trimmed, non-empty text filter of at most `MAX_FILTER_TEXT` characters. One holding a NUL
/// character (`%00`) is refused with a 400: no database could search for it the same way.
pub fn text_filter(
    value: Option<&str>,
    what: &str,
    problems: &mut Vec<String>,
) -> Result<Option<String>, NulText> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    refuse_nul(what, v)?;
    if v.chars().count() > MAX_FILTER_TEXT {
        problems.push(format!(
            "{what} is {} characters long; at most {MAX_FILTER_TEXT} are accepted, so it is not applied",
            v.chars().count()
        ));
        return Ok(None);
    }
    Ok(Some(v.to_string()))
}
