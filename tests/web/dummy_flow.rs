//! The whole pay-a-receipt flow with the dummy provider.

use payments_core::{unix_now, Money};
use payments_dummy::DummyProvider;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::support::{location, Browser, Db, TestServer, WEBHOOK_SECRET};

fn dummy() -> DummyProvider {
    DummyProvider::new(WEBHOOK_SECRET, "http://127.0.0.1").expect("dummy")
}

/// Login, receipt, Pay now, simulate success, thanks page, status, audit trail.
async fn pay_a_receipt(server: TestServer) {
    server.add_user("alice", Role::User);
    server.add_usage("alice", "job-1", 10);
    server.add_usage("alice", "job-2", 2);
    let alice = Browser::login(&server, "alice").await;
    let me = alice.get_text("/me").await;
    assert!(
        me.contains("job-1") && me.contains("THB 10.00"),
        "usage is listed with its cost"
    );

    let receipt = alice.create_receipt().await;
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains("THB 12.00") && page.contains("Pay now"),
        "receipt total and Pay now"
    );

    let checkout = alice.pay_now(receipt).await;
    assert!(
        checkout.starts_with(&server.url("/payments/simulate?payment=pay_")),
        "{checkout}"
    );
    let simulate = alice.get_text(&checkout).await;
    assert!(simulate.contains("THB 12.00"), "simulate page shows the amount");
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();

    let resp = alice.simulate(&payment, "succeed").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), format!("/payments/thanks?payment={payment}"));
    let thanks = alice.get_text(&location(&resp)).await;
    assert!(
        thanks.contains("is <strong>paid</strong>"),
        "thanks page says paid"
    );

    let status: serde_json::Value = alice
        .get(&format!("/payments/{payment}/status"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["receipt_status"], "paid");
    assert_eq!(status["payment_status"], "succeeded");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    let page = alice.get_text(&format!("/receipts/{receipt}")).await;
    assert!(!page.contains("Pay now"), "no Pay now on a paid receipt");

    for action in ["payment.intent", "payment.webhook", "payment.finalize"] {
        let entries = server.audit(action, Some(receipt));
        assert_eq!(entries.len(), 1, "{action}: {entries:?}");
    }
    let webhook = &server.audit("payment.webhook", Some(receipt))[0];
    assert!(webhook.detail.contains("✅"), "{}", webhook.detail);

    // Paying again is refused.
    let again = alice
        .submit(&format!("/payments/receipts/{receipt}/start"), &[])
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[actix_web::test]
async fn pay_a_receipt_on_sqlite() {
    pay_a_receipt(TestServer::start().await).await;
}

#[actix_web::test]
#[cfg_attr(
    postgres_tests_ignored,
    ignore = "needs PostgreSQL: set TEST_DATABASE_URL and use --all-features (see README)"
)]
async fn pay_a_receipt_on_postgres() {
    let Some(pg) = payments_store::testing::postgres("web_pay_a_receipt") else {
        return;
    };
    let server = TestServer::start_with(Db::Postgres(pg), &[]).await;
    assert_eq!(server.store().backend(), "postgres");
    pay_a_receipt(server).await;
}

/// A receipt with an open dummy checkout: (server, receipt id, payment id, amount).
async fn open_checkout() -> (TestServer, i64, String, Money) {
    let server = TestServer::start().await;
    server.add_user("bob", Role::User);
    server.add_usage("bob", "j", 5);
    let bob = Browser::login(&server, "bob").await;
    let receipt = bob.create_receipt().await;
    bob.pay_now(receipt).await;
    let (payment, amount) = server.payment_of(receipt);
    (server, receipt, payment, amount)
}

#[actix_web::test]
async fn a_duplicate_webhook_is_acknowledged_and_finalizes_once() {
    let (server, receipt, payment, amount) = open_checkout().await;
    let hook = dummy()
        .signed_webhook("evt_dup", "payment.succeeded", &payment, amount, unix_now())
        .unwrap();
    let (first, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(first, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "finalized");
    let (second, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(second, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "duplicate of finalized");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    assert_eq!(
        server.audit("payment.finalize", Some(receipt)).len(),
        1,
        "one finalize"
    );
    assert_eq!(
        server.audit("payment.webhook", Some(receipt)).len(),
        2,
        "both deliveries audited"
    );
}

#[actix_web::test]
async fn a_tampered_signature_is_refused_audited_and_cannot_block_the_genuine_event() {
    let (server, receipt, payment, amount) = open_checkout().await;
    let hook = dummy()
        .signed_webhook("evt_1", "payment.succeeded", &payment, amount, unix_now())
        .unwrap();
    let mut headers = hook.headers().to_vec();
    let sig = &mut headers[0].1;
    let last = sig.pop().unwrap();
    sig.push(if last == '0' { '1' } else { '0' });
    let (status, body) = server.post_webhook(&headers, &hook.body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    let refused = server.audit("payment.webhook", None);
    assert_eq!(refused.len(), 1);
    assert!(
        refused[0].detail.contains("❌") && refused[0].subject.contains("evt_1"),
        "{:?}",
        refused[0]
    );

    // A forged body under the genuine id, signed with another secret: refused too.
    let forger = DummyProvider::new("not-the-secret", "http://x").unwrap();
    let forged = forger
        .signed_webhook("evt_1", "payment.succeeded", &payment, amount, unix_now())
        .unwrap();
    assert_eq!(
        server.post_webhook(forged.headers(), &forged.body).await.0,
        StatusCode::BAD_REQUEST
    );
    // No signature at all.
    assert_eq!(
        server.post_webhook(&[], &hook.body).await.0,
        StatusCode::BAD_REQUEST
    );

    // The genuine event with the same id still goes through.
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
}

#[actix_web::test]
async fn an_amount_or_currency_mismatch_is_409_and_leaves_the_receipt_unpaid() {
    let (server, receipt, payment, amount) = open_checkout().await;
    let less = Money::new(amount.amount.get() - 1, amount.currency);
    let hook = dummy()
        .signed_webhook("evt_less", "payment.succeeded", &payment, less, unix_now())
        .unwrap();
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("expected THB 5.00, got THB 4.99"),
        "{body}"
    );
    let usd = Money::new(
        amount.amount.get(),
        payments_core::Currency::from_code("USD").unwrap(),
    );
    let hook = dummy()
        .signed_webhook("evt_usd", "payment.succeeded", &payment, usd, unix_now())
        .unwrap();
    assert_eq!(
        server.post_webhook(hook.headers(), &hook.body).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    let finalize = server.audit("payment.finalize", Some(receipt));
    assert_eq!(finalize.len(), 2);
    assert!(finalize.iter().all(|e| e.detail.contains("mismatch")));
}

#[actix_web::test]
async fn a_stale_signature_is_refused() {
    let (server, receipt, payment, amount) = open_checkout().await;
    let hook = dummy()
        .signed_webhook(
            "evt_old",
            "payment.succeeded",
            &payment,
            amount,
            unix_now() - 3600,
        )
        .unwrap();
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("tolerance"), "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
}

#[actix_web::test]
async fn fail_and_cancel_on_the_simulate_page_leave_the_receipt_payable() {
    let (server, receipt, payment, _) = open_checkout().await;
    let bob = Browser::login(&server, "bob").await;
    let resp = bob.simulate(&payment, "fail").await;
    assert_eq!(location(&resp), format!("/payments/thanks?payment={payment}"));
    assert_eq!(
        server
            .store()
            .payment_by_public_id(&payment)
            .unwrap()
            .unwrap()
            .status,
        "failed"
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    // A new attempt gets a new payment; cancelling it goes back to /me, naming the payment.
    let checkout = bob.pay_now(receipt).await;
    let second = checkout.rsplit('=').next().unwrap().to_string();
    assert_ne!(second, payment);
    let resp = bob.simulate(&second, "cancel").await;
    assert_eq!(location(&resp), server.url(&format!("/me?cancelled={second}")));
    assert_eq!(
        server
            .store()
            .payment_by_public_id(&second)
            .unwrap()
            .unwrap()
            .status,
        "canceled"
    );
}

#[actix_web::test]
async fn pay_now_twice_reuses_the_open_checkout() {
    let (server, receipt, payment, _) = open_checkout().await;
    let bob = Browser::login(&server, "bob").await;
    let again = bob.pay_now(receipt).await;
    assert!(again.ends_with(&payment), "{again}");
    assert_eq!(server.store().payments_for_receipt(receipt).unwrap().len(), 1);
}

#[actix_web::test]
async fn admins_see_all_receipts_and_the_audit_log() {
    let (server, receipt, _, _) = open_checkout().await;
    server.add_user("root", Role::Admin);
    let admin = Browser::login(&server, "root").await;
    let list = admin.get_text("/admin/receipts").await;
    assert!(list.contains(&format!("/receipts/{receipt}")) && list.contains("bob"));
    let audit = admin
        .get_text(&format!("/admin/audit?action=payment.intent&receipt={receipt}"))
        .await;
    assert!(
        audit.contains("payment.intent") && audit.contains("1 entries"),
        "filtered audit log"
    );
    // Admins see whose an unpaid receipt is, and cannot pay it for them; users may not see
    // admin pages.
    let page = admin.get_text(&format!("/receipts/{receipt}")).await;
    assert!(!page.contains("Pay now"), "{page}");
    assert!(
        page.contains("This receipt is bob's: only bob can pay it."),
        "{page}"
    );
    let resp = admin
        .submit(&format!("/payments/receipts/{receipt}/start"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("only bob can pay it"));
    let bob = Browser::login(&server, "bob").await;
    assert_eq!(bob.get("/admin/audit").await.status(), StatusCode::NOT_FOUND);
}

/// A verified failure for a payment we do not know is recorded and acknowledged (200,
/// "unmatched", audited), so the provider stops retrying; a redelivery is a duplicate. A verified
/// success for an unknown payment stays 422 (retryable: it can race the checkout).
#[actix_web::test]
async fn a_verified_event_for_an_unknown_payment_is_not_retried_forever() {
    let (server, receipt, _payment, amount) = open_checkout().await;
    let hook = dummy()
        .signed_webhook(
            "evt_stranger",
            "payment.failed",
            "pay_nobody_knows",
            amount,
            unix_now(),
        )
        .unwrap();
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "unmatched");
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "duplicate of unmatched");
    let audited = server.audit("payment.webhook", None);
    assert!(
        audited
            .iter()
            .any(|e| e.subject == "event evt_stranger" && e.detail.contains("\"outcome\":\"unmatched\"")),
        "{audited:?}"
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);

    let success = dummy()
        .signed_webhook(
            "evt_stranger_paid",
            "payment.succeeded",
            "pay_nobody_knows",
            amount,
            unix_now(),
        )
        .unwrap();
    let (status, body) = server.post_webhook(success.headers(), &success.body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["result"], "unknown_payment");
}
