//! What lists read from a query string: positions (keyset paging) and the pages read from them,
//! date ranges, text filters and payment references. A bad value is reported on
//! the page, not as a bare 400.

use payments_core::{refuse_nul, NulText};
use payments_store::IdCursor;

pub use payments_app::checkout::payment_reference;
pub use payments_app::period::{parse_day, DateRange};

pub const PAGE_SIZE: i64 = 50;
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

/// Which way a keyset page was read: from the start of its list, onwards (away from the start),
/// or back towards it (read in reverse and turned round, so the extra row is the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Start,
    Onwards,
    Back,
}

/// A page read one row past `limit` in `direction`: the page, and whether there are rows
/// towards the start of the list and onwards from it.
pub fn keyset_page<T>(mut rows: Vec<T>, limit: i64, direction: Direction) -> (Vec<T>, bool, bool) {
    let more = rows.len() as i64 > limit;
    if more {
        match direction {
            Direction::Back => {
                rows.remove(0);
            }
            _ => rows.truncate(usize::try_from(limit).unwrap_or(0)),
        }
    }
    let (toward_start, onwards) = match direction {
        Direction::Start => (false, more),
        Direction::Onwards => (true, more),
        Direction::Back => (more, true),
    };
    (rows, toward_start, onwards)
}

/// Where a newest-first list starts, from its `before` / `after` ids (`#42` or `42`); a value
/// that is not one is named in `problems` (`"abc" {not_one}`) and the list starts with the
/// newest.
pub fn id_cursor(
    before: Option<&str>,
    after: Option<&str>,
    not_one: &str,
    problems: &mut Vec<String>,
) -> IdCursor {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let mut id = |v: &str| match v.trim_start_matches('#').parse::<i64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            problems.push(format!("{:?} {not_one}", payments_app::logsafe::bounded(v)));
            None
        }
    };
    match (given(before), given(after)) {
        (Some(b), _) => id(b).map_or(IdCursor::Newest, IdCursor::Before),
        (None, Some(a)) => id(a).map_or(IdCursor::Newest, IdCursor::After),
        (None, None) => IdCursor::Newest,
    }
}

/// The way a newest-first list was read from `cursor`.
pub fn id_direction(cursor: IdCursor) -> Direction {
    match cursor {
        IdCursor::Newest => Direction::Start,
        IdCursor::Before(_) => Direction::Onwards,
        IdCursor::After(_) => Direction::Back,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyset_page_drops_the_extra_row_at_its_far_end() {
        assert_eq!(
            keyset_page(vec![1, 2, 3], 2, Direction::Start),
            (vec![1, 2], false, true)
        );
        assert_eq!(
            keyset_page(vec![1, 2], 2, Direction::Onwards),
            (vec![1, 2], true, false)
        );
        assert_eq!(
            keyset_page(vec![0, 1, 2], 2, Direction::Back),
            (vec![1, 2], true, true)
        );
        assert_eq!(keyset_page(vec![1], 2, Direction::Back), (vec![1], false, true));
    }
}
