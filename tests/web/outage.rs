//! PostgreSQL goes away while webhooks arrive: every delivery is answered 503 with
//! `Retry-After` promptly (nothing is queued that cannot commit, nothing waits for the pool),
//! a refusal that cannot be audited is answered the same way, and once the database is back
//! every payment is paid exactly once. The answer times are printed (`--nocapture`); the
//! benchmark's `--outage-secs` reports them for a longer outage.

#![cfg(feature = "postgres")]

use std::time::{Duration, Instant};

use payments_core::unix_now;
use payments_dummy::DummyProvider;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::support::{Browser, Db, TestServer, WEBHOOK_SECRET};

const RECEIPTS: usize = 16;

/// What one delivery got back, and after how long.
struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    result: String,
    millis: u128,
}

async fn deliver(client: &reqwest::Client, url: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let started = Instant::now();
    let mut req = client.post(url).body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req
        .send()
        .await
        .expect("an answer (the client gives up after 30 s)");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    Answer {
        status,
        retry_after,
        result: body["result"].as_str().unwrap_or("").to_string(),
        millis: started.elapsed().as_millis(),
    }
}

/// All `hooks` at once; the answers in order.
async fn deliver_all(
    client: &reqwest::Client,
    url: &str,
    hooks: &[payments_core::WebhookRequest],
) -> Vec<Answer> {
    let mut tasks = Vec::new();
    for hook in hooks {
        let (client, url, headers, body) = (
            client.clone(),
            url.to_string(),
            hook.headers().to_vec(),
            hook.body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            deliver(&client, &url, &headers, &body).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("delivery task"));
    }
    answers
}

fn times(answers: &[Answer]) -> String {
    let mut ms: Vec<u128> = answers.iter().map(|a| a.millis).collect();
    ms.sort_unstable();
    format!(
        "{} answers, median {} ms, max {} ms",
        ms.len(),
        ms[ms.len() / 2],
        ms.last().copied().unwrap_or(0)
    )
}

fn assert_all_retry_later(answers: &[Answer], wave: &str) {
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(
            a.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{wave}: delivery {i}: {}",
            a.result
        );
        assert_eq!(a.result, "retry_later", "{wave}: delivery {i}");
        assert!(
            a.retry_after.is_some_and(|s| s >= 1),
            "{wave}: delivery {i} has no Retry-After in seconds"
        );
    }
}

#[actix_web::test]
#[cfg_attr(
    postgres_tests_ignored,
    ignore = "needs PostgreSQL: set TEST_DATABASE_URL and use --all-features (see README)"
)]
async fn webhooks_during_a_database_outage_get_503_at_once_and_pay_once_after() {
    let Some(pg) = payments_store::testing::postgres("web_outage") else {
        return;
    };
    let server = TestServer::start_with(Db::Postgres(pg), &[]).await;
    server.add_user("bob", Role::User);
    let bob = Browser::login(&server, "bob").await;
    let dummy = DummyProvider::new(WEBHOOK_SECRET, "http://127.0.0.1").expect("dummy");
    let mut receipts = Vec::new();
    let mut hooks = Vec::new();
    for i in 0..RECEIPTS {
        server.add_usage("bob", &format!("job-{i}"), 1 + i as i64);
        let receipt = bob.create_receipt().await;
        bob.pay_now(receipt).await;
        let (payment, amount) = server.payment_of(receipt);
        hooks.push(
            dummy
                .signed_webhook(
                    &format!("evt_outage_{i}"),
                    "payment.succeeded",
                    &payment,
                    amount,
                    unix_now(),
                )
                .unwrap(),
        );
        receipts.push(receipt);
    }
    let mut forged = hooks[0].clone();
    forged.body = br#"{"id":"evt_forged_in_outage","type":"payment.succeeded"}"#.to_vec();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = server.url("/payments/webhook");

    // The database goes away; the deliveries arrive at once, before the server can know.
    server.postgres().unwrap().set_available(false);
    let first = deliver_all(&client, &url, &hooks).await;
    println!("PostgreSQL just stopped: {}", times(&first));
    assert_all_retry_later(&first, "first wave");

    // Known to be down now: the provider's retries and a forged delivery (which cannot be
    // audited now) are all told to retry later.
    let second = deliver_all(&client, &url, &hooks).await;
    println!("PostgreSQL known to be down: {}", times(&second));
    assert_all_retry_later(&second, "second wave");
    let forged_down = deliver(&client, &url, forged.headers(), &forged.body).await;
    assert_all_retry_later(std::slice::from_ref(&forged_down), "forged during the outage");

    // Back: the first delivery to be written again is timed from the database's return.
    server.postgres().unwrap().set_available(true);
    let back = Instant::now();
    let recovered = loop {
        let a = deliver(&client, &url, hooks[0].headers(), &hooks[0].body).await;
        if a.status == StatusCode::OK {
            break a;
        }
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "not written 60 s after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "PostgreSQL back: the first redelivery was written {} ms after its return",
        back.elapsed().as_millis()
    );
    // A batch already under way when the circuit opened may have been committed after all (its
    // sender was told to retry): its redelivery is then a duplicate. Either way, paid once.
    let written = |a: &Answer| {
        a.status == StatusCode::OK && ["finalized", "duplicate of finalized"].contains(&a.result.as_str())
    };
    assert!(written(&recovered), "{}", recovered.result);
    let rest = deliver_all(&client, &url, &hooks[1..]).await;
    for (i, a) in rest.iter().enumerate() {
        assert!(written(a), "redelivery {}: {} {}", i + 1, a.status, a.result);
    }
    let forged_up = deliver(&client, &url, forged.headers(), &forged.body).await;
    assert_eq!(forged_up.status, StatusCode::BAD_REQUEST, "{}", forged_up.result);

    // Paid exactly once each; the refusal audited once the database could take it.
    for receipt in &receipts {
        assert_eq!(server.receipt_status(*receipt), ReceiptStatus::Paid);
    }
    assert_eq!(
        server.audit("payment.finalize", None).len(),
        RECEIPTS,
        "one finalize per payment"
    );
    let refused = server.audit("payment.webhook", None);
    assert!(
        refused.iter().any(
            |e| e.subject == "event evt_forged_in_outage" && e.detail.contains("\"outcome\":\"refused\"")
        ),
        "the forged delivery is audited after the outage"
    );
}
