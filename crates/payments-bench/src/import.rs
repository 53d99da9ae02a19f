//! `--import-rows N`: the operator's `web usage import` of one N-row CSV file (21 users, one of
//! them with a tenth of the rows), timed from start to exit, with the import process's peak
//! memory (`VmHWM`, polled while it runs); every row checked stored afterwards.

use std::io::Write;
use std::time::{Duration, Instant};

use payments_store::{PoolOptions, Role, Store};

use super::{peak_rss_kib, per_second, Args, Failure, Scratch};

const USERS: usize = 21;

/// The user of row `i`: `heavy` gets every tenth row, the rest are spread over the others.
fn user_of(i: usize) -> String {
    if i.is_multiple_of(10) {
        "heavy".to_string()
    } else {
        format!("user{:02}", i % (USERS - 1))
    }
}

pub(super) fn run(args: &Args, server_binary: &std::path::Path, rows: usize) -> Result<(), Failure> {
    let scratch = Scratch::create(args)?;
    {
        let store = Store::open(scratch.url(), &PoolOptions::default()).map_err(|e| e.to_string())?;
        store
            .create_user("heavy", "not-a-real-hash", Role::User)
            .map_err(|e| e.to_string())?;
        for u in 0..USERS - 1 {
            store
                .create_user(&format!("user{u:02}"), "not-a-real-hash", Role::User)
                .map_err(|e| e.to_string())?;
        }
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("usage.csv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(|e| e.to_string())?);
        writeln!(
            out,
            "username,job_id,description,cpu_core_seconds,gpu_seconds,ended_at"
        )
        .map_err(|e| e.to_string())?;
        for i in 0..rows {
            writeln!(
                out,
                "{},slurm-{i:09},resnet50_imagenet_lr0.1_bs256_seed{i},{},{},{}",
                user_of(i),
                3_600 + i % 7_200,
                (i % 3) * 600,
                1_761_955_200 + (i as i64 % 2_592_000)
            )
            .map_err(|e| e.to_string())?;
        }
    }
    let bytes = std::fs::metadata(&file).map_err(|e| e.to_string())?.len();
    println!(
        "== web usage import of {rows} rows ({} MB, {USERS} users) on {:?}",
        bytes / 1_000_000,
        args.backend
    );
    let started = Instant::now();
    let mut child = std::process::Command::new(server_binary)
        .args(["usage", "import"])
        .arg(&file)
        .env("DATABASE_URL", scratch.url())
        .env("LOG_DIR", dir.path().join("log"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", server_binary.display()))?;
    let mut peak = 0u64;
    let status = loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "the import failed ({status}): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!(
        "import: {} ms, {} rows/s (whole process, start to exit), peak RSS {} MB",
        elapsed.as_millis(),
        per_second(rows as u64, elapsed),
        peak / 1024
    );
    let store = Store::open(scratch.url(), &PoolOptions::default()).map_err(|e| e.to_string())?;
    let heavy = store
        .user_by_username("heavy")
        .map_err(|e| e.to_string())?
        .ok_or("no heavy user")?;
    let stored = store.usage_for_user(heavy.id).map_err(|e| e.to_string())?.len();
    let expected = rows.div_ceil(10);
    if stored != expected {
        return Err(format!(
            "VERIFICATION FAILED: {stored} rows of the heavy user stored, expected {expected}"
        ));
    }
    println!("verified: the heavy user's {stored} rows are stored");
    Ok(())
}
