//! `--outage-secs S`: PostgreSQL is taken away (no new connections, existing ones terminated)
//! for S seconds while deliveries arrive spread evenly over the outage, each sent once, as a
//! provider sends its first try. Prints how each was answered and after how long (a client
//! timeout of `--outage-client-timeout` seconds counts as no answer), how long after the
//! database's return the first redelivery was written, and checks that after redelivering
//! everything each receipt is paid exactly once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use payments_core::signature::StripeStyleScheme;
use payments_core::unix_now;
use payments_store::{Durability, PoolOptions, Store};

use super::WEBHOOK_SECRET;
use super::{
    event_body, ms, percentile, seed, seeding_store, Args, Checkout, Failure, Scratch, ServerProcess,
};

/// How one delivery was answered.
enum Seen {
    Answered {
        status: u16,
        retry_after: bool,
        result: String,
        micros: u64,
        /// Answered after the database was back.
        after_return: bool,
    },
    NoAnswer(String),
}

struct Sender {
    client: reqwest::Client,
    url: String,
    scheme: StripeStyleScheme,
}

impl Sender {
    async fn send(&self, checkout: &Checkout, back: &std::sync::OnceLock<Instant>) -> Seen {
        let body = event_body(&format!("evt_{}", checkout.2), checkout, unix_now());
        let signature = match self.scheme.header_value(unix_now(), &body) {
            Ok(s) => s,
            Err(e) => return Seen::NoAnswer(e.to_string()),
        };
        let start = Instant::now();
        let resp = self
            .client
            .post(&self.url)
            .header(payments_stripe::SIGNATURE_HEADER, signature)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Seen::NoAnswer("no answer within the client timeout".into()),
            Err(e) => return Seen::NoAnswer(e.to_string()),
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let answer: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
        Seen::Answered {
            status,
            retry_after,
            result: answer["result"].as_str().unwrap_or("(no result)").to_string(),
            micros: u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
            after_return: back.get().is_some(),
        }
    }
}

pub(super) fn run(args: &Args, server_binary: &std::path::Path, secs: u64) -> Result<(), Failure> {
    let scratch = Scratch::create(args)?;
    let Scratch::Postgres(pg) = &scratch else {
        return Err("--outage-secs needs --backend postgres (an SQLite file cannot be stopped)".into());
    };
    {
        let n = args.deliveries;
        let checkouts = {
            let store = seeding_store(&scratch)?;
            seed(&store, "outage", n)?
        };
        let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
        let server = ServerProcess::start(server_binary, scratch.url(), Durability::Durable, logs.path())?;
        println!(
            "== PostgreSQL away for {secs} s while {n} deliveries arrive, one every {} ms, each sent once (client timeout {} s)",
            secs * 1000 / n.max(1) as u64,
            args.outage_client_timeout
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let sender = Arc::new(Sender {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(args.outage_client_timeout))
                .build()
                .map_err(|e| e.to_string())?,
            url: format!("{}/payments/webhook", server.base),
            scheme: StripeStyleScheme::new(
                payments_stripe::SIGNATURE_HEADER,
                &[WEBHOOK_SECRET.to_string()],
                600,
            ),
        });
        let checkouts = Arc::new(checkouts);
        let back = Arc::new(std::sync::OnceLock::<Instant>::new());
        let outage = Duration::from_secs(secs);

        pg.set_available(false);
        let began = Instant::now();
        let seen: Vec<Seen> = runtime.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..n {
                let at =
                    began + outage * u32::try_from(i).unwrap_or(u32::MAX) / u32::try_from(n).unwrap_or(1);
                let (sender, checkouts, back) = (sender.clone(), checkouts.clone(), back.clone());
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                    sender.send(&checkouts[i], &back).await
                }));
            }
            tokio::time::sleep_until(tokio::time::Instant::from_std(began + outage)).await;
            tokio::task::block_in_place(|| pg.set_available(true));
            let _ = back.set(Instant::now());
            let mut seen = Vec::new();
            for task in tasks {
                seen.push(task.await.unwrap_or_else(|e| Seen::NoAnswer(e.to_string())));
            }
            seen
        });
        let returned = *back.get().ok_or("the database was never given back")?;
        report_outage(&seen);

        // The first redelivery written after the return, then everything once more.
        let (recovered_after, finals) = runtime.block_on(async {
            let written = loop {
                match sender.send(&checkouts[0], &back).await {
                    Seen::Answered { status: 200, .. } => break returned.elapsed(),
                    _ if returned.elapsed() > Duration::from_secs(300) => break returned.elapsed(),
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            let mut finals = Vec::new();
            for checkout in checkouts.iter() {
                finals.push(sender.send(checkout, &back).await);
            }
            (written, finals)
        });
        println!(
            "database back: the first redelivery was written {} ms after its return",
            recovered_after.as_millis()
        );
        let report = server.stop()?;
        let store = Store::open(scratch.url(), &PoolOptions::default()).map_err(|e| e.to_string())?;
        let (unpaid, finalize_entries) = super::paid_check(&store, &checkouts)?;
        let redelivered_ok = finals
            .iter()
            .filter(|s| matches!(s, Seen::Answered { status: 200, .. }))
            .count();
        if let Some(kib) = report.peak_rss_kib {
            println!("peak RSS of the server process: {} MB", kib / 1024);
        }
        if unpaid == 0 && finalize_entries == n as i64 && redelivered_ok == n {
            println!("verified: all {n} receipts paid, {finalize_entries} finalize audit entries (one per payment)");
            Ok(())
        } else {
            println!(
                "VERIFICATION FAILED: {unpaid} receipts unpaid, {finalize_entries} finalize entries (expected {n}), {redelivered_ok} of {n} redeliveries answered 200"
            );
            Err("verification failed".into())
        }
    }
}

fn report_outage(seen: &[Seen]) {
    let mut times: Vec<u64> = Vec::new();
    let (mut with_retry_after, mut during, mut after) = (0, 0, 0);
    let mut other: Vec<String> = Vec::new();
    let mut no_answer: Vec<&str> = Vec::new();
    for s in seen {
        match s {
            Seen::Answered {
                status,
                retry_after,
                result,
                micros,
                after_return,
            } => {
                times.push(*micros);
                if *status == 503 && *retry_after {
                    with_retry_after += 1;
                } else {
                    other.push(format!("{status} {result}"));
                }
                if *after_return {
                    after += 1;
                } else {
                    during += 1;
                }
            }
            Seen::NoAnswer(why) => no_answer.push(why),
        }
    }
    times.sort_unstable();
    println!(
        "answers: {with_retry_after} of {} were 503 with Retry-After, {} other {:?}, {} no answer {:?}",
        seen.len(),
        other.len(),
        other.iter().take(5).collect::<Vec<_>>(),
        no_answer.len(),
        no_answer.first()
    );
    println!("answered while the database was away: {during}; only after it was back: {after}");
    if !times.is_empty() {
        println!(
            "answer time ms: p50 {}  p90 {}  max {}",
            ms(percentile(&times, 50)),
            ms(percentile(&times, 90)),
            ms(times.last().copied().unwrap_or(0))
        );
    }
}
