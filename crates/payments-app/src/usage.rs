//! Usage import (`web usage import <file.csv>`): parse, price with the rate card, import all or
//! nothing.

use std::io::Read;

use payments_core::{Currency, Money};
use payments_store::{ImportLine, ImportOutcome, NewUsage, Store, StoreError, UsageRow};
use serde::Deserialize;

use crate::Error;

/// Prices in minor units per hour.
#[derive(Debug, Clone, Copy)]
pub struct RateCard {
    pub cpu_core_hour: i64,
    pub gpu_hour: i64,
    pub currency: Currency,
}

impl RateCard {
    /// `ceil((cpu_s × cpu_rate + gpu_s × gpu_rate) / 3600)` minor units, computed in i128 so it
    /// cannot overflow, rounded up once on the total.
    pub fn cost(&self, cpu_core_seconds: i64, gpu_seconds: i64) -> Result<Money, String> {
        let numerator = i128::from(cpu_core_seconds) * i128::from(self.cpu_core_hour)
            + i128::from(gpu_seconds) * i128::from(self.gpu_hour);
        let minor = (numerator + 3599) / 3600;
        let minor = i64::try_from(minor).map_err(|_| "the cost does not fit in 64 bits".to_string())?;
        Ok(Money::new(minor, self.currency))
    }
}

#[derive(Debug, Deserialize)]
struct Row {
    username: String,
    job_id: String,
    description: String,
    cpu_core_seconds: String,
    gpu_seconds: String,
    ended_at: String,
}

pub const HEADER: &str = "username,job_id,description,cpu_core_seconds,gpu_seconds,ended_at";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}", .0.join("\n"))]
    BadRows(Vec<String>),
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Store(StoreError),
}

fn seconds(field: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| format!("{field} {value:?} is not a whole number of seconds >= 0"))
}

/// RFC 3339 (`2026-11-01T12:00:00Z`) or unix seconds.
fn timestamp(value: &str) -> Result<i64, String> {
    let v = value.trim();
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            format!("ended_at {value:?} is neither RFC 3339 (2026-11-01T12:00:00Z) nor unix seconds")
        })
}

/// Checks the header, then yields each row priced, with its file line, or that line's problem:
/// one row at a time, so a file of any size is read in bounded memory.
pub fn lines(
    input: impl Read,
    rates: &RateCard,
) -> Result<impl Iterator<Item = Result<ImportLine, (u64, String)>>, ImportError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| ImportError::BadRows(vec![format!("line 1: {e}")]))?;
    let got: Vec<&str> = header.iter().collect();
    if got.join(",") != HEADER {
        return Err(ImportError::BadRows(vec![format!(
            "line 1: the header must be exactly `{HEADER}` (got `{}`)",
            got.join(",")
        )]));
    }
    let rates = *rates;
    Ok(reader
        .into_deserialize::<Row>()
        .zip(2u64..)
        .map(move |(record, line)| {
            record
                .map_err(|e| e.to_string())
                .and_then(|r| priced(r, &rates))
                .map(|row| ImportLine { line, row })
                .map_err(|message| (line, message))
        }))
}

/// One CSV row checked and priced.
fn priced(r: Row, rates: &RateCard) -> Result<NewUsage, String> {
    if r.username.trim().is_empty() || r.job_id.trim().is_empty() {
        return Err("username and job_id must not be empty".to_string());
    }
    for (field, value) in [
        ("username", &r.username),
        ("job_id", &r.job_id),
        ("description", &r.description),
    ] {
        payments_core::refuse_nul(field, value).map_err(|e| e.to_string())?;
    }
    let cpu = seconds("cpu_core_seconds", &r.cpu_core_seconds)?;
    let gpu = seconds("gpu_seconds", &r.gpu_seconds)?;
    Ok(NewUsage {
        ended_at: timestamp(&r.ended_at)?,
        cost: rates.cost(cpu, gpu)?,
        username: r.username,
        job_id: r.job_id,
        description: r.description,
        cpu_core_seconds: cpu,
        gpu_seconds: gpu,
    })
}

/// Parses and prices every row; returns the rows with their file line numbers, or every problem.
pub fn parse(input: impl Read, rates: &RateCard) -> Result<Vec<(usize, NewUsage)>, ImportError> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for next in lines(input, rates)? {
        match next {
            Ok(l) => rows.push((l.line as usize, l.row)),
            Err((line, message)) => problems.push(format!("line {line}: {message}")),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::BadRows(problems));
    }
    Ok(rows)
}

/// Reads, checks, prices and stores `input` in one transaction, streamed (memory does not grow
/// with the file); kept only when no row has a problem and `dry_run` is false. The outcome says
/// how many rows were read and imported (or would be), and the problems: the first 100 by line
/// and their count. `progress` gets the rows read so far, now and then.
pub fn import_checked(
    store: &Store,
    input: impl Read,
    rates: &RateCard,
    actor: &str,
    dry_run: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportOutcome, ImportError> {
    let mut rows = lines(input, rates)?;
    store
        .import_usage_lines(&mut rows, actor, dry_run, progress)
        .map_err(ImportError::Store)
}

/// Parses, prices and stores; nothing is imported from a file with any bad row.
pub fn import(store: &Store, input: impl Read, rates: &RateCard, actor: &str) -> Result<usize, ImportError> {
    let outcome = import_checked(store, input, rates, actor, false, &mut |_| {})?;
    if outcome.committed {
        Ok(outcome.imported as usize)
    } else {
        Err(ImportError::BadRows(problem_lines(&outcome)))
    }
}

/// The problems as lines to show: the first 100, then how many more there are.
pub fn problem_lines(outcome: &ImportOutcome) -> Vec<String> {
    let mut out = outcome.problems.clone();
    let more = outcome.problem_count.saturating_sub(out.len() as u64);
    if more > 0 {
        out.push(format!(
            "... and {more} more bad rows (only the first {} are listed)",
            out.len()
        ));
    }
    out
}

/// The sum of the costs of `rows` (one currency), in minor units with checked addition; `None`
/// for no rows.
pub fn total_cost(rows: &[UsageRow]) -> Result<Option<Money>, Error> {
    let mut total: Option<Money> = None;
    for row in rows {
        let cost = row.cost()?;
        total = Some(match total {
            None => cost,
            Some(t) => t.checked_add(cost).map_err(Error::internal)?,
        });
    }
    Ok(total)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// THB 1.00 a CPU core-hour, THB 50.00 a GPU-hour (the defaults).
    pub(crate) fn rates() -> RateCard {
        RateCard {
            cpu_core_hour: 100,
            gpu_hour: 5000,
            currency: Currency::from_code("THB").unwrap(),
        }
    }

    #[test]
    fn cost_rounds_up_once_in_integers() {
        let r = rates();
        assert_eq!(r.cost(3600, 0).unwrap().amount.get(), 100);
        assert_eq!(
            r.cost(1, 0).unwrap().amount.get(),
            1,
            "1 s of a core is a fraction of a satang: rounded up"
        );
        assert_eq!(r.cost(0, 0).unwrap().amount.get(), 0);
        assert_eq!(r.cost(5400, 1800).unwrap().amount.get(), 150 + 2500);
        assert!(r.cost(i64::MAX, i64::MAX).is_err());
    }

    #[test]
    fn a_nul_in_any_text_field_is_a_bad_row() {
        let csv = format!(
            "{HEADER}\nal\0ice,j1,ok,3600,0,0\nalice,j\0,ok,3600,0,0\nalice,j3,o\0k,3600,0,0\nalice,j4,ok,3600,0,0\n"
        );
        match parse(csv.as_bytes(), &rates()) {
            Err(ImportError::BadRows(p)) => {
                assert_eq!(p.len(), 3, "{p:?}");
                for (problem, (line, field)) in
                    p.iter().zip([(2, "username"), (3, "job_id"), (4, "description")])
                {
                    assert!(
                        problem.starts_with(&format!("line {line}: {field} contains a NUL character")),
                        "{p:?}"
                    );
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_rows_are_reported_by_line_number() {
        let csv = format!(
            "{HEADER}\nalice,j1,ok,3600,0,2026-11-01T12:00:00Z\nalice,j2,bad,-5,0,2026-11-01T12:00:00Z\n\
             bob,j3,bad,1,0,yesterday\nbob,j4,short\n"
        );
        match parse(csv.as_bytes(), &rates()) {
            Err(ImportError::BadRows(p)) => {
                assert_eq!(p.len(), 3, "{p:?}");
                assert!(
                    p[0].starts_with("line 3:") && p[0].contains("cpu_core_seconds"),
                    "{p:?}"
                );
                assert!(p[1].starts_with("line 4:") && p[1].contains("ended_at"), "{p:?}");
                assert!(p[2].starts_with("line 5:"), "{p:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("user,job\n".as_bytes(), &rates()),
            Err(ImportError::BadRows(_))
        ));
        let ok = parse(
            format!("{HEADER}\nalice,j1,ok,3600,7200,1700000000\n").as_bytes(),
            &rates(),
        )
        .unwrap();
        assert_eq!(ok[0].0, 2);
        assert_eq!(ok[0].1.cost.amount.get(), 100 + 10_000);
    }
}
