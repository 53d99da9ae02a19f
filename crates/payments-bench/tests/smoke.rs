//! A cheap smoke run of the benchmark binary itself: the whole path (seeding, the server in its
//! own process, signed deliveries over HTTP with redeliveries, the raw ceiling, a pre-filled
//! history, verification) with a handful of deliveries. It checks correctness, never time.

use std::process::Command;

#[test]
fn a_small_run_pays_every_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_payments-bench"))
        .args(["--deliveries", "40", "--concurrency", "4", "--duplicates", "25"])
        .args(["--raw", "5", "--prefill", "5", "--dir"])
        .arg(dir.path())
        .env_remove("WEBHOOK_WRITERS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the benchmark failed:\n{stdout}\n{stderr}"
    );
    for expected in [
        "answers: 40 finalized, 10 duplicates, 0 other",
        "verified: all 40 receipts paid, 50 finalize audit entries (one per payment)",
        "peak RSS of the server process: ",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }
}
