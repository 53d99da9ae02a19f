//! `--pdf-lines N`: a receipt's PDF through the real server, for a receipt of 1,000 lines and
//! for one of N (two payers in one database, each receipt made through the store): the time to
//! the first byte and to the last (median of three downloads), the PDF's size and pages, and the
//! server's peak RSS, each size on a server process of its own so that each peak is its own.
//! Each PDF is checked: header and `%%EOF`, every line's job id once in order from the first to
//! the last, and as many page objects as the page tree counts.

use std::time::{Duration, Instant};

use payments_store::{Durability, NewUsage, PoolOptions, Store};

use super::portal::{add_user, err, Session};
use super::{ms, peak_rss_kib, thb, Args, Failure, Scratch, ServerProcess};

const SMALL: usize = 1_000;
const DOWNLOADS: usize = 3;
/// 2025-12-01 00:00 UTC; the lines end a second apart from here.
const START: i64 = 1_764_547_200;

/// `lines` usage records of `user`, billed on one receipt; its id.
fn receipt(store: &Store, user: &str, lines: usize) -> Result<i64, Failure> {
    let cost = thb(2)?;
    let owner = store.user_by_username(user).map_err(err)?.ok_or("no such user")?;
    for start in (0..lines).step_by(50_000) {
        let chunk: Vec<NewUsage> = (start..lines.min(start + 50_000))
            .map(|i| NewUsage {
                username: user.into(),
                job_id: job(user, i),
                description: "bench job".into(),
                cpu_core_seconds: 60,
                gpu_seconds: 0,
                ended_at: START + i as i64,
                cost,
            })
            .collect();
        store.import_usage(&chunk, "bench").map_err(err)?;
    }
    let (receipt, records) = store
        .create_receipt_for_unbilled(owner.id, None, None, "bench")
        .map_err(err)?;
    if records != lines as i64 {
        return Err(format!("{user}'s receipt has {records} lines, not {lines}"));
    }
    Ok(receipt.id)
}

fn job(user: &str, i: usize) -> String {
    format!("{user}-{i:07}")
}

/// The number of pages of `pdf` if it is complete (see the module's comment).
fn check(pdf: &[u8], user: &str, lines: usize) -> Result<usize, Failure> {
    if !pdf.starts_with(b"%PDF-") || !pdf.ends_with(b"%%EOF") {
        return Err(format!("{user}'s PDF is not complete ({} bytes)", pdf.len()));
    }
    let body = String::from_utf8_lossy(pdf);
    let prefix = format!("({user}-");
    let mut expected = 0;
    for (at, _) in body.match_indices(&prefix) {
        let shown = body[at + 1..].split(')').next().unwrap_or_default();
        if shown != job(user, expected) {
            return Err(format!(
                "{user}'s PDF shows {shown:?} where {:?} was due",
                job(user, expected)
            ));
        }
        expected += 1;
    }
    if expected != lines {
        return Err(format!("{user}'s PDF shows {expected} lines of {lines}"));
    }
    let pages = body.matches("/Type /Page\n").count();
    let count = body
        .split("/Type /Pages\n")
        .nth(1)
        .and_then(|tree| tree.split("/Count ").nth(1))
        .and_then(|c| c.split_whitespace().next())
        .and_then(|c| c.parse::<usize>().ok());
    if count != Some(pages) {
        return Err(format!(
            "{user}'s PDF has {pages} page objects; its page tree counts {count:?}"
        ));
    }
    Ok(pages)
}

pub(super) fn run(args: &Args, server_binary: &std::path::Path, n: usize) -> Result<(), Failure> {
    let scratch = Scratch::create(args)?;
    let dir = tempfile::tempdir().map_err(err)?;
    let sizes = [("small", SMALL), ("large", n)];
    for (user, _) in sizes {
        add_user(server_binary, scratch.url(), dir.path(), user)?;
    }
    let seeding = Instant::now();
    let mut receipts = Vec::new();
    {
        let relaxed = PoolOptions {
            durability: Durability::Relaxed,
            ..PoolOptions::default()
        };
        let store = Store::open(scratch.url(), &relaxed).map_err(err)?;
        for (user, lines) in sizes {
            receipts.push(receipt(&store, user, lines)?);
        }
    }
    println!(
        "== Receipt PDF: {SMALL} lines vs {n} lines ({:?}; seeded in {} ms; median of {DOWNLOADS} downloads, a server process each)",
        args.backend,
        seeding.elapsed().as_millis()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    for ((user, lines), id) in sizes.into_iter().zip(receipts) {
        let server = ServerProcess::start(server_binary, scratch.url(), Durability::Durable, dir.path())?;
        let pid = server.child.id();
        let got: Result<_, Failure> = runtime.block_on(async {
            let session = Session::login(&server.base, user).await?;
            let idle = peak_rss_kib(pid);
            let mut firsts = Vec::new();
            let mut totals = Vec::new();
            let mut last = (0, 0);
            for _ in 0..DOWNLOADS {
                let (pdf, first, total) = session.get_bytes(&format!("/receipts/{id}.pdf")).await?;
                last = (pdf.len(), check(&pdf, user, lines)?);
                firsts.push(us(first));
                totals.push(us(total));
            }
            firsts.sort_unstable();
            totals.sort_unstable();
            Ok((idle, firsts[DOWNLOADS / 2], totals[DOWNLOADS / 2], last))
        });
        let report = server.stop()?;
        let (idle, first, total, (bytes, pages)) = got?;
        let mb = |kib: Option<u64>| {
            kib.map_or("?".to_string(), |k| {
                format!("{}.{} MB", k / 1024, k % 1024 * 10 / 1024)
            })
        };
        println!(
            "{lines:>7} lines: {bytes:>10} bytes, {pages:>5} pages; first byte {:>9} ms, all {:>9} ms; server peak RSS {} (after log-in {})",
            ms(first),
            ms(total),
            mb(report.peak_rss_kib),
            mb(idle),
        );
    }
    println!("verified: every PDF complete, every line once and in order");
    Ok(())
}
