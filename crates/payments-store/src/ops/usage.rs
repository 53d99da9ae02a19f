use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use payments_core::unix_now;

use super::Conn;
use crate::models::{ImportLine, ImportOutcome, UsageColumns, UsageCursor, UsageRow};
use crate::schema::{usage_records, users};
use crate::StoreError;

/// Imports `lines` (each a priced row with its file line, or a problem the parser found) in
/// chunks, checking each row against the users, the database and the rows before it, and
/// inserting the good ones as it goes, so that memory stays bounded whatever the file's size.
/// Problems are collected in `outcome` (the first [`MAX_REPORTED`], and a count); the caller
/// rolls the transaction back when there is any (or when it only checks). `progress` is called
/// with the number of rows read so far after each chunk.
pub fn import_lines(
    c: &mut Conn,
    lines: &mut dyn Iterator<Item = Result<ImportLine, (u64, String)>>,
    outcome: &mut ImportOutcome,
    progress: &mut dyn FnMut(u64),
) -> Result<(), StoreError> {
    // Users are few (people), not history: one look-up table.
    let ids: HashMap<String, i64> = users::table
        .select((users::username, users::id))
        .load::<(String, i64)>(c)?
        .into_iter()
        .collect();
    // Rows stored before this import; a match above it was written by this file.
    let before: i64 = usage_records::table
        .select(diesel::dsl::max(usage_records::id))
        .first::<Option<i64>>(c)?
        .unwrap_or(0);
    let now = unix_now();
    // What the written rows add to the kept unbilled sums, per (user, day, currency): as many
    // keys as users and days, whatever the number of rows; written once at the end.
    let mut added = UnbilledDeltas::default();
    super::begin_usage_import(c)?;
    let mut chunk: Vec<(i64, ImportLine)> = Vec::with_capacity(super::USAGE_CHUNK);
    let mut read: u64 = 0;
    loop {
        chunk.clear();
        for next in &mut *lines {
            read += 1;
            match next {
                Ok(line) => match ids.get(&line.row.username) {
                    Some(&user_id) => chunk.push((user_id, line)),
                    None => outcome.problem(line.line, format!("unknown user {:?}", line.row.username)),
                },
                Err((line, message)) => outcome.problem(line, message),
            }
            if chunk.len() == super::USAGE_CHUNK {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        // Repeated inside this chunk: refused before anything is written.
        let mut seen: HashSet<(i64, &str)> = HashSet::new();
        let mut candidates: Vec<&(i64, ImportLine)> = Vec::with_capacity(chunk.len());
        for entry in &chunk {
            let (user_id, line) = entry;
            if seen.insert((*user_id, line.row.job_id.as_str())) {
                candidates.push(entry);
            } else {
                let row = &line.row;
                outcome.problem(
                    line.line,
                    format!(
                        "job {:?} of {} appears twice in this file",
                        row.job_id, row.username
                    ),
                );
            }
        }
        let mut columns = UsageColumns {
            created_at: now,
            ..UsageColumns::default()
        };
        for (user_id, line) in &candidates {
            let row = &line.row;
            columns.user_id.push(*user_id);
            columns.job_id.push(&row.job_id);
            columns.description.push(&row.description);
            columns.cpu_core_seconds.push(row.cpu_core_seconds);
            columns.gpu_seconds.push(row.gpu_seconds);
            columns.ended_at.push(row.ended_at);
            columns.cost_minor.push(row.cost.amount.get());
            columns.currency.push(row.cost.currency.code());
        }
        // One insert for the chunk (PostgreSQL: through its staging table); a row the unique index
        // already holds (stored before, or earlier in this file) is left out and named below.
        let written = super::insert_usage(c, &columns)?;
        outcome.imported += written.len() as u64;
        // Every candidate written (the common case), or the set of those that were.
        let all_written = written.len() == candidates.len();
        let stored: HashSet<(i64, &str)> = match all_written {
            true => HashSet::new(),
            false => written.iter().map(|(u, j)| (*u, j.as_str())).collect(),
        };
        let is_written = |user_id: i64, line: &ImportLine| {
            all_written || stored.contains(&(user_id, line.row.job_id.as_str()))
        };
        for (user_id, line) in candidates.iter().filter(|(u, l)| is_written(*u, l)) {
            added.add(
                *user_id,
                line.row.ended_at,
                line.row.cost.currency.code(),
                1,
                line.row.cost.amount.get(),
            );
        }
        if !all_written {
            let refused: Vec<&(i64, ImportLine)> = candidates
                .iter()
                .copied()
                .filter(|(user_id, line)| !is_written(*user_id, line))
                .collect();
            // Where each is stored, per user through the unique index.
            let mut by_user: HashMap<i64, Vec<&str>> = HashMap::new();
            for (user_id, line) in &refused {
                by_user
                    .entry(*user_id)
                    .or_default()
                    .push(line.row.job_id.as_str());
            }
            let mut stored: HashMap<(i64, String), i64> = HashMap::new();
            for (user_id, jobs) in by_user {
                let found: Vec<(String, i64)> = usage_records::table
                    .filter(usage_records::user_id.eq(user_id))
                    .filter(usage_records::job_id.eq_any(jobs))
                    .select((usage_records::job_id, usage_records::id))
                    .load(c)?;
                stored.extend(found.into_iter().map(|(job, id)| ((user_id, job), id)));
            }
            for (user_id, line) in refused {
                let row = &line.row;
                let earlier_here = stored
                    .get(&(*user_id, row.job_id.clone()))
                    .is_some_and(|id| *id > before);
                outcome.problem(
                    line.line,
                    if earlier_here {
                        format!(
                            "job {:?} of {} appears twice in this file",
                            row.job_id, row.username
                        )
                    } else {
                        format!("job {:?} of {} was already imported", row.job_id, row.username)
                    },
                );
            }
        }
        progress(read);
    }
    outcome.read = read;
    added.write(c)?;
    // A chunk's look-up problems are found after its rows' own: listed by line.
    outcome.problems.sort_by_key(|p| {
        p.strip_prefix("line ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    });
    Ok(())
}

pub fn for_user(c: &mut Conn, user_id: i64) -> Result<Vec<UsageRow>, StoreError> {
    Ok(usage_records::table
        .filter(usage_records::user_id.eq(user_id))
        .order((usage_records::ended_at.desc(), usage_records::id.desc()))
        .select(UsageRow::as_select())
        .load(c)?)
}

pub fn for_receipt(c: &mut Conn, receipt_id: i64) -> Result<Vec<UsageRow>, StoreError> {
    Ok(usage_records::table
        .filter(usage_records::receipt_id.eq(receipt_id))
        .order(usage_records::id)
        .select(UsageRow::as_select())
        .load(c)?)
}

/// A page of a user's unbilled records that ended in `[since, until)`, in date order (then id),
/// through the partial index `usage_unbilled`: after or before a `(ended_at, id)` position, at
/// most `limit`. The cost does not depend on the user's history, only on the page.
pub fn unbilled_page(
    c: &mut Conn,
    user_id: i64,
    (since, until): (i64, i64),
    cursor: UsageCursor,
    limit: i64,
) -> Result<Vec<UsageRow>, StoreError> {
    use usage_records as u;
    let q = u::table
        .filter(u::user_id.eq(user_id))
        .filter(u::receipt_id.is_null())
        .filter(u::ended_at.ge(since))
        .filter(u::ended_at.lt(until))
        .select(UsageRow::as_select())
        .limit(limit);
    Ok(match cursor {
        UsageCursor::First => q.order((u::ended_at, u::id)).load(c)?,
        UsageCursor::After(e, id) => q
            .filter(u::ended_at.gt(e).or(u::ended_at.eq(e).and(u::id.gt(id))))
            .order((u::ended_at, u::id))
            .load(c)?,
        UsageCursor::Before(e, id) => {
            let mut rows: Vec<UsageRow> = q
                .filter(u::ended_at.lt(e).or(u::ended_at.eq(e).and(u::id.lt(id))))
                .order((u::ended_at.desc(), u::id.desc()))
                .load(c)?;
            rows.reverse();
            rows
        }
    })
}

#[derive(diesel::QueryableByName)]
struct UnbilledTotal {
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    records: i64,
}

/// Count and total (checked: SQLite's SUM fails on overflow, PostgreSQL's cast does) of a user's
/// unbilled records in `[since, until)`, per currency: from the kept sums (`usage_unbilled_sums`,
/// a row per user, UTC day and currency) when the bounds are whole days or open, reading at most
/// a row per day whatever the number of records; otherwise from the covering index.
pub fn unbilled_totals(
    c: &mut Conn,
    user_id: i64,
    (since, until): (i64, i64),
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    use diesel::sql_types::BigInt;
    let whole = |t: i64, open: i64| t == open || (t > 0 && t % DAY == 0);
    if !(whole(since, i64::MIN) && whole(until, i64::MAX)) {
        return unbilled_totals_counted(c, user_id, (since, until));
    }
    let day = |t: i64, open: i64| if t == open { open } else { t / DAY };
    let rows: Vec<UnbilledTotal> = diesel::sql_query(
        "SELECT currency, CAST(SUM(cost_minor) AS BIGINT) AS total, CAST(SUM(records) AS BIGINT) AS records \
         FROM usage_unbilled_sums WHERE user_id = $1 AND day >= $2 AND day < $3 \
         GROUP BY currency HAVING SUM(records) <> 0 ORDER BY currency",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(day(since, i64::MIN))
    .bind::<BigInt, _>(day(until, i64::MAX))
    .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.currency, r.total, r.records))
        .collect())
}

/// The same, always from the records themselves (to check the kept sums against).
pub fn unbilled_totals_counted(
    c: &mut Conn,
    user_id: i64,
    (since, until): (i64, i64),
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    use diesel::sql_types::BigInt;
    let rows: Vec<UnbilledTotal> = diesel::sql_query(
        "SELECT currency, CAST(SUM(cost_minor) AS BIGINT) AS total, COUNT(*) AS records FROM usage_records \
         WHERE user_id = $1 AND receipt_id IS NULL AND ended_at >= $2 AND ended_at < $3 GROUP BY currency ORDER BY currency",
    )
    .bind::<BigInt, _>(user_id)
    .bind::<BigInt, _>(since)
    .bind::<BigInt, _>(until)
    .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.currency, r.total, r.records))
        .collect())
}

const DAY: i64 = 86_400;

/// Changes to the kept unbilled sums, per (user, UTC day of the job's end, currency), added up
/// in memory and written in a few statements. Days are `ended_at / 86400` (truncated, as SQL's
/// integer division is on both backends).
#[derive(Default)]
pub struct UnbilledDeltas(std::collections::BTreeMap<(i64, i64, String), (i64, i64)>);

impl UnbilledDeltas {
    pub fn add(&mut self, user_id: i64, ended_at: i64, currency: &str, records: i64, cost_minor: i64) {
        let e = self
            .0
            .entry((user_id, ended_at / DAY, currency.to_string()))
            .or_insert((0, 0));
        e.0 += records;
        e.1 += cost_minor;
    }

    /// The records billed on `receipt_id`, taken away (`sign` -1) or given back (+1, a void),
    /// added up per key by the database (a receipt can hold any number of records).
    pub fn of_receipt(c: &mut Conn, receipt_id: i64, sign: i64) -> Result<UnbilledDeltas, StoreError> {
        use diesel::sql_types::{BigInt, Text};
        #[derive(diesel::QueryableByName)]
        struct Key {
            #[diesel(sql_type = BigInt)]
            user_id: i64,
            #[diesel(sql_type = BigInt)]
            day: i64,
            #[diesel(sql_type = Text)]
            currency: String,
            #[diesel(sql_type = BigInt)]
            records: i64,
            #[diesel(sql_type = BigInt)]
            cost: i64,
        }
        let keys: Vec<Key> = diesel::sql_query(
            "SELECT user_id, ended_at / 86400 AS day, currency, COUNT(*) AS records, \
             CAST(SUM(cost_minor) AS BIGINT) AS cost FROM usage_records WHERE receipt_id = $1 \
             GROUP BY user_id, ended_at / 86400, currency",
        )
        .bind::<BigInt, _>(receipt_id)
        .load(c)?;
        Ok(UnbilledDeltas(
            keys.into_iter()
                .map(|k| ((k.user_id, k.day, k.currency), (sign * k.records, sign * k.cost)))
                .collect(),
        ))
    }

    /// Upserts the changes, in key order (so that concurrent writers lock the rows in the same
    /// order), 500 rows per statement.
    pub fn write(&self, c: &mut Conn) -> Result<(), StoreError> {
        let rows: Vec<_> = self.0.iter().filter(|(_, v)| **v != (0, 0)).collect();
        for chunk in rows.chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .map(|((user, day, currency), (records, cost))| {
                    // Currency codes are checked ISO 4217 codes; quoted all the same.
                    format!(
                        "({user}, {day}, '{}', {records}, {cost})",
                        currency.replace('\'', "''")
                    )
                })
                .collect();
            diesel::sql_query(format!(
                "INSERT INTO usage_unbilled_sums (user_id, day, currency, records, cost_minor) VALUES {} \
                 ON CONFLICT (user_id, day, currency) DO UPDATE SET \
                 records = usage_unbilled_sums.records + excluded.records, \
                 cost_minor = usage_unbilled_sums.cost_minor + excluded.cost_minor",
                values.join(", ")
            ))
            .execute(c)?;
        }
        Ok(())
    }
}

/// A user's newest billed records that ended in `[since, until)`, at most `limit`.
pub fn billed_recent(
    c: &mut Conn,
    user_id: i64,
    (since, until): (i64, i64),
    limit: i64,
) -> Result<Vec<UsageRow>, StoreError> {
    use usage_records as u;
    Ok(u::table
        .filter(u::user_id.eq(user_id))
        .filter(u::receipt_id.is_not_null())
        .filter(u::ended_at.ge(since))
        .filter(u::ended_at.lt(until))
        .order((u::ended_at.desc(), u::id.desc()))
        .limit(limit)
        .select(UsageRow::as_select())
        .load(c)?)
}

/// A page of a receipt's lines in their order on the receipt (the date the job ended, then job
/// id, then id), after the line with id `after` (from the first when `None`), at most `limit`,
/// and how many lines the receipt has: through `usage_receipt_lines`, whatever its size.
pub fn receipt_lines(
    c: &mut Conn,
    receipt_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<UsageRow>, i64), StoreError> {
    let rows = receipt_lines_after(c, receipt_id, after, limit)?;
    Ok((rows, receipt_line_count(c, receipt_id)?))
}

/// The page of [`receipt_lines`] without the count (which reads the whole index: a reader
/// going through every line asks for it once, not with each page).
pub fn receipt_lines_after(
    c: &mut Conn,
    receipt_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<UsageRow>, StoreError> {
    use usage_records as u;
    let mut q = u::table
        .filter(u::receipt_id.eq(receipt_id))
        .select(UsageRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        let at: Option<(i64, String)> = u::table
            .filter(u::id.eq(after))
            .filter(u::receipt_id.eq(receipt_id))
            .select((u::ended_at, u::job_id))
            .first(c)
            .optional()?;
        if let Some((e, j)) = at {
            // `ended_at >= e` first, so that the index is entered at the cursor (with only the
            // alternatives, SQLite walks the receipt's index from its first line every time).
            q = q.filter(
                u::ended_at.ge(e).and(
                    u::ended_at
                        .gt(e)
                        .or(u::job_id.gt(j.clone()))
                        .or(u::job_id.eq(j).and(u::id.gt(after))),
                ),
            );
        }
    }
    Ok(q.order((u::ended_at, u::job_id, u::id))
        .limit(limit.max(1))
        .load(c)?)
}

/// How many lines receipt `receipt_id` has.
pub fn receipt_line_count(c: &mut Conn, receipt_id: i64) -> Result<i64, StoreError> {
    use usage_records as u;
    Ok(u::table
        .filter(u::receipt_id.eq(receipt_id))
        .count()
        .get_result(c)?)
}
