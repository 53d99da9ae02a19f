//! What lists read from a query string: page numbers and the links between pages, date ranges,
//! text filters and payment references. A bad value is reported on the page, not as a bare 400.

use payments_core::{refuse_nul, NulText};
use serde::Serialize;

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

/// Links to pages of a list: first, last and the pages near the current one.
#[derive(Serialize)]
pub struct PageLink {
    pub number: i64,
    pub href: String,
    pub current: bool,
    /// Pages left out here (an ellipsis).
    pub gap: bool,
}

/// The pager: the first page, the pages around `page`, the last page, and a gap (shown as an
/// ellipsis) wherever numbers are left out: `1 … 5 6 [7] 8 9 … 40`.
pub fn page_links(page: i64, pages: i64, href: impl Fn(i64) -> String) -> Vec<PageLink> {
    let mut numbers: Vec<i64> = vec![1];
    numbers.extend((page - 2).max(2)..=(page + 2).min(pages - 1));
    if pages > 1 {
        numbers.push(pages);
    }
    let mut links = Vec::new();
    let mut last = 0;
    for n in numbers {
        if n <= last {
            continue;
        }
        if n > last + 1 {
            links.push(PageLink {
                number: 0,
                href: String::new(),
                current: false,
                gap: true,
            });
        }
        links.push(PageLink {
            number: n,
            href: href(n),
            current: n == page,
            gap: false,
        });
        last = n;
    }
    links
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_has_first_last_and_an_ellipsis_for_what_it_leaves_out() {
        let shown = |page, pages| -> String {
            page_links(page, pages, |n| n.to_string())
                .iter()
                .map(|l| match (l.gap, l.current) {
                    (true, _) => "…".to_string(),
                    (_, true) => format!("[{}]", l.number),
                    _ => l.number.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(shown(7, 40), "1 … 5 6 [7] 8 9 … 40");
        assert_eq!(shown(1, 7), "[1] 2 3 … 7");
        assert_eq!(shown(4, 7), "1 2 3 [4] 5 6 7");
        assert_eq!(shown(1, 1), "[1]");
        assert_eq!(shown(2, 2), "1 [2]");
        assert_eq!(shown(40, 40), "1 … 38 39 [40]");
    }
}
