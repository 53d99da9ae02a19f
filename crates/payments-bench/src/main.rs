#![doc = include_str!("../README.md")]

mod cpu;
mod import;
#[cfg(feature = "postgres")]
mod outage;
mod pdf;
mod portal;
mod seed;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use payments_core::signature::StripeStyleScheme;
use payments_core::{unix_now, Currency, EventKind, Money};
use payments_store::{
    AuditQuery, Durability, NewUsage, PoolOptions, ReceiptStatus, Role, Store, VerifiedEvent,
};

const SECRET_KEY: &str = "sk_test_bench_local_only_0123456789";
const WEBHOOK_SECRET: &str = "whsec_bench_local_only_0123456789";
/// Every receipt costs THB 12.34 (one usage record of 1,234 minor units).
const RECEIPT_MINOR: i64 = 1_234;
/// How often a delivery answered 503 (queue full) is sent again, at most.
const MAX_RETRIES: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Drives the real server with signed Stripe `checkout.session.completed` deliveries.
#[derive(Debug, Parser)]
#[command(name = "payments-bench", version)]
struct Args {
    /// Which database the server runs on.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// Unique events (one receipt each) to deliver.
    #[arg(long, default_value_t = 2_000)]
    deliveries: usize,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Redeliveries of already sent events, in percent of `--deliveries` (0 to 100, e.g. 30).
    #[arg(long, default_value_t = 0, value_parser = percent)]
    duplicates: usize,
    /// Paid payments already in the database before the run (to see how the cost grows).
    #[arg(long, default_value_t = 0)]
    prefill: usize,
    /// Bare commits (a single-row update per transaction), to measure the backend's raw ceiling in the
    /// same run (0: skip). Default: min(deliveries, 2000).
    #[arg(long)]
    raw: Option<usize>,
    /// Threads for the raw ceiling (default: 1 on SQLite, 8 on PostgreSQL).
    #[arg(long)]
    raw_threads: Option<usize>,
    /// Run with DB_DURABILITY=relaxed (can lose acknowledged payments on a power cut).
    #[arg(long, conflicts_with = "compare")]
    relaxed: bool,
    /// Run durable, then relaxed, each on a fresh database, and print the ratio.
    #[arg(long)]
    compare: bool,
    /// Run on an empty database, then on one pre-filled with `--prefill` paid payments, and
    /// print the ratio (how the cost grows with the history).
    #[arg(long, conflicts_with = "compare")]
    compare_prefill: bool,
    /// PostgreSQL server to create the scratch database on (default: DATABASE_URL, then
    /// TEST_DATABASE_URL); its role must be allowed to create databases.
    #[arg(long)]
    database_url: Option<String>,
    /// Folder for the scratch SQLite file (default: the system's temp folder).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Measure each configuration this many times (alternating between the two of `--compare`
    /// or `--compare-prefill`, each round on fresh receipts of the same database) and report
    /// the medians: this machine's noise is larger than the differences looked for.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Give up sending after this many seconds.
    #[arg(long, default_value_t = 900)]
    max_seconds: u64,
    /// The server binary to measure (`web`, built with the `stripe` feature, and `postgres` for
    /// `--backend postgres`). Default: `PAYMENTS_WEB_BIN`; else, under `cargo run`, cargo builds
    /// it first; else `web` beside this benchmark's own binary.
    #[arg(long)]
    server: Option<std::path::PathBuf>,
    /// Instead of the throughput run: take PostgreSQL away for this many seconds while
    /// `--deliveries` arrive spread over the outage, and report how and when each was answered
    /// and how soon after the return deliveries are written again.
    #[arg(long)]
    outage_secs: Option<u64>,
    /// With `--outage-secs`: how long a delivery waits for its answer before it counts as
    /// unanswered.
    #[arg(long, default_value_t = 120)]
    outage_client_timeout: u64,
    /// Instead of the throughput run: `web usage import` of one CSV file of this many rows
    /// (21 users), timed, with the import process's peak memory.
    #[arg(long)]
    import_rows: Option<usize>,
    /// Instead of the throughput run: every page of the portal on a database with 1,000 usage
    /// records, receipts and audit entries and on one with `--usage-rows`, `--receipts` and
    /// `--audit-entries` (seeded in bulk), each page's median time and the ratio.
    #[arg(long)]
    portal: bool,
    /// With `--portal`: usage records in the large database (a tenth of them one payer's).
    #[arg(long, default_value_t = 1_000_000)]
    usage_rows: usize,
    /// With `--portal`: receipts in the large database.
    #[arg(long, default_value_t = 1_000_000)]
    receipts: usize,
    /// With `--portal`: audit entries in the large database.
    #[arg(long, default_value_t = 10_000_000)]
    audit_entries: usize,
    /// With `--portal`: keep the scratch databases and print where they are (to look into a
    /// query plan), instead of deleting them.
    #[arg(long)]
    keep_databases: bool,
    /// Instead of the throughput run: a receipt's PDF for a receipt of 1,000 lines and for one
    /// of this many, each downloaded through the server: time, size and the server's peak RSS.
    #[arg(long)]
    pdf_lines: Option<usize>,
}

type Failure = String;

fn percent(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|p| *p <= 100)
        .ok_or_else(|| format!("{text:?} is not a whole percentage from 0 to 100"))
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), Failure> {
    if args.deliveries == 0 || args.concurrency == 0 {
        return Err("--deliveries and --concurrency must be at least 1".into());
    }
    // Before any seeding: a missing server binary is said at once.
    let server = server_binary(args)?;
    if let Some(n) = args.pdf_lines {
        return pdf::run(args, &server, n.max(1));
    }
    if args.portal {
        let usage = args.usage_rows.max(2_000);
        let sizes = seed::Sizes {
            usage: usage - usage / 10,
            payer_usage: usage / 10,
            receipts: args.receipts.max(1_000),
            audit: args.audit_entries.max(1_000),
        };
        return portal::run(args, &server, sizes);
    }
    if let Some(rows) = args.import_rows {
        return import::run(args, &server, rows.max(1));
    }
    if let Some(secs) = args.outage_secs {
        #[cfg(feature = "postgres")]
        return outage::run(args, &server, secs.max(1));
        #[cfg(not(feature = "postgres"))]
        return Err(format!(
            "--outage-secs {secs} needs --backend postgres, in a build with `--features postgres`"
        ));
    }
    let durability = if args.relaxed {
        Durability::Relaxed
    } else {
        Durability::Durable
    };
    let runs: Vec<(Durability, usize)> = if args.compare {
        vec![
            (Durability::Durable, args.prefill),
            (Durability::Relaxed, args.prefill),
        ]
    } else if args.compare_prefill {
        if args.prefill == 0 {
            return Err("--compare-prefill needs --prefill N with N at least 1".into());
        }
        vec![(durability, 0), (durability, args.prefill)]
    } else {
        vec![(durability, args.prefill)]
    };
    let mut scenarios = Vec::new();
    for (durability, prefill) in runs {
        scenarios.push(prepare(args, durability, prefill)?);
    }
    for round in 1..=args.rounds.max(1) {
        for scenario in &mut scenarios {
            let result = measure_round(args, &server, scenario, round)?;
            scenario.rounds.push(result);
        }
    }
    let medians: Vec<RunResult> = scenarios
        .iter()
        .map(|sc| RunResult {
            per_sec: median(sc.rounds.iter().map(|r| r.per_sec)),
            p99_us: median(sc.rounds.iter().map(|r| r.p99_us)),
            raw_per_sec: sc.rounds[0]
                .raw_per_sec
                .map(|_| median(sc.rounds.iter().filter_map(|r| r.raw_per_sec))),
            verified: sc.rounds.iter().all(|r| r.verified),
        })
        .collect();
    if args.rounds > 1 {
        for (sc, m) in scenarios.iter().zip(&medians) {
            let per_round: Vec<String> = sc.rounds.iter().map(|r| r.per_sec.to_string()).collect();
            print!(
                "== median of {} rounds, {}: {} deliveries/s (rounds: {}), p99 {} ms",
                args.rounds,
                sc.label,
                m.per_sec,
                per_round.join(", "),
                ms(m.p99_us)
            );
            match m.raw_per_sec {
                Some(raw) => println!(", raw ceiling {raw} tx/s, ratio {}", ratio(m.per_sec, raw)),
                None => println!(),
            }
        }
    }
    let results = medians;
    let of_rounds = if args.rounds > 1 {
        format!(", medians of {} rounds", args.rounds)
    } else {
        String::new()
    };
    match &results[..] {
        [durable, relaxed] if args.compare => {
            println!("== durable vs relaxed ({:?}{of_rounds})", args.backend);
            println!(
                "deliveries/s  durable {} / relaxed {} = {}",
                durable.per_sec,
                relaxed.per_sec,
                ratio(durable.per_sec, relaxed.per_sec)
            );
            println!(
                "p99           durable {} ms / relaxed {} ms",
                ms(durable.p99_us),
                ms(relaxed.p99_us)
            );
        }
        [empty, filled] => {
            println!(
                "== {} paid payments already stored vs an empty database ({:?}{of_rounds})",
                args.prefill, args.backend
            );
            println!(
                "deliveries/s  pre-filled {} / empty {} = {}",
                filled.per_sec,
                empty.per_sec,
                ratio(filled.per_sec, empty.per_sec)
            );
            println!(
                "p99           pre-filled {} ms / empty {} ms",
                ms(filled.p99_us),
                ms(empty.p99_us)
            );
        }
        _ => {}
    }
    if results.iter().any(|r| !r.verified) {
        return Err("verification failed (see above)".into());
    }
    Ok(())
}

/// `a / b` as `1.23x`, in integer arithmetic.
fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        return "n/a".into();
    }
    let hundredths = a.saturating_mul(100) / b;
    format!("{}.{:02}x", hundredths / 100, hundredths % 100)
}

/// Microseconds as milliseconds with two decimals.
fn ms(us: u64) -> String {
    format!("{}.{:02}", us / 1000, (us % 1000) / 10)
}

fn per_second(count: u64, elapsed: Duration) -> u64 {
    let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
    count.saturating_mul(1_000_000) / us
}

/// Peak resident set size of process `pid` so far, from /proc (Linux).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One round's figures.
#[derive(Debug, Clone, Copy)]
struct RunResult {
    per_sec: u64,
    p99_us: u64,
    raw_per_sec: Option<u64>,
    verified: bool,
}

/// One configuration under test: a scratch database (with its pre-filled history) and the
/// durability its server runs with. Each round adds fresh receipts to it.
struct Scenario {
    label: String,
    scratch: Scratch,
    durability: Durability,
    prefill: usize,
    /// Payments finalized in it so far (history, earlier rounds).
    finalized: usize,
    rounds: Vec<RunResult>,
}

/// The median of `values` (the lower middle one for an even count).
fn median(values: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

/// A scratch database that goes away with this value.
enum Scratch {
    Sqlite {
        /// Deleted on drop.
        _dir: tempfile::TempDir,
        url: String,
    },
    #[cfg(feature = "postgres")]
    Postgres(payments_store::testing::TempPostgres),
}

impl Scratch {
    fn url(&self) -> &str {
        match self {
            Scratch::Sqlite { url, .. } => url,
            #[cfg(feature = "postgres")]
            Scratch::Postgres(pg) => &pg.url,
        }
    }

    fn create(args: &Args) -> Result<Scratch, Failure> {
        match args.backend {
            Backend::Sqlite => {
                let dir = match &args.dir {
                    Some(d) => tempfile::tempdir_in(d),
                    None => tempfile::tempdir(),
                }
                .map_err(|e| format!("cannot create a scratch folder: {e}"))?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                Ok(Scratch::Sqlite { _dir: dir, url })
            }
            Backend::Postgres => postgres_scratch(args),
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres_scratch(args: &Args) -> Result<Scratch, Failure> {
    let base = args
        .database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .or_else(|| std::env::var("TEST_DATABASE_URL").ok())
        .filter(|u| u.starts_with("postgres"))
        .ok_or(
            "--backend postgres needs --database-url, DATABASE_URL or TEST_DATABASE_URL (postgres://...)",
        )?;
    Ok(Scratch::Postgres(payments_store::testing::TempPostgres::create(
        &base, "bench",
    )))
}

#[cfg(not(feature = "postgres"))]
fn postgres_scratch(_: &Args) -> Result<Scratch, Failure> {
    Err("this build has no PostgreSQL: run with `--features postgres`".into())
}

fn thb(minor: i64) -> Result<Money, Failure> {
    Ok(Money::new(
        minor,
        Currency::from_code("THB").map_err(|e| e.to_string())?,
    ))
}

/// One open Stripe checkout per receipt: (receipt id, our payment id, Stripe session id).
type Checkout = (i64, String, String);

/// Seeds `n` receipts for `user`, each with an open Stripe checkout, through the store.
fn seed(store: &Store, user: &str, n: usize) -> Result<Vec<Checkout>, Failure> {
    let err = |e: payments_store::StoreError| e.to_string();
    store
        .create_user(user, "not-a-real-hash", Role::User)
        .map_err(err)?;
    let owner = store
        .user_by_username(user)
        .map_err(err)?
        .ok_or("seeded user is missing")?;
    let cost = thb(RECEIPT_MINOR)?;
    for chunk_start in (0..n).step_by(5_000) {
        let rows: Vec<NewUsage> = (chunk_start..n.min(chunk_start + 5_000))
            .map(|i| NewUsage {
                username: user.into(),
                job_id: format!("job-{i}"),
                description: "benchmark job".into(),
                cpu_core_seconds: 3600,
                gpu_seconds: 0,
                ended_at: 1_700_000_000,
                cost,
            })
            .collect();
        store.import_usage(&rows, "bench").map_err(err)?;
    }
    let records = store.usage_for_user(owner.id).map_err(err)?;
    // PostgreSQL takes writers side by side; SQLite has one write lock, so one thread. Each
    // transaction opens 500 checkouts through the store's own operations.
    let threads = match store.backend() {
        "postgres" => 4,
        _ => 1,
    };
    let per_thread = records.len().div_ceil(threads).max(1);
    let parts: Vec<Result<Vec<Checkout>, Failure>> = std::thread::scope(|s| {
        let workers: Vec<_> = records
            .chunks(per_thread)
            .enumerate()
            .map(|(part, records)| {
                s.spawn(move || {
                    let mut out = Vec::with_capacity(records.len());
                    for (k, chunk) in records.chunks(500).enumerate() {
                        let first = part * per_thread + k * 500;
                        let sessions: Vec<String> = (first..first + chunk.len())
                            .map(|i| format!("cs_test_{user}_{i}"))
                            .collect();
                        let ids: Vec<i64> = chunk.iter().map(|r| r.id).collect();
                        let opened = store
                            .open_checkouts_for_tests(owner.id, &ids, payments_stripe::NAME, &sessions)
                            .map_err(err)?;
                        out.extend(
                            opened
                                .into_iter()
                                .zip(sessions)
                                .map(|((receipt, payment), session)| (receipt, payment, session)),
                        );
                    }
                    Ok(out)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a seeding thread panicked".into()))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(n);
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// A `checkout.session.completed` event for one checkout, as Stripe sends it.
fn event_body(event_id: &str, checkout: &Checkout, created: i64) -> Vec<u8> {
    let (_, payment_ref, session) = checkout;
    serde_json::json!({
        "id": event_id,
        "object": "event",
        "api_version": payments_stripe::STRIPE_VERSION,
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": "checkout.session.completed",
        "data": {"object": {
            "id": session,
            "object": "checkout.session",
            "amount_subtotal": RECEIPT_MINOR,
            "amount_total": RECEIPT_MINOR,
            "client_reference_id": payment_ref,
            "created": created,
            "currency": "thb",
            "livemode": false,
            "metadata": {"payment_id": payment_ref},
            "mode": "payment",
            "payment_intent": format!("pi_{event_id}"),
            "payment_status": "paid",
            "status": "complete",
            "url": null,
        }},
    })
    .to_string()
    .into_bytes()
}

/// A verified Stripe success for one seeded checkout, straight to the store (`source` names the
/// event id and the verification, `prefill` or `raw`).
fn paid_event(source: &str, payment_ref: &str, session: &str, amount: Money) -> VerifiedEvent {
    VerifiedEvent {
        provider: payments_stripe::NAME.into(),
        event_id: format!("evt_{source}_{session}"),
        raw_type: "checkout.session.completed".into(),
        kind: EventKind::PaymentSucceeded,
        external_payment_id: Some(session.to_string()),
        payment_ref: Some(payment_ref.to_string()),
        references: Vec::new(),
        refund: None,
        amount: Some(amount),
        verified_by: source.into(),
        raw_payload: "{}".into(),
        received_at: unix_now(),
    }
}

/// Marks `checkouts` paid through the store in batches (the pre-filled history).
fn prefill_paid(store: &Store, checkouts: &[Checkout]) -> Result<(), Failure> {
    let amount = thb(RECEIPT_MINOR)?;
    for chunk in checkouts.chunks(1_000) {
        let events: Vec<VerifiedEvent> = chunk
            .iter()
            .map(|(_, payment_ref, session)| paid_event("prefill", payment_ref, session, amount))
            .collect();
        for outcome in store.handle_verified_events(&events).map_err(|e| e.to_string())? {
            outcome.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The raw ceiling: bare commits (one single-row update of a receipt per transaction, same
/// database and durability as the server's writers) on `threads` threads, each holding one
/// connection, straight on the store: the physical limit of the disk and the database server.
/// Returns transactions per second.
fn raw_ceiling(store: &Store, checkouts: &[Checkout], threads: usize) -> Result<u64, Failure> {
    let ids: Vec<i64> = checkouts.iter().map(|(receipt, _, _)| *receipt).collect();
    let per_thread = ids.len().div_ceil(threads.max(1)).max(1);
    let failures = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for part in ids.chunks(per_thread) {
            let failures = &failures;
            s.spawn(move || {
                if store.bare_commits_for_bench(part).is_err() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = start.elapsed();
    if failures.load(Ordering::Relaxed) > 0 {
        return Err("a bare commit failed".into());
    }
    Ok(per_second(ids.len() as u64, elapsed))
}

/// The order deliveries are sent in: every event once, and `duplicates` percent of them again,
/// each redelivery a little after its original.
fn delivery_order(n: usize, duplicates: usize, concurrency: usize) -> Vec<usize> {
    let lag = concurrency.saturating_mul(2).max(1);
    let is_dup = |i: usize| (i * duplicates) / 100 != ((i + 1) * duplicates) / 100 || duplicates >= 100;
    let mut order = Vec::with_capacity(n + n * duplicates / 100 + 1);
    for i in 0..n {
        order.push(i);
        if i >= lag && is_dup(i - lag) {
            order.push(i - lag);
        }
    }
    for i in n.saturating_sub(lag)..n {
        if is_dup(i) {
            order.push(i);
        }
    }
    order
}

/// The server under test: the real `web` binary in a process of its own, so that its peak
/// memory is its own, not the client's or the seeding's.
struct ServerProcess {
    child: std::process::Child,
    base: String,
    metrics_token: String,
}

/// Batches, events, the largest batch, and the set-based batches written and undone.
type WriterFigures = (u64, u64, u64, Option<(u64, u64)>);

/// What the server process did, read just before it is stopped.
struct ServerReport {
    /// Batches written set-based and batches tried so but undone (`None`: an older server).
    set_based: Option<(u64, u64)>,
    batches: u64,
    events: u64,
    largest: u64,
    peak_rss_kib: Option<u64>,
}

/// The `web` binary: `--server`, else `PAYMENTS_WEB_BIN`; else, when run by cargo (`cargo run
/// -p payments-bench`), cargo builds it first (same profile, features `stripe,postgres`, a no-op
/// when it is up to date, so the server measured is the source as it is); then `web` beside this
/// binary.
fn server_binary(args: &Args) -> Result<std::path::PathBuf, Failure> {
    if let Some(path) = args
        .server
        .clone()
        .or_else(|| std::env::var_os("PAYMENTS_WEB_BIN").map(Into::into))
    {
        return Ok(path);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this benchmark's own binary: {e}"))?;
    let dir = exe.parent().ok_or("this benchmark's binary has no folder")?;
    let build = "cargo build --release -p payments-web --bin web --features stripe,postgres";
    if let Some(cargo) = std::env::var_os("CARGO") {
        let mut command = std::process::Command::new(cargo);
        command.args([
            "build",
            "-p",
            "payments-web",
            "--bin",
            "web",
            "--features",
            "stripe,postgres",
        ]);
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        eprintln!("building the server under test: {command:?}");
        let status = command.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("building the server failed ({status})"));
        }
    }
    [dir.join("web"), dir.join("../web")]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "the server binary `web` is not beside {} (build it with `{build}`, or name it with \
                 --server or PAYMENTS_WEB_BIN)",
                exe.display()
            )
        })
}

impl ServerProcess {
    fn start(
        binary: &std::path::Path,
        url: &str,
        durability: Durability,
        log_dir: &std::path::Path,
    ) -> Result<ServerProcess, Failure> {
        use std::io::BufRead;
        let metrics_token = format!("bench-metrics-{}-{}", std::process::id(), unix_now());
        let mut command = std::process::Command::new(binary);
        command
            .env("PAYMENT_PROVIDER", "stripe")
            .env("STRIPE_SECRET_KEY", SECRET_KEY)
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            // Webhooks are verified from their signature alone; nothing is sent here.
            .env("STRIPE_API_BASE", "http://127.0.0.1:9")
            .env("DATABASE_URL", url)
            .env("DB_DURABILITY", durability.as_str())
            .env("SESSION_SECRET", "bench-session-secret-of-at-least-32-chars")
            .env("METRICS_TOKEN", &metrics_token)
            .env("ISSUER_NAME", "payments-bench")
            .env("LOG_DIR", log_dir)
            // An ephemeral loopback port, announced on stdout (`Open http://127.0.0.1:PORT/login`).
            .env("BIND_ADDR", "127.0.0.1:0")
            .env_remove("SITE_BASE_URL")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped());
        // The server logs warnings and errors unless RUST_LOG says otherwise
        // (`RUST_LOG=payments_store::batch=debug` shows every webhook batch).
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "warn");
        }
        // The writers of the server under test can be chosen (`WEBHOOK_WRITERS=8 cargo run ...`);
        // any other server variable set for the benchmark reaches the server as well.
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start the server {}: {e}", binary.display()))?;
        let mut stdout =
            std::io::BufReader::new(child.stdout.take().ok_or("the server process has no stdout")?);
        let mut line = String::new();
        let base = loop {
            line.clear();
            let read = stdout
                .read_line(&mut line)
                .map_err(|e| format!("reading the server's address: {e}"))?;
            if read == 0 {
                let status = child.wait().map_err(|e| e.to_string())?;
                return Err(format!(
                    "the server process ended before it listened ({status}); see its error above"
                ));
            }
            if let Some(url) = line
                .trim()
                .strip_prefix("Open ")
                .and_then(|rest| rest.split("/login").next())
            {
                break url.to_string();
            }
        };
        // The rest of what it prints is not needed; read it so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Ok(ServerProcess {
            child,
            base,
            metrics_token,
        })
    }

    /// Reads the server's peak memory and its webhook writers' figures (`/metrics`), then stops it.
    fn stop(mut self) -> Result<ServerReport, Failure> {
        let peak_rss_kib = peak_rss_kib(self.child.id());
        let figures = self.writer_figures();
        // SIGTERM: the server stops gracefully; everything it answered was committed already.
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err("the server process did not stop within 30 s of SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if !status.success() {
            return Err(format!("the server process ended badly ({status})"));
        }
        let (batches, events, largest, set_based) = figures?;
        Ok(ServerReport {
            set_based,
            batches,
            events,
            largest,
            peak_rss_kib,
        })
    }

    /// `payments_webhook_batches_total`, `..._batched_events_total`, `..._largest_batch`, and the
    /// set-based batches written and undone when the server reports them.
    fn writer_figures(&self) -> Result<WriterFigures, Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let text = runtime.block_on(async {
            reqwest::Client::new()
                .get(format!("{}/metrics", self.base))
                .bearer_auth(&self.metrics_token)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        });
        let text = text.map_err(|e| format!("reading the server's /metrics: {e}"))?;
        let value = |name: &str| {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(name)?
                        .strip_prefix(' ')?
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .ok_or_else(|| format!("the server's /metrics has no {name}"))
        };
        // Not in the figures of a server older than set-based batches.
        let set_based = value("payments_webhook_set_based_batches_total")
            .ok()
            .zip(value("payments_webhook_set_based_undone_total").ok());
        Ok((
            value("payments_webhook_batches_total")?,
            value("payments_webhook_batched_events_total")?,
            value("payments_webhook_largest_batch")?,
            set_based,
        ))
    }
}

/// What the client saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    finalized: u64,
    duplicate: u64,
    other: Vec<String>,
    retried_503: u64,
}

async fn send_all(
    base: &str,
    checkouts: &[Checkout],
    order: &[usize],
    concurrency: usize,
    deadline: Instant,
) -> Result<Tally, Failure> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{base}/payments/webhook");
    let scheme = Arc::new(StripeStyleScheme::new(
        payments_stripe::SIGNATURE_HEADER,
        &[WEBHOOK_SECRET.to_string()],
        300,
    ));
    let checkouts: Arc<Vec<Checkout>> = Arc::new(checkouts.to_vec());
    let order: Arc<Vec<usize>> = Arc::new(order.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, scheme, checkouts, order, next, retried) = (
            client.clone(),
            url.clone(),
            scheme.clone(),
            checkouts.clone(),
            order.clone(),
            next.clone(),
            retried.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&which) = order.get(i) else {
                    break;
                };
                if Instant::now() > deadline {
                    tally.other.push("gave up: --max-seconds reached".into());
                    break;
                }
                let checkout = &checkouts[which];
                let created = unix_now();
                let body = event_body(&format!("evt_{}", checkout.2), checkout, created);
                let mut attempts = 0;
                // From the first attempt: a delivery retried after a 503 counts all its waiting.
                let start = Instant::now();
                loop {
                    // Signed when sent, as Stripe does (and as its timestamp tolerance expects).
                    let signature = scheme
                        .header_value(unix_now(), &body)
                        .map_err(|e| e.to_string())?;
                    let resp = client
                        .post(&url)
                        .header(payments_stripe::SIGNATURE_HEADER, signature)
                        .header("Content-Type", "application/json; charset=utf-8")
                        .body(body.clone())
                        .send()
                        .await
                        .map_err(|e| format!("delivery failed: {e}"))?;
                    let status = resp.status().as_u16();
                    let answer: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
                    let elapsed = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                    if status == 503 && attempts < MAX_RETRIES {
                        attempts += 1;
                        retried.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    tally.latencies_us.push(elapsed);
                    match (status, answer["result"].as_str()) {
                        (200, Some("finalized")) => tally.finalized += 1,
                        (200, Some("duplicate of finalized")) => tally.duplicate += 1,
                        (s, r) => tally.other.push(format!("{s} {}", r.unwrap_or("(no result)"))),
                    }
                    break;
                }
            }
            Ok::<Tally, Failure>(tally)
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.map_err(|e| e.to_string())??;
        all.latencies_us.extend(t.latencies_us);
        all.finalized += t.finalized;
        all.duplicate += t.duplicate;
        all.other.extend(t.other);
    }
    all.retried_503 = retried.load(Ordering::Relaxed);
    Ok(all)
}

fn percentile(sorted: &[u64], pct: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = (sorted.len() * pct).div_ceil(100).saturating_sub(1);
    sorted[idx.min(sorted.len() - 1)]
}

/// How many of `checkouts`' receipts are not paid, and how many `payment.finalize` entries the
/// audit log holds (one per payment finalized).
fn paid_check(store: &Store, checkouts: &[Checkout]) -> Result<(usize, i64), Failure> {
    let mut unpaid = 0;
    for (receipt, _, _) in checkouts {
        let status = store
            .receipt(*receipt)
            .map_err(|e| e.to_string())?
            .and_then(|r| r.status().ok());
        if status != Some(ReceiptStatus::Paid) {
            unpaid += 1;
        }
    }
    let finalize_entries = store
        .audit_log(&AuditQuery {
            action: Some("payment.finalize".into()),
            limit: 1,
            ..AuditQuery::default()
        })
        .map_err(|e| e.to_string())?
        .1;
    Ok((unpaid, finalize_entries))
}

/// Creates the scratch database of a configuration and fills its history (`prefill` paid
/// payments, through the store's batch writes).
fn prepare(args: &Args, durability: Durability, prefill: usize) -> Result<Scenario, Failure> {
    let scratch = Scratch::create(args)?;
    if prefill > 0 {
        let started = Instant::now();
        let store = seeding_store(&scratch)?;
        let history = seed(&store, "history", prefill)?;
        prefill_paid(&store, &history)?;
        println!(
            "pre-filled {prefill} paid payments in {} ms",
            started.elapsed().as_millis()
        );
    }
    Ok(Scenario {
        label: format!("durability {durability}, prefill {prefill}"),
        scratch,
        durability,
        prefill,
        finalized: prefill,
        rounds: Vec::new(),
    })
}

/// Seeding is not measured: it runs relaxed (a scratch database) through the store.
fn seeding_store(scratch: &Scratch) -> Result<Store, Failure> {
    let seeding = PoolOptions {
        durability: Durability::Relaxed,
        ..PoolOptions::default()
    };
    Store::open(scratch.url(), &seeding).map_err(|e| e.to_string())
}

/// One measurement on `sc`: fresh receipts seeded, the raw ceiling, then the server under
/// signed deliveries, and every receipt checked paid exactly once.
fn measure_round(
    args: &Args,
    server_binary: &std::path::Path,
    sc: &mut Scenario,
    round: usize,
) -> Result<RunResult, Failure> {
    let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let n = args.deliveries;
    let raw_n = args.raw.unwrap_or(n.min(2_000));
    let durability = sc.durability;
    println!(
        "== {:?}, durability {durability}: {n} deliveries (+{}% redeliveries), concurrency {}, prefill {}{}",
        args.backend,
        args.duplicates,
        args.concurrency,
        sc.prefill,
        if args.rounds > 1 {
            format!(", round {round} of {}", args.rounds)
        } else {
            String::new()
        }
    );

    let seed_start = Instant::now();
    let (checkouts, raw_checkouts) = {
        let store = seeding_store(&sc.scratch)?;
        let raw_checkouts = if raw_n > 0 {
            seed(&store, &format!("raw{round}"), raw_n)?
        } else {
            Vec::new()
        };
        let checkouts = seed(&store, &format!("bench{round}"), n)?;
        // Both measurements start from a settled database: fresh planner statistics and no
        // autovacuum of the seeded rows running during them (PostgreSQL), an empty WAL
        // (SQLite).
        let settle = match store.backend() {
            "postgres" => "VACUUM ANALYZE",
            _ => "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)",
        };
        store
            .execute_sql_for_tests(settle)
            .map_err(|e| format!("{settle}: {e}"))?;
        (checkouts, raw_checkouts)
    };
    println!(
        "seeded {} receipts with open Stripe checkouts in {} ms",
        n + raw_n,
        seed_start.elapsed().as_millis()
    );

    // The raw ceiling of this backend and durability, in the same run: bare commits.
    let raw_per_sec = if raw_n > 0 {
        let options = PoolOptions {
            durability,
            max_size: 16,
            ..PoolOptions::default()
        };
        let store = Store::open(sc.scratch.url(), &options).map_err(|e| e.to_string())?;
        let threads = args.raw_threads.unwrap_or(match args.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 8,
        });
        let per_sec = raw_ceiling(&store, &raw_checkouts, threads)?;
        println!("raw ceiling: {per_sec} bare commits/s ({raw_n} single-row updates, one transaction each, {threads} thread(s))");
        Some(per_sec)
    } else {
        None
    };

    let server = ServerProcess::start(server_binary, sc.scratch.url(), durability, logs.path())?;
    let order = delivery_order(n, args.duplicates, args.concurrency);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let cpu_before = cpu::CpuSample::take(server.child.id());
    let start = Instant::now();
    let sent = runtime.block_on(send_all(
        &server.base,
        &checkouts,
        &order,
        args.concurrency,
        deadline,
    ));
    let elapsed = start.elapsed();
    let cpu_spent = cpu_before.spent_until(&cpu::CpuSample::take(server.child.id()));
    let report = server.stop()?;
    let mut tally = sent?;
    let (batches, events, largest) = (report.batches, report.events, report.largest);
    let store = Store::open(sc.scratch.url(), &PoolOptions::default()).map_err(|e| e.to_string())?;

    // Every receipt paid, exactly once.
    let (unpaid, finalize_entries) = paid_check(&store, &checkouts)?;
    sc.finalized += n;
    let expected_finalize = i64::try_from(sc.finalized).unwrap_or(i64::MAX);
    let expected_dups = (order.len() - n) as u64;
    let verified = unpaid == 0
        && finalize_entries == expected_finalize
        && tally.finalized == n as u64
        && tally.duplicate == expected_dups
        && tally.other.is_empty();

    tally.latencies_us.sort_unstable();
    let lat = &tally.latencies_us;
    let sent = lat.len() as u64;
    let per_sec = per_second(sent, elapsed);
    let p99 = percentile(lat, 99);
    println!(
        "sent {sent} deliveries in {} ms: {per_sec} deliveries/s",
        elapsed.as_millis()
    );
    println!(
        "latency ms: p50 {}  p90 {}  p99 {}  max {}",
        ms(percentile(lat, 50)),
        ms(percentile(lat, 90)),
        ms(p99),
        ms(lat.last().copied().unwrap_or(0))
    );
    println!(
        "commits (webhook batches): {batches} for {events} events, {} events/commit on average, largest {largest}",
        match (events * 10).checked_div(batches) {
            Some(tenths) => format!("{}.{}", tenths / 10, tenths % 10),
            None => "0".to_string(),
        }
    );
    if let Some((written, undone)) = report.set_based {
        println!("set-based batches: {written} of {batches} ({undone} tried and undone)");
    }
    println!(
        "answers: {} finalized, {} duplicates, {} other, {} retried after 503",
        tally.finalized,
        tally.duplicate,
        tally.other.len(),
        tally.retried_503
    );
    println!(
        "{}",
        cpu_spent.per_delivery_line(sent, args.backend == Backend::Postgres)
    );
    if let Some(raw) = raw_per_sec {
        println!(
            "server vs raw bare-commit ceiling: {per_sec} / {raw} = {}",
            ratio(per_sec, raw)
        );
    }
    if let Some(kib) = report.peak_rss_kib {
        println!("peak RSS of the server process: {} MB", kib / 1024);
    }
    if verified {
        println!(
            "verified: all {n} receipts paid, {finalize_entries} finalize audit entries (one per payment)"
        );
    } else {
        let first: Vec<&String> = tally.other.iter().take(5).collect();
        println!(
            "VERIFICATION FAILED: {unpaid} receipts unpaid, {finalize_entries} finalize entries (expected \
             {expected_finalize}), {} finalized answers (expected {n}), {} duplicates (expected {expected_dups}), \
             unexpected answers: {first:?}",
            tally.finalized, tally.duplicate
        );
    }
    Ok(RunResult {
        per_sec,
        p99_us: p99,
        raw_per_sec,
        verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redeliveries_follow_their_originals() {
        let order = delivery_order(100, 30, 4);
        assert_eq!(order.len(), 130);
        let mut seen = vec![0; 100];
        for (pos, &i) in order.iter().enumerate() {
            seen[i] += 1;
            if seen[i] == 2 {
                let first = order.iter().position(|&j| j == i).unwrap();
                assert!(first < pos, "a redelivery comes after its original");
            }
        }
        assert!(seen.iter().all(|&s| s == 1 || s == 2));
        assert_eq!(delivery_order(10, 0, 16), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn figures_are_printed_without_floats() {
        assert_eq!(ratio(153, 100), "1.53x");
        assert_eq!(ratio(1, 0), "n/a");
        assert_eq!(ms(12_345), "12.34");
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
    }
}
