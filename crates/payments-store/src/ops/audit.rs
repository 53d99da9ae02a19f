use diesel::prelude::*;

use super::Conn;
use crate::models::{AuditQuery, AuditRow, AuditSearch, NewAudit};
use crate::schema::audit_log;
use crate::StoreError;

pub fn append(c: &mut Conn, entry: &NewAudit) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table).values(entry).execute(c)?;
    Ok(())
}

/// The most rows in one multi-row insert (7 parameters each, well below PostgreSQL's 65,535).
const ROWS_PER_INSERT: usize = 1000;

/// Writes entries collected during a transaction, in order, with as few statements as possible
/// (one per [`ROWS_PER_INSERT`] rows): the audit of a group-committed batch costs one round trip.
pub fn append_all(c: &mut Conn, entries: &[NewAudit]) -> Result<(), StoreError> {
    for chunk in entries.chunks(ROWS_PER_INSERT) {
        diesel::insert_into(audit_log::table).values(chunk).execute(c)?;
    }
    Ok(())
}

/// Newest first, with the total count for paging.
pub fn list(c: &mut Conn, q: &AuditQuery) -> Result<(Vec<AuditRow>, i64), StoreError> {
    search(c, q, &AuditSearch::default())
}

diesel::define_sql_function! {
    /// SQL's `lower()`: Unicode-aware on PostgreSQL, ASCII letters only on SQLite.
    fn lower(text: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The LIKE pattern for `text` anywhere, with `\`, `%` and `_` escaped (matched literally,
/// with `ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The actors an actor filter stands for, each matched exactly (`actor IN (...)`, which an index
/// on `actor` can serve on both backends): a name with a `:` (`user:boss`, `provider:stripe`) is
/// itself; a bare name (`boss`, `system`, `reconcile`) is the user of that name or the bare
/// actor. Usernames hold no `:`, so nothing else can match.
pub fn actors_named(filter: &str) -> Vec<String> {
    match filter.contains(':') {
        true => vec![filter.to_string()],
        false => vec![format!("user:{filter}"), filter.to_string()],
    }
}

/// `list` narrowed further by actor (see [`actors_named`]), time range and a text found in the
/// actor, subject or detail: `lower(column) LIKE lower(text)`, so the search ignores case on both
/// backends (SQLite's LIKE alone ignores ASCII case, PostgreSQL's does not); both sides are folded
/// by the same `lower()`, so a text always finds itself. A pattern with a leading `%` cannot use a
/// B-tree index on either backend, so nothing is lost by `lower()`.
pub fn search(c: &mut Conn, q: &AuditQuery, more: &AuditSearch) -> Result<(Vec<AuditRow>, i64), StoreError> {
    let pattern = more.text.as_deref().map(contains_pattern);
    let total = filtered(q, more, pattern.as_deref()).count().get_result(c)?;
    let rows = filtered(q, more, pattern.as_deref())
        .order(audit_log::id.desc())
        .limit(q.limit.max(1))
        .offset(q.offset.max(0))
        .select(AuditRow::as_select())
        .load(c)?;
    Ok((rows, total))
}

/// The entries matching `q` (action, receipt) and `more` (actor, dates, and `pattern`: the text
/// as a LIKE pattern, see [`contains_pattern`]).
fn filtered<'a>(
    q: &AuditQuery,
    more: &AuditSearch,
    pattern: Option<&str>,
) -> audit_log::BoxedQuery<'a, <Conn as diesel::Connection>::Backend> {
    let actors = more.actor.as_deref().map(actors_named);
    filtered_by(q, more, actors, pattern)
}

/// [`filtered`] with the actor filter's names already chosen.
fn filtered_by<'a>(
    q: &AuditQuery,
    more: &AuditSearch,
    actors: Option<Vec<String>>,
    pattern: Option<&str>,
) -> audit_log::BoxedQuery<'a, <Conn as diesel::Connection>::Backend> {
    let mut query = audit_log::table.into_boxed();
    if let Some(action) = &q.action {
        query = query.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(receipt) = q.receipt_id {
        query = query.filter(audit_log::receipt_id.eq(receipt));
    }
    match actors.as_deref() {
        None => {}
        Some([one]) => query = query.filter(audit_log::actor.eq(one.clone())),
        Some(names) => query = query.filter(audit_log::actor.eq_any(names.to_vec())),
    }
    if let Some(since) = more.since {
        query = query.filter(audit_log::created_at.ge(since));
    }
    if let Some(until) = more.until {
        query = query.filter(audit_log::created_at.lt(until));
    }
    if let Some(p) = pattern {
        // The three columns joined by a separator no text holds (U+001F), folded once: a third of
        // the `lower()` calls of three separate tests, and the same matches (the search text
        // would have to hold the separator to match across two columns).
        query = query.filter(
            lower(
                audit_log::actor
                    .concat(FIELD_SEPARATOR)
                    .concat(audit_log::subject)
                    .concat(FIELD_SEPARATOR)
                    .concat(audit_log::detail),
            )
            .like(lower(p.to_string()))
            .escape('\\'),
        );
    }
    query
}

/// Between the columns the text search looks through (see [`filtered_by`]).
const FIELD_SEPARATOR: &str = "\u{1f}";

/// Entries the text search looks through at most: the newest this many at or before the end of
/// the date range (a `LIKE '%…%'` cannot use an index; this bounds its cost whatever the log's
/// size, and the page says so).
pub const SEARCH_WINDOW: i64 = crate::AUDIT_SEARCH_WINDOW;

/// A page of entries matching `q` (action, receipt) and `more`, newest first (by time, then id),
/// from `cursor` (keyset on the entry's position: no offset, no count of the whole log).
/// Returns the rows and whether a text was searched (in the window only: older entries were
/// not searched).
pub fn search_page(
    c: &mut Conn,
    q: &AuditQuery,
    more: &AuditSearch,
    cursor: crate::models::IdCursor,
    limit: i64,
) -> Result<(Vec<AuditRow>, bool), StoreError> {
    use crate::models::IdCursor;
    // Newest first by time, then id: each filter (dates, action, receipt, actor) reads its own
    // index in that order (see the migration `receipt_sums`), about a page whatever the log.
    let at = |c: &mut Conn, id: i64| -> Result<Option<i64>, StoreError> {
        Ok(audit_log::table
            .filter(audit_log::id.eq(id))
            .select(audit_log::created_at)
            .first::<i64>(c)
            .optional()?)
    };
    let position = match cursor {
        IdCursor::Newest => None,
        IdCursor::Before(id) | IdCursor::After(id) => at(c, id)?.map(|t| (t, id)),
    };
    let pattern = more.text.as_deref().map(contains_pattern);
    // An actor filter standing for two names keeps only those in the log (one, mostly), so
    // that it reads one range of `audit_log_actor` in order.
    let actors = match more.actor.as_deref().map(actors_named) {
        Some(names) if names.len() > 1 => {
            let mut present = Vec::new();
            for name in &names {
                let found = audit_log::table
                    .filter(audit_log::actor.eq(name))
                    .select(audit_log::id)
                    .first::<i64>(c)
                    .optional()?;
                if found.is_some() {
                    present.push(name.clone());
                }
            }
            Some(if present.is_empty() { names } else { present })
        }
        other => other,
    };
    let mut query = filtered_by(q, more, actors, pattern.as_deref());
    if pattern.is_some() {
        // The search's window: the newest `SEARCH_WINDOW` entries by time up to the end of the
        // dates (and below the position when paging older), read first through the time index
        // as a subquery of its own, so that the search costs that many entries on any plan.
        let mut window = audit_log::table.select(audit_log::id).into_boxed();
        if let Some(until) = more.until {
            window = window.filter(audit_log::created_at.lt(until));
        }
        if let (IdCursor::Before(_), Some((t, id))) = (cursor, position) {
            window = window
                .filter(audit_log::created_at.le(t))
                .filter(audit_log::created_at.lt(t).or(audit_log::id.lt(id)));
        }
        query = query.filter(
            audit_log::id.eq_any(
                window
                    .order((audit_log::created_at.desc(), audit_log::id.desc()))
                    .limit(SEARCH_WINDOW),
            ),
        );
    }
    let query = query.limit(limit.max(1)).select(AuditRow::as_select());
    let rows = match (cursor, position) {
        (IdCursor::After(_), Some((t, id))) => {
            let mut rows: Vec<AuditRow> = query
                .filter(audit_log::created_at.ge(t))
                .filter(audit_log::created_at.gt(t).or(audit_log::id.gt(id)))
                .order((audit_log::created_at.asc(), audit_log::id.asc()))
                .load(c)?;
            rows.reverse();
            rows
        }
        (IdCursor::Before(_), Some((t, id))) => query
            .filter(audit_log::created_at.le(t))
            .filter(audit_log::created_at.lt(t).or(audit_log::id.lt(id)))
            .order((audit_log::created_at.desc(), audit_log::id.desc()))
            .load(c)?,
        // An unknown position: the newest.
        _ => query
            .order((audit_log::created_at.desc(), audit_log::id.desc()))
            .load(c)?,
    };
    Ok((rows, pattern.is_some()))
}

#[cfg(test)]
mod tests {
    use super::actors_named;

    #[test]
    fn a_bare_name_is_a_user_or_a_bare_actor_and_a_prefixed_one_is_itself() {
        assert_eq!(actors_named("boss"), ["user:boss", "boss"]);
        assert_eq!(actors_named("system"), ["user:system", "system"]);
        assert_eq!(actors_named("user:boss"), ["user:boss"]);
        assert_eq!(actors_named("provider:stripe"), ["provider:stripe"]);
    }
}
