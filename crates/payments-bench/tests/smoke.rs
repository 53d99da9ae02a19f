//! Cheap smoke runs of the benchmark binary itself: the whole path (seeding, the real `web`
//! server binary in its own process, signed deliveries over HTTP with 30 % redeliveries, the raw
//! ceiling, a pre-filled history, verification) with a few hundred deliveries, on SQLite and on
//! PostgreSQL. They check correctness, never time.
//!
//! The server is the `web` binary beside the benchmark's, which `cargo test --workspace
//! --all-features` builds (for the server's own integration tests) with the `stripe` and
//! `postgres` features. Run alone (`cargo test -p payments-bench`), a missing or Stripe-less
//! server binary is a loud skip, and a failure in CI (`CI=true`).

use std::path::PathBuf;
use std::process::{Command, Output};

/// The server binary, when it is there and has the Stripe adapter compiled in.
fn server_binary(test: &str) -> Option<PathBuf> {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_payments-bench"));
    let web = bench.with_file_name("web");
    let help = Command::new(&web).arg("--help").output().ok();
    let has_stripe = help.is_some_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with("Providers compiled in:") && l.contains("stripe"))
    });
    if has_stripe {
        return Some(web);
    }
    let why = format!(
        "{} is missing or built without the `stripe` feature (build it with `cargo build -p payments-web \
         --features stripe,postgres`, or run `cargo test --workspace --all-features`)",
        web.display()
    );
    assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{test}: {why}");
    eprintln!("SKIPPED {test}: {why}");
    None
}

fn run_bench(web: &PathBuf, args: &[&str]) -> String {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_payments-bench"))
        .arg("--server")
        .arg(web)
        .args(["--deliveries", "300", "--concurrency", "8", "--duplicates", "30"])
        .args(["--raw", "20", "--prefill", "50"])
        .args(args)
        .env_remove("WEBHOOK_WRITERS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the benchmark failed:\n{stdout}\n{stderr}"
    );
    for expected in [
        "answers: 300 finalized, 90 duplicates, 0 other",
        // Every delivery reached the writers (the server's /metrics), redeliveries included.
        " for 390 events, ",
        // 50 pre-filled and 300 delivered; the raw ceiling's bare commits finalize nothing.
        "verified: all 300 receipts paid, 350 finalize audit entries (one per payment)",
        "raw ceiling: ",
        "peak RSS of the server process: ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }
    stdout
}

#[test]
fn a_small_run_pays_every_receipt() {
    let Some(web) = server_binary("a_small_run_pays_every_receipt") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = run_bench(&web, &["--dir", dir.path().to_str().unwrap()]);
    assert!(out.contains("== Sqlite, durability durable"), "{out}");
}

#[test]
fn a_small_run_on_postgres_pays_every_receipt() {
    let test = "a_small_run_on_postgres_pays_every_receipt";
    let required = std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(!required, "REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set");
        payments_store::testing::say_skipped(test, "TEST_DATABASE_URL is not set");
        return;
    };
    if !cfg!(feature = "postgres") {
        assert!(
            !required,
            "REQUIRE_POSTGRES=1 but built without the `postgres` feature"
        );
        payments_store::testing::say_skipped(
            test,
            "built without the `postgres` feature (use --all-features)",
        );
        return;
    }
    let Some(web) = server_binary(test) else {
        return;
    };
    let out = run_bench(&web, &["--backend", "postgres", "--database-url", &url]);
    assert!(out.contains("== Postgres, durability durable"), "{out}");

    // The outage mode: every delivery while the database is away is told to retry later, and
    // everything is paid once after it returns.
    let output: Output = Command::new(env!("CARGO_BIN_EXE_payments-bench"))
        .arg("--server")
        .arg(&web)
        .args(["--backend", "postgres", "--database-url", &url])
        .args(["--deliveries", "4", "--outage-secs", "2"])
        .env_remove("WEBHOOK_WRITERS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the outage run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "answers: 4 of 4 were 503 with Retry-After, 0 other [], 0 no answer",
        "answer time ms: p50 ",
        "the first redelivery was written ",
        "verified: all 4 receipts paid, 4 finalize audit entries (one per payment)",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }
}

/// The import and portal modes on small sizes: they run the real binary end to end and check
/// what they stored (figures are printed, never asserted).
#[test]
fn the_import_and_portal_modes_run() {
    let Some(web) = server_binary("the_import_and_portal_modes_run") else {
        return;
    };
    for (args, expected) in [
        (
            vec!["--import-rows", "3000"],
            vec![
                "imported 3000 usage records",
                "verified: the heavy user's 300 rows are stored",
            ],
        ),
        (
            vec![
                "--portal",
                "--usage-rows",
                "10000",
                "--receipts",
                "2000",
                "--audit-entries",
                "5000",
            ],
            vec![
                "My Usage, later records ",
                "All receipts, older ",
                "Audit log, text search ",
                "receipts CSV, whole (1001 lines) / receipts CSV, whole (2001 lines)",
            ],
        ),
        (
            vec!["--pdf-lines", "2000"],
            vec![
                "   1000 lines: ",
                "   2000 lines: ",
                "verified: every PDF complete, every line once and in order",
            ],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output: Output = Command::new(env!("CARGO_BIN_EXE_payments-bench"))
            .arg("--server")
            .arg(&web)
            .args(["--dir", dir.path().to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        for e in expected {
            assert!(stdout.contains(e), "{e:?} missing from {args:?}:\n{stdout}");
        }
    }
}
