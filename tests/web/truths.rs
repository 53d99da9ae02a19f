//! Small truths (issue 26, item 5): what the server says matches what it does. `web --help`
//! names the real webhook path; an over-refund webhook is answered as refused, as audited;
//! reconciliation never looks a payment up again sooner than `RECONCILE_AFTER_SECS`; the audit
//! search ignores case on both backends; an unusable `LOG_DIR` and bad provider settings stop
//! `web` before it creates anything.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use payments_app::reconcile::{CycleReport, Reconciler};
use payments_core::{unix_now, MinorUnits};
use payments_dummy::testing::DummyBank;
use payments_dummy::DummyProvider;
use payments_store::{NewAudit, ReceiptStatus, Role};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Browser, Db, TestServer, WEBHOOK_SECRET};

/// `web` with only `env` (and PATH), in a fresh folder: (exit code, stdout, stderr, folder).
fn web(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_web"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run web");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    )
}

/// Everything in `dir`, relative names, sorted.
fn contents(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// (a) -----------------------------------------------------------------------------------------

#[test]
fn help_names_the_real_webhook_path_and_no_other() {
    for (provider, name, meaning) in payments_web::registry::variables() {
        assert!(
            !meaning.contains("/webhooks/"),
            "[{provider}] {name} names a path the server does not serve: {meaning}"
        );
    }
    let (code, help, stderr, _dir) = web(&["--help"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!help.contains("/webhooks/"), "{help}");
    if cfg!(feature = "paypal") {
        let line = help
            .lines()
            .find(|l| l.contains("PAYPAL_WEBHOOK_ID"))
            .unwrap_or_else(|| panic!("PAYPAL_WEBHOOK_ID missing from: {help}"));
        assert!(line.contains("/payments/webhook"), "{line}");
    }
}

// (b) -----------------------------------------------------------------------------------------

/// A refund webhook for more than was paid is refused, and both the answer and the audit say
/// so; its redelivery is answered the same way.
async fn an_over_refund_webhook_is_answered_as_refused(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    server.add_usage("alice", "job-1", 10);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    alice.pay_now(receipt).await;
    let (payment, amount) = server.payment_of(receipt);
    assert_eq!(
        alice.simulate(&payment, "succeed").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);

    let dummy = DummyProvider::new(WEBHOOK_SECRET, "http://127.0.0.1").unwrap();
    let too_much = MinorUnits(amount.amount.get() + 1);
    let req = dummy
        .signed_refund_webhook("evt_over_1", &payment, amount, "re_over_1", too_much, unix_now())
        .unwrap();
    let (status, answer) = server.post_webhook(req.headers(), &req.body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["result"], "refund_refused", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("refused") && message.contains("exceed"),
        "{answer}"
    );
    assert!(!message.contains("already recorded"), "{answer}");

    // The audit says the same: the refund step refused it, the webhook entry's outcome too.
    let refunds = server.audit("payment.refund", Some(receipt));
    let step: Value = serde_json::from_str(&refunds[0].detail).unwrap();
    assert_eq!(step["step"], "webhook", "{step}");
    let refused = step["recorded"]["refused"].as_str().unwrap_or_default();
    assert!(refused.contains("exceed"), "{step}");
    let hooks = server.audit("payment.webhook", Some(receipt));
    let hook: Value = serde_json::from_str(&hooks[0].detail).unwrap();
    assert_eq!(
        (hook["event_id"].as_str(), hook["outcome"].as_str()),
        (Some("evt_over_1"), Some("refund_refused")),
        "{hook}"
    );
    assert!(server.store().refunds_for_receipt(receipt).unwrap().is_empty());
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);

    // A redelivery: the same answer, nothing recorded.
    let (status, again) = server.post_webhook(req.headers(), &req.body).await;
    assert_eq!(
        (status, again["result"].as_str()),
        (StatusCode::CONFLICT, Some("refund_refused")),
        "{again}"
    );
    assert!(server.store().refunds_for_receipt(receipt).unwrap().is_empty());
}

// (c) -----------------------------------------------------------------------------------------

/// Two open payments looked up in one cycle that started at `t` and reached them at `t + 10`
/// and `t + 50` (the clock the reconciler reads when a look-up ends): each is due again
/// `RECONCILE_AFTER_SECS` (60) after its own look-up, not after the cycle's start.
async fn reconcile_look_ups_are_never_closer_than_after_secs(db: Db) {
    let bank = DummyBank::start().await;
    let vars = [
        ("DUMMY_API_URL", bank.uri()),
        ("RECONCILE_INTERVAL_SECS", "0".to_string()),
        ("RECONCILE_AFTER_SECS", "60".to_string()),
    ];
    let server = TestServer::start_with(db, &vars).await;
    server.add_user("carol", Role::User);
    let carol = Browser::login(&server, "carol").await;
    let mut payments = Vec::new();
    for i in 0..2 {
        server.add_usage("carol", &format!("job-{i}"), 3 + i);
        let receipt = carol.create_receipt().await;
        carol.pay_now(receipt).await;
        let (payment, amount) = server.payment_of(receipt);
        bank.set(&payment, "pending", amount);
        payments.push(payment);
    }
    let t = unix_now() + 1000;
    let ends = [t + 10, t + 50];
    let calls = Arc::new(AtomicUsize::new(0));
    let clock_calls = calls.clone();
    let reconciler = Reconciler::new(server.state.config.app.reconcile)
        .unwrap()
        .with_clock(Arc::new(move || {
            ends[clock_calls.fetch_add(1, Ordering::SeqCst).min(1)]
        }));
    let run = |at: i64| reconciler.run_cycle(&server.state.app, at);
    let fetches = || payments.iter().map(|p| bank.fetches(p)).collect::<Vec<_>>();

    let first = run(t).await.unwrap();
    assert_eq!((first.checked, first.fetched), (2, 2), "{first:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(fetches(), [1, 1]);
    // 60 s after the cycle began, but only 50 s and 10 s after the look-ups: nothing is due.
    assert_eq!(run(t + 60).await.unwrap(), CycleReport::default());
    assert_eq!(run(t + 69).await.unwrap(), CycleReport::default());
    assert_eq!(fetches(), [1, 1]);
    // 60 s after the first look-up ended: only the first.
    let second = run(t + 70).await.unwrap();
    assert_eq!((second.checked, second.fetched), (1, 1), "{second:?}");
    assert_eq!(fetches(), [2, 1]);
    assert_eq!(run(t + 109).await.unwrap(), CycleReport::default());
    let third = run(t + 110).await.unwrap();
    assert_eq!((third.checked, third.fetched), (1, 1), "{third:?}");
    assert_eq!(fetches(), [2, 2]);
}

/// The wall clock the reconciler reads by default is never behind the real time.
#[test]
fn the_default_look_up_clock_rounds_up() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let ceil = payments_app::reconcile::unix_now_ceil();
    assert!(i128::from(ceil) * 1000 >= i128::try_from(before.as_millis()).unwrap());
    assert!(ceil <= unix_now() + 1);
}

// (d) -----------------------------------------------------------------------------------------

/// The audit search ignores case on both backends; a NUL in a filter is a 400 on both.
async fn audit_search_ignores_case(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("root", Role::Admin);
    let entry = NewAudit::new(
        "provider:Acme",
        "payment.reconcile",
        "payment Pay-MixedCase-42",
        json!({"note": "Über Ärger WITH Capitals"}),
    );
    server.store().append_audit(&entry).unwrap();
    let root = Browser::login(&server, "root").await;
    for q in [
        "mixedcase",
        "MIXEDCASE",
        "Pay-MixedCase-42",
        "with capitals",
        "acme",
        "PROVIDER:ACME",
    ] {
        let url = format!("/admin/audit?q={}", urlencode(q));
        let page = root.get_text(&url).await;
        assert!(page.contains("Pay-MixedCase-42"), "{q:?} found nothing: {page}");
    }
    // Literal matching still holds: `%` and `_` are not wildcards.
    let page = root.get_text("/admin/audit?q=pay%25mixed").await;
    assert!(!page.contains("Pay-MixedCase-42"), "{page}");
    let page = root.get_text("/admin/audit?q=pay_mixed").await;
    assert!(!page.contains("Pay-MixedCase-42"), "{page}");
    // The same text in its own case is found on both backends, non-ASCII letters included.
    let page = root
        .get_text(&format!("/admin/audit?q={}", urlencode("Über Ärger")))
        .await;
    assert!(page.contains("Pay-MixedCase-42"), "{page}");

    for path in [
        "/admin/audit?q=%00",
        "/admin/audit?actor=%00",
        "/admin/audit?q=a%00b",
    ] {
        let resp = root.get(path).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("NUL"), "{path}: {body}");
    }
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

crate::on_both_backends! {
    an_over_refund_webhook_is_answered_as_refused: over_refund_webhook_refused_on_sqlite, over_refund_webhook_refused_on_postgres, "web_truth_refund";
    reconcile_look_ups_are_never_closer_than_after_secs: reconcile_gap_on_sqlite, reconcile_gap_on_postgres, "web_truth_gap";
    audit_search_ignores_case: audit_search_ignores_case_on_sqlite, audit_search_ignores_case_on_postgres, "web_truth_audit";
}

// (e) -----------------------------------------------------------------------------------------

/// A `LOG_DIR` that is a file, or lies under one, stops `web serve` (and `web reconcile`)
/// before the database or anything else is created, naming LOG_DIR and why.
#[test]
fn an_unusable_log_dir_stops_start_up_before_anything_is_created() {
    let outside = tempfile::tempdir().unwrap();
    let file = outside.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let under = file.join("log");
    for log_dir in [&file, &under] {
        let log_dir = log_dir.display().to_string();
        for args in [&[][..], &["reconcile"][..]] {
            let env = [
                ("LOG_DIR", log_dir.as_str()),
                ("BIND_ADDR", "127.0.0.1:0"),
                ("DATABASE_URL", "sqlite://data/app.db"),
            ];
            let (code, _, stderr, dir) = web(args, &env);
            assert_eq!(code, 1, "{args:?} LOG_DIR={log_dir}: {stderr}");
            assert!(
                stderr.contains(&format!("LOG_DIR={log_dir}")) && stderr.contains("is a file"),
                "{args:?}: {stderr}"
            );
            assert!(
                contents(dir.path()).is_empty(),
                "{args:?}: {:?}",
                contents(dir.path())
            );
        }
    }
    assert_eq!(contents(outside.path()), ["a-file"]);
}

/// The check itself: a missing folder under a writable one is fine and not created; a folder
/// we cannot write in is refused with the system's reason.
#[test]
fn the_log_dir_check_creates_nothing() {
    use payments_app::logging::dir_problem;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("log/deeper");
    assert_eq!(dir_problem(&missing), None);
    assert_eq!(dir_problem(dir.path()), None);
    assert!(contents(dir.path()).is_empty(), "{:?}", contents(dir.path()));
    // app.log that is a folder cannot be appended to.
    std::fs::create_dir(dir.path().join("app.log")).unwrap();
    let problem = dir_problem(dir.path()).expect("app.log is a folder");
    assert!(problem.contains("app.log"), "{problem}");
}

// (f) -----------------------------------------------------------------------------------------

/// `web migrate` validates the provider's variables too: bad ones exit 1, named, and no
/// database is created.
#[test]
fn migrate_refuses_bad_provider_settings_and_creates_nothing() {
    let env = [
        ("DATABASE_URL", "sqlite://data/app.db"),
        ("DUMMY_API_URL", "nowhere"),
    ];
    let (code, stdout, stderr, dir) = web(&["migrate"], &env);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("DUMMY_API_URL"), "{stderr}");
    assert!(contents(dir.path()).is_empty(), "{:?}", contents(dir.path()));

    if cfg!(feature = "paypal") {
        let env = [
            ("DATABASE_URL", "sqlite://data/app.db"),
            ("PAYMENT_PROVIDER", "paypal"),
            ("SESSION_SECRET", "0123456789abcdef0123456789abcdef0123456789"),
            ("PAYPAL_CLIENT_ID", "client"),
            ("PAYPAL_CLIENT_SECRET", "secret"),
            ("PAYPAL_WEBHOOK_ID", "not an id!"),
        ];
        let (code, _, stderr, dir) = web(&["migrate"], &env);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("PAYPAL_WEBHOOK_ID"), "{stderr}");
        assert!(contents(dir.path()).is_empty(), "{:?}", contents(dir.path()));
    }

    // With good settings it migrates.
    let (code, stdout, stderr, dir) = web(&["migrate"], &[("DATABASE_URL", "sqlite://data/app.db")]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("up to date"), "{stdout}");
    assert!(dir.path().join("data/app.db").exists());
}
