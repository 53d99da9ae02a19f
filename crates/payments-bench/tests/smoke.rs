//! Cheap smoke runs of the benchmark binary itself: the whole path (seeding, the server in its
//! own process, signed deliveries over HTTP with 30 % redeliveries, the raw ceiling, a
//! pre-filled history, verification) with a few hundred deliveries, on SQLite and on
//! PostgreSQL. They check correctness, never time.

use std::process::{Command, Output};

fn run_bench(args: &[&str]) -> String {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_payments-bench"))
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
        "verified: all 300 receipts paid, 370 finalize audit entries (one per payment)",
        "peak RSS of the server process: ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }
    stdout
}

#[test]
fn a_small_run_pays_every_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_bench(&["--dir", dir.path().to_str().unwrap()]);
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
    let out = run_bench(&["--backend", "postgres", "--database-url", &url]);
    assert!(out.contains("== Postgres, durability durable"), "{out}");
}
