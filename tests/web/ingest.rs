//! Group commit over HTTP: many concurrent deliveries, each answered with its own outcome after
//! its batch was committed; a full queue is 503 with Retry-After.

use payments_core::{unix_now, Money};
use payments_dummy::DummyProvider;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::support::{Db, TestServer, WEBHOOK_SECRET};

/// `n` receipts of THB 7.00 for carol, each with an open dummy checkout: (receipt, payment, amount).
fn open_checkouts(server: &TestServer, n: usize) -> Vec<(i64, String, Money)> {
    server.add_user("carol", Role::User);
    let carol = server.store().user_by_username("carol").unwrap().unwrap();
    for i in 0..n {
        server.add_usage("carol", &format!("job-{i}"), 7);
    }
    server
        .store()
        .usage_for_user(carol.id)
        .unwrap()
        .iter()
        .map(|record| {
            let store = server.store();
            let receipt = store
                .create_receipt_from_usage(carol.id, &[record.id], "test")
                .unwrap();
            let intent = store.create_payment_for_receipt(receipt.id, "dummy").unwrap();
            let payment = intent.payment();
            store
                .attach_provider_checkout(
                    payment.id,
                    &DummyProvider::external_id(&payment.public_id),
                    "http://127.0.0.1/pay",
                    "user:carol",
                )
                .unwrap();
            (receipt.id, payment.public_id.clone(), payment.amount().unwrap())
        })
        .collect()
}

async fn concurrent_deliveries_are_all_answered_and_paid(server: TestServer) {
    let dummy = DummyProvider::new(WEBHOOK_SECRET, "http://127.0.0.1").unwrap();
    let checkouts = open_checkouts(&server, 32);
    let client = reqwest::Client::new();
    let url = server.url("/payments/webhook");
    // Every receipt's event, and a redelivery of every fourth one, all at once.
    let mut deliveries = Vec::new();
    for (i, (_, payment, amount)) in checkouts.iter().enumerate() {
        let hook = dummy
            .signed_webhook(
                &format!("evt_c{i}"),
                "payment.succeeded",
                payment,
                *amount,
                unix_now(),
            )
            .unwrap();
        let copies = if i % 4 == 0 { 2 } else { 1 };
        for _ in 0..copies {
            deliveries.push(hook.clone());
        }
    }
    let answers = futures_join_all(deliveries.iter().map(|hook| {
        let mut req = client.post(&url).body(hook.body.clone());
        for (k, v) in hook.headers() {
            req = req.header(k.as_str(), v.as_str());
        }
        async move {
            let resp = req.send().await.expect("webhook request");
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.expect("json answer");
            (status, body["result"].as_str().unwrap_or_default().to_string())
        }
    }))
    .await;
    assert_eq!(answers.len(), 40);
    for (status, result) in &answers {
        assert_eq!(*status, StatusCode::OK, "{result}");
        assert!(
            result == "finalized" || result == "duplicate of finalized",
            "{result}"
        );
    }
    let finalized = answers.iter().filter(|(_, r)| r == "finalized").count();
    assert_eq!(finalized, 32, "each receipt finalized exactly once: {answers:?}");
    for (receipt, _, _) in &checkouts {
        assert_eq!(server.receipt_status(*receipt), ReceiptStatus::Paid);
        assert_eq!(server.audit("payment.finalize", Some(*receipt)).len(), 1);
    }
    assert_eq!(server.audit("payment.webhook", None).len(), 40);
    let stats = server.state.app.ingest().stats();
    assert_eq!(stats.events(), 40);
    assert!(stats.batches() >= 1 && stats.batches() <= 40);
}

/// Runs the futures concurrently on this task (no extra crate for `join_all`).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: 'static,
{
    let handles: Vec<_> = futures.map(actix_web::rt::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("delivery task"));
    }
    out
}

#[actix_web::test]
async fn concurrent_deliveries_are_all_answered_and_paid_on_sqlite() {
    concurrent_deliveries_are_all_answered_and_paid(TestServer::start().await).await;
}

#[actix_web::test]
#[cfg_attr(
    postgres_tests_ignored,
    ignore = "needs PostgreSQL: set TEST_DATABASE_URL and use --all-features (see README)"
)]
async fn concurrent_deliveries_are_all_answered_and_paid_on_postgres() {
    let Some(pg) = payments_store::testing::postgres("web_concurrent_deliveries") else {
        return;
    };
    concurrent_deliveries_are_all_answered_and_paid(TestServer::start_with(Db::Postgres(pg), &[]).await)
        .await;
}

/// Polls `done` (at most 10 s): waiting for the server to reach a state, not timing it.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[actix_web::test]
async fn a_full_queue_is_503_with_retry_after_and_the_redelivery_is_paid() {
    let server = TestServer::start_with(
        Db::Sqlite,
        &[
            ("WEBHOOK_QUEUE_LIMIT", "1".to_string()),
            ("WEBHOOK_QUEUE_WAIT_MS", "1".to_string()),
        ],
    )
    .await;
    let dummy = DummyProvider::new(WEBHOOK_SECRET, "http://127.0.0.1").unwrap();
    let checkouts = open_checkouts(&server, 3);
    let hooks: Vec<_> = checkouts
        .iter()
        .enumerate()
        .map(|(i, (_, payment, amount))| {
            dummy
                .signed_webhook(
                    &format!("evt_q{i}"),
                    "payment.succeeded",
                    payment,
                    *amount,
                    unix_now(),
                )
                .unwrap()
        })
        .collect();
    let deliver = |i: usize| {
        let hook = hooks[i].clone();
        let url = server.url("/payments/webhook");
        actix_web::rt::spawn(async move {
            let mut req = reqwest::Client::new().post(url).body(hook.body.clone());
            for (k, v) in hook.headers() {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req.send().await.expect("webhook request");
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or_default().to_string());
            let body: serde_json::Value = resp.json().await.expect("json");
            (
                status,
                body["result"].as_str().unwrap_or_default().to_string(),
                retry_after,
            )
        })
    };

    // The database is busy (its write lock held): the writer takes the first event and waits,
    // the second fills the queue of one, the third finds no room.
    let lock = server.store().hold_write_lock_for_tests().unwrap();
    let app = server.state.app.clone();
    let first = deliver(0);
    wait_until("the writer took the first event", || {
        app.ingest().stats().events() == 1
    })
    .await;
    let second = deliver(1);
    wait_until("the second event is queued", || app.ingest().queued() == 1).await;
    let (status, result, retry_after) = deliver(2).await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{result}");
    assert_eq!(result, "retry_later");
    assert_eq!(retry_after.as_deref(), Some("1"));

    drop(lock);
    for delivery in [first, second] {
        let (status, result, _) = delivery.await.unwrap();
        assert_eq!((status, result.as_str()), (StatusCode::OK, "finalized"));
    }
    assert_eq!(server.receipt_status(checkouts[2].0), ReceiptStatus::Unpaid);
    // The provider delivers the refused one again.
    let (status, result, _) = deliver(2).await.unwrap();
    assert_eq!((status, result.as_str()), (StatusCode::OK, "finalized"));
    for (receipt, _, _) in &checkouts {
        assert_eq!(server.receipt_status(*receipt), ReceiptStatus::Paid);
    }
}
