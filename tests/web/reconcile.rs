//! Reconciliation: the dummy provider with its API (`DUMMY_API_URL`) mocked by `DummyBank` on
//! loopback, a real server and database; cycles run "later" by passing a future `now`.

use std::collections::HashMap;

use payments_app::reconcile::{CycleReport, Reconciler};
use payments_core::{unix_now, Currency, Money};
use payments_dummy::testing::DummyBank;
use payments_dummy::DummyProvider;
use payments_store::{PaymentState, ReceiptStatus, Role};
use payments_web::config::Config;
use payments_web::state::AppState;

use crate::support::{Browser, Db, TestServer};

/// A server whose dummy provider looks payments up at `bank`; no background cycles (the tests
/// run them).
async fn server_with(db: Db, bank: &DummyBank, extra: &[(&str, String)]) -> TestServer {
    let mut vars = vec![
        ("DUMMY_API_URL", bank.uri()),
        ("RECONCILE_INTERVAL_SECS", "0".to_string()),
    ];
    vars.extend(extra.iter().cloned());
    TestServer::start_with(db, &vars).await
}

/// `n` receipts of carol's, each with an open dummy checkout: (receipt, payment id, amount).
async fn open_checkouts(server: &TestServer, n: usize) -> Vec<(i64, String, Money)> {
    server.add_user("carol", Role::User);
    let carol = Browser::login(server, "carol").await;
    let mut out = Vec::new();
    for i in 0..n {
        server.add_usage("carol", &format!("job-{i}"), 3 + i64::try_from(i).unwrap());
        let receipt = carol.create_receipt().await;
        carol.pay_now(receipt).await;
        let (payment, amount) = server.payment_of(receipt);
        out.push((receipt, payment, amount));
    }
    out
}

fn payment_status(server: &TestServer, payment: &str) -> String {
    server
        .store()
        .payment_by_public_id(payment)
        .unwrap()
        .unwrap()
        .status
}

async fn cycle(state: &AppState, at: i64) -> CycleReport {
    let reconciler = Reconciler::new(state.config.app.reconcile).unwrap();
    reconciler.run_cycle(&state.app, at).await.unwrap()
}

/// Past RECONCILE_AFTER_SECS (default 900 s), before CHECKOUT_LIFETIME_SECS (default 24 h).
fn due() -> i64 {
    unix_now() + 1000
}

async fn lost_webhook_is_finalized(db: Db) {
    let bank = DummyBank::start().await;
    let server = server_with(db, &bank, &[]).await;
    let checkouts = open_checkouts(&server, 1).await;
    let (receipt, payment, amount) = checkouts[0].clone();
    // Paid at the provider; the success webhook never arrives.
    bank.set(&payment, "succeeded", amount);

    // Not yet due: nothing is looked up.
    let early = cycle(&server.state, unix_now()).await;
    assert_eq!(early, CycleReport::default());
    assert_eq!(bank.fetches(&payment), 0);

    let report = cycle(&server.state, due()).await;
    assert_eq!(
        (report.checked, report.fetched, report.finalized),
        (1, 1, 1),
        "{report:?}"
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    assert_eq!(payment_status(&server, &payment), "succeeded");
    let finalize = server.audit("payment.finalize", Some(receipt));
    assert_eq!(finalize.len(), 1, "{finalize:?}");
    assert_eq!(finalize[0].actor, "reconcile");
    assert!(
        finalize[0].detail.contains(r#""result":"finalized""#)
            && finalize[0].detail.contains(r#""source":"reconcile""#),
        "{}",
        finalize[0].detail
    );
    // A paid payment is no longer open: the next cycle leaves it alone.
    let again = cycle(&server.state, due() + 2000).await;
    assert_eq!(again.checked, 0, "{again:?}");
    assert_eq!(bank.fetches(&payment), 1);
}

crate::on_both_backends! {
    lost_webhook_is_finalized: a_payment_whose_webhook_never_came_is_finalized_in_one_cycle_on_sqlite, a_payment_whose_webhook_never_came_is_finalized_in_one_cycle_on_postgres, "web_reconcile_lost";
}

async fn mismatch_is_refused(db: Db) {
    let bank = DummyBank::start().await;
    let server = server_with(db, &bank, &[]).await;
    let checkouts = open_checkouts(&server, 1).await;
    let (receipt, payment, amount) = checkouts[0].clone();
    let more = Money::new(amount.amount.get() + 1, amount.currency);
    let usd = Money::new(amount.amount.get(), Currency::from_code("USD").unwrap());
    let mut at = due();
    for (i, reported) in [more, usd].into_iter().enumerate() {
        bank.set(&payment, "succeeded", reported);
        let report = cycle(&server.state, at).await;
        assert_eq!(
            (report.fetched, report.mismatched, report.finalized),
            (1, 1, 0),
            "{report:?}"
        );
        assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
        assert_eq!(payment_status(&server, &payment), "pending");
        let finalize = server.audit("payment.finalize", Some(receipt));
        assert_eq!(finalize.len(), i + 1, "{finalize:?}");
        let detail = &finalize[0].detail;
        assert!(
            detail.contains(r#""result":"mismatch""#)
                && detail.contains(r#""source":"reconcile""#)
                && detail.contains(&reported.to_string()),
            "{detail}"
        );
        // Due again one RECONCILE_AFTER_SECS later.
        at += 1000;
    }
    // Paid with another amount at the provider: never expired here, even past the lifetime.
    let late = cycle(&server.state, unix_now() + 2 * 86_400).await;
    assert_eq!((late.mismatched, late.expired), (1, 0), "{late:?}");
    assert_eq!(payment_status(&server, &payment), "pending");
}

crate::on_both_backends! {
    mismatch_is_refused: an_amount_or_currency_mismatch_is_refused_audited_and_changes_nothing_on_sqlite, an_amount_or_currency_mismatch_is_refused_audited_and_changes_nothing_on_postgres, "web_reconcile_mismatch";
}

async fn approval_is_captured(db: Db) {
    let bank = DummyBank::start().await;
    let server = server_with(db, &bank, &[]).await;
    let checkouts = open_checkouts(&server, 2).await;
    let (receipt, payment, amount) = checkouts[0].clone();
    // Approved by the payer, to be captured; the approval webhook never arrived.
    bank.set(&payment, "requires_capture", amount);
    // Approved for another amount: never captured.
    let (other_receipt, other, other_amount) = checkouts[1].clone();
    bank.set(
        &other,
        "requires_capture",
        Money::new(other_amount.amount.get() * 2, other_amount.currency),
    );

    let report = cycle(&server.state, due()).await;
    assert_eq!((report.captured, report.mismatched), (1, 1), "{report:?}");
    assert_eq!(bank.captures(&payment), 1);
    assert_eq!(bank.status(&payment).as_deref(), Some("succeeded"));
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    let finalize = server.audit("payment.finalize", Some(receipt));
    assert!(
        finalize[0].detail.contains(r#""source":"reconcile""#),
        "{finalize:?}"
    );

    assert_eq!(bank.captures(&other), 0);
    assert_eq!(bank.status(&other).as_deref(), Some("requires_capture"));
    assert_eq!(server.receipt_status(other_receipt), ReceiptStatus::Unpaid);
}

crate::on_both_backends! {
    approval_is_captured: an_approval_that_needs_a_capture_is_captured_on_sqlite, an_approval_that_needs_a_capture_is_captured_on_postgres, "web_reconcile_capture";
}

async fn failures_close_and_abandoned_checkouts_expire(db: Db) {
    let bank = DummyBank::start().await;
    let server = server_with(db, &bank, &[("CHECKOUT_LIFETIME_SECS", "3600".to_string())]).await;
    let checkouts = open_checkouts(&server, 3).await;
    let (failed, abandoned, unknown) = (&checkouts[0], &checkouts[1], &checkouts[2]);
    bank.set(&failed.1, "failed", failed.2);
    bank.set(&abandoned.1, "pending", abandoned.2);
    bank.set(&unknown.1, "pending", unknown.2);
    // The bank goes away for this one: it cannot be looked up.
    bank.mock
        .state()
        .payments
        .remove(&DummyProvider::external_id(&unknown.1));

    // Due, not yet abandoned: the failure closes its payment, the pending one stays open.
    let report = cycle(&server.state, due()).await;
    assert_eq!(
        (report.checked, report.closed, report.expired),
        (3, 1, 0),
        "{report:?}"
    );
    assert_eq!((report.still_open, report.errors), (1, 1), "{report:?}");
    assert_eq!(payment_status(&server, &failed.1), "failed");
    assert_eq!(payment_status(&server, &abandoned.1), "pending");
    let close = server.audit("payment.close", Some(failed.0));
    assert!(
        close[0].actor == "reconcile"
            && close[0]
                .detail
                .contains("the provider reports the payment failed"),
        "{close:?}"
    );
    let errors = server.audit("payment.reconcile", Some(unknown.0));
    assert!(errors[0].detail.contains(r#""result":"error""#), "{errors:?}");

    // Past CHECKOUT_LIFETIME_SECS: the bank still says the abandoned checkout can be paid and
    // has no way to expire it, so it is not expired here first (it waits for the bank's own
    // expiry); the one that cannot be looked up is not either (it may have been paid).
    let report = cycle(&server.state, unix_now() + 3601).await;
    assert_eq!(
        (report.checked, report.expired, report.still_open, report.errors),
        (2, 0, 1, 1),
        "{report:?}"
    );
    assert_eq!(payment_status(&server, &abandoned.1), "pending");
    assert_eq!(payment_status(&server, &unknown.1), "pending");
    // The bank expires it: the next look-up closes it as the bank reports.
    bank.set(&abandoned.1, "expired", abandoned.2);
    let report = cycle(&server.state, unix_now() + 2 * 3601).await;
    assert_eq!((report.closed, report.errors), (1, 1), "{report:?}");
    assert_eq!(payment_status(&server, &abandoned.1), "expired");
    assert_eq!(bank.fetches(&abandoned.1), 3);
    let close = server.audit("payment.close", Some(abandoned.0));
    assert!(
        close[0].actor == "reconcile"
            && close[0]
                .detail
                .contains("the provider reports the payment expired"),
        "{close:?}"
    );
    // The receipt can be paid again with a new checkout.
    assert_eq!(server.receipt_status(abandoned.0), ReceiptStatus::Unpaid);
    let carol = Browser::login(&server, "carol").await;
    let next = carol.pay_now(abandoned.0).await;
    assert!(!next.contains(&abandoned.1), "{next}");
}

crate::on_both_backends! {
    failures_close_and_abandoned_checkouts_expire: failures_close_and_abandoned_checkouts_expire_on_sqlite, failures_close_and_abandoned_checkouts_expire_on_postgres, "web_reconcile_expire";
}

/// Without a way to ask the provider (the dummy without its API), an abandoned checkout is still
/// expired locally.
#[actix_web::test]
async fn without_look_ups_an_abandoned_checkout_is_expired() {
    let server = TestServer::start_with(Db::Sqlite, &[("RECONCILE_INTERVAL_SECS", "0".to_string())]).await;
    let checkouts = open_checkouts(&server, 1).await;
    let (receipt, payment, _) = checkouts[0].clone();
    let report = cycle(&server.state, due()).await;
    assert_eq!(
        (report.checked, report.fetched, report.still_open),
        (1, 0, 1),
        "{report:?}"
    );
    let report = cycle(&server.state, unix_now() + 86_401).await;
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(payment_status(&server, &payment), PaymentState::Expired.as_str());
    assert_eq!(server.audit("payment.close", Some(receipt)).len(), 1);
}

/// Two instances (two states, two connection pools, two reconcilers) run a cycle at the same
/// time over one database: every payment is looked up exactly once and paid exactly once.
async fn two_instances(db: Db) {
    let bank = DummyBank::start().await;
    // Three look-ups a second each: a claim is three payments, so the two interleave.
    let server = server_with(db, &bank, &[("RECONCILE_RATE", "3".to_string())]).await;
    let checkouts = open_checkouts(&server, 12).await;
    for (_, payment, amount) in &checkouts {
        bank.set(payment, "succeeded", *amount);
    }
    let env: HashMap<String, String> = [("DUMMY_API_URL".to_string(), bank.uri())].into();
    let config: Config = (*server.state.config).clone();
    let second = payments_web::startup::build_state(config, &env).expect("a second instance");
    let (one, two) = (
        Reconciler::new(server.state.config.app.reconcile).unwrap(),
        Reconciler::new(second.config.app.reconcile).unwrap(),
    );
    assert_ne!(one.owner(), two.owner());
    let at = due();
    let (a, b) = tokio::join!(
        one.run_cycle(&server.state.app, at),
        two.run_cycle(&second.app, at)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    eprintln!("instance one: {a}\ninstance two: {b}");
    assert_eq!(a.checked + b.checked, 12, "{a:?} {b:?}");
    assert_eq!(a.finalized + b.finalized, 12, "{a:?} {b:?}");
    let fetches = bank.all_fetches();
    assert_eq!(fetches.len(), 12, "{fetches:?}");
    assert!(
        fetches.values().all(|n| *n == 1),
        "a payment was looked up twice: {fetches:?}"
    );
    for (receipt, _, _) in &checkouts {
        assert_eq!(server.receipt_status(*receipt), ReceiptStatus::Paid);
        assert_eq!(server.audit("payment.finalize", Some(*receipt)).len(), 1);
    }
}

crate::on_both_backends! {
    two_instances: two_instances_never_work_on_the_same_payment_on_sqlite, two_instances_never_work_on_the_same_payment_on_postgres, "web_reconcile_two";
}

/// Every bad reconciliation setting is named at once.
#[test]
fn bad_reconcile_settings_are_all_named() {
    let env: HashMap<String, String> = [
        ("RECONCILE_INTERVAL_SECS", "-1"),
        ("RECONCILE_AFTER_SECS", "5"),
        ("CHECKOUT_LIFETIME_SECS", "forever"),
        ("RECONCILE_RATE", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let err = Config::from_source(&env).unwrap_err().to_string();
    for name in [
        "RECONCILE_INTERVAL_SECS",
        "RECONCILE_AFTER_SECS",
        "CHECKOUT_LIFETIME_SECS",
        "RECONCILE_RATE",
    ] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
    let env: HashMap<String, String> = [
        ("RECONCILE_AFTER_SECS", "7200"),
        ("CHECKOUT_LIFETIME_SECS", "3600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let err = Config::from_source(&env).unwrap_err().to_string();
    assert!(
        err.contains("CHECKOUT_LIFETIME_SECS") && err.contains("at least RECONCILE_AFTER_SECS (7200)"),
        "{err}"
    );
}
