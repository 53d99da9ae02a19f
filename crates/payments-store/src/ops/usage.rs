use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use payments_core::unix_now;

use super::Conn;
use crate::models::{ImportLine, ImportOutcome, UsageColumns, UsageRow};
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
        // One statement for the chunk; a row the unique index already holds (stored before, or
        // earlier in this file) is left out and named below. The common case is one round trip.
        let written = super::insert_usage(c, &columns)?;
        outcome.imported += written.len() as u64;
        if written.len() < candidates.len() {
            let written: HashSet<(i64, &str)> = written.iter().map(|(u, j)| (*u, j.as_str())).collect();
            let refused: Vec<&(i64, ImportLine)> = candidates
                .into_iter()
                .filter(|(user_id, line)| !written.contains(&(*user_id, line.row.job_id.as_str())))
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
