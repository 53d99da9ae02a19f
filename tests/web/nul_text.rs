//! A NUL character (U+0000, `%00`) in text from outside (issue 26): PostgreSQL cannot store one
//! and SQLite can, so each is refused before the store with a 4xx naming what holds it, the same
//! way on both backends, and nothing changes: signed webhooks, the admins' list filters, payment
//! ids in paths and queries, form fields, usage import rows.

use payments_core::{unix_now, MinorUnits};
use payments_dummy::DummyProvider;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Browser, Db, TestServer, WEBHOOK_SECRET};

crate::on_both_backends! {
    nul_text_is_refused: nul_text_is_refused_with_a_4xx_and_changes_nothing_on_sqlite, nul_text_is_refused_with_a_4xx_and_changes_nothing_on_postgres, "web_nul_text";
}

/// A signed dummy webhook whose JSON has `value` at `pointer`.
fn spoiled_webhook(
    dummy: &DummyProvider,
    base: &payments_core::WebhookRequest,
    pointer: &str,
    value: &str,
) -> payments_core::WebhookRequest {
    let mut doc: Value = serde_json::from_slice(&base.body).expect("json");
    *doc.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = Value::String(value.into());
    let body = serde_json::to_vec(&doc).expect("json");
    let headers = dummy.sign(&body, unix_now()).expect("sign");
    payments_core::WebhookRequest::new(headers, body, unix_now())
}

async fn assert_refused(resp: reqwest::Response, what: &str) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {text}");
    // Pages for people start the message with a capital.
    assert!(
        text.to_lowercase()
            .contains(&format!("{what} contains a NUL character").to_lowercase()),
        "{what}: {text}"
    );
}

async fn nul_text_is_refused(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage("alice", "job-1", 10);
    let alice = Browser::login(&server, "alice").await;
    let root = Browser::login(&server, "root").await;
    let receipt = alice.create_receipt().await;
    alice.pay_now(receipt).await;
    let (payment, amount) = server.payment_of(receipt);
    let alice_id = server
        .store()
        .user_by_username("alice")
        .expect("db")
        .expect("alice")
        .id;
    let usage_before = server.store().usage_for_user(alice_id).expect("db").len();

    // Signed webhooks: refused with 400 before anything is queued or stored, audited as refused.
    let dummy = DummyProvider::new(WEBHOOK_SECRET, "http://127.0.0.1").expect("dummy");
    let paid = dummy
        .signed_webhook("evt_paid", "payment.succeeded", &payment, amount, unix_now())
        .expect("webhook");
    let refund = dummy
        .signed_refund_webhook(
            "evt_refund",
            &payment,
            amount,
            "re_1",
            MinorUnits(100),
            unix_now(),
        )
        .expect("webhook");
    let hooks = [
        (
            spoiled_webhook(&dummy, &paid, "/id", "evt_\u{0}1"),
            "the event id",
        ),
        (
            spoiled_webhook(&dummy, &paid, "/type", "payment.succeeded\u{0}"),
            "the event type",
        ),
        (
            spoiled_webhook(&dummy, &paid, "/data/payment_ref", &format!("{payment}\u{0}")),
            "the payment reference",
        ),
        (
            spoiled_webhook(&dummy, &paid, "/data/id", "dummy_\u{0}"),
            "the provider's payment id",
        ),
        (
            spoiled_webhook(&dummy, &refund, "/refund/id", "re_\u{0}"),
            "the refund id",
        ),
    ];
    for (hook, what) in &hooks {
        assert!(
            hook.body.windows(6).any(|w| w == b"\\u0000"),
            "{what}: the body escapes the NUL"
        );
        let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["result"], "refused", "{what}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{what} contains a NUL character")),
            "{body}"
        );
    }
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    let refused: Vec<_> = server
        .audit("payment.webhook", None)
        .into_iter()
        .filter(|e| e.detail.contains("nul_in_text"))
        .collect();
    assert_eq!(
        refused.len(),
        1,
        "the first refusal of the minute is audited: {refused:?}"
    );
    assert!(refused[0].detail.contains("refused"), "{:?}", refused[0]);

    // The admins' filters, in the page and in the CSV.
    for target in [
        "/admin/audit?q=%00",
        "/admin/audit?actor=a%00b",
        "/admin/receipts?q=x%00",
        "/admin/receipts?user=%00alice",
        "/admin/receipts.csv?q=%00",
        "/admin/receipts.csv?user=alice%00",
    ] {
        let what = if target.contains("actor=") {
            "Actor"
        } else if target.contains("user=") {
            "User"
        } else {
            "The search text"
        };
        assert_refused(root.get(target).await, what).await;
    }

    // Payment ids in a path or a query.
    for target in [
        format!("/payments/{payment}%00/status"),
        format!("/payments/thanks?payment={payment}%00"),
        format!("/payments/simulate?payment={payment}%00"),
    ] {
        assert_refused(alice.get(&target).await, "the payment id").await;
    }

    // Form fields: a refund's reason (review and confirmation), a refund note, a login name.
    let refund_path = format!("/admin/payments/{payment}/refund");
    let resp = root
        .submit(&refund_path, &[("amount", "1.00"), ("reason", "twice\u{0}")])
        .await;
    assert_refused(resp, "the form field reason").await;
    let resp = root
        .submit(
            &refund_path,
            &[
                ("amount", "1.00"),
                ("reason", "twice\u{0}"),
                ("confirm", "yes"),
                ("request", "abc"),
            ],
        )
        .await;
    assert_refused(resp, "the form field reason").await;
    let resp = root
        .submit(
            "/admin/refunds/1/record",
            &[("outcome", "failed"), ("note", "\u{0}")],
        )
        .await;
    assert_refused(resp, "the form field note").await;
    let resp = Browser::new(&server)
        .submit("/login", &[("username", "ali\u{0}ce"), ("password", "x")])
        .await;
    assert_refused(resp, "the form field username").await;

    // A usage file with a NUL in a text field imports nothing.
    let csv = format!(
        "{}\nalice,job-2,night\u{0}ly,3600,0,0\n",
        payments_app::usage::HEADER
    );
    let imported = payments_app::usage::import(
        server.store(),
        csv.as_bytes(),
        &server.state.config.rates(),
        "test",
    );
    match imported {
        Err(payments_app::usage::ImportError::BadRows(p)) => {
            assert!(
                p[0].starts_with("line 2: description contains a NUL character"),
                "{p:?}"
            )
        }
        other => panic!("{other:?}"),
    }

    // Nothing changed: unpaid, no refund, one payment, the same usage; the genuine event still
    // pays the receipt.
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    assert!(server
        .store()
        .refunds_for_receipt(receipt)
        .expect("db")
        .is_empty());
    assert_eq!(server.store().payments_for_receipt(receipt).expect("db").len(), 1);
    assert_eq!(
        server.store().usage_for_user(alice_id).expect("db").len(),
        usage_before
    );
    let (status, body) = server.post_webhook(paid.headers(), &paid.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
}
