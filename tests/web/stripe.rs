//! End to end with the Stripe adapter against a mock Stripe on 127.0.0.1.

use payments_core::unix_now;
use payments_store::{ReceiptStatus, Role};
use payments_stripe::testing::MockStripe;
use reqwest::StatusCode;

use crate::support::{Browser, Db, TestServer};

async fn stripe_server(stripe: &MockStripe) -> TestServer {
    let mut vars: Vec<(&str, String)> = stripe.env_vars();
    vars.push(("PAYMENT_PROVIDER", "stripe".into()));
    let server = TestServer::start_with(Db::Sqlite, &vars).await;
    server.add_user("alice", Role::User);
    server
}

#[actix_web::test]
async fn pay_now_creates_a_checkout_and_the_signed_webhook_pays_the_receipt() {
    let stripe = MockStripe::start().await;
    let server = stripe_server(&stripe).await;
    server.add_usage("alice", "j1", 12);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;

    let checkout = alice.pay_now(receipt).await;
    assert!(
        checkout.starts_with(&stripe.uri()),
        "sent to Stripe's checkout page: {checkout}"
    );
    let (payment, amount) = server.payment_of(receipt);
    let session = stripe.session_for_payment(&payment).expect("session at the mock");
    assert_eq!(session["amount_total"], 1200);
    assert_eq!(session["currency"], "thb");
    let session_id = session["id"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .store()
            .payment_by_public_id(&payment)
            .unwrap()
            .unwrap()
            .external_id
            .as_deref(),
        Some(session_id.as_str())
    );

    let hook = stripe.signed_checkout_completed(&session_id, &payment, amount, unix_now());
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    // Stripe redelivers: a harmless duplicate.
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("duplicate of finalized"))
    );
    assert_eq!(server.audit("payment.finalize", Some(receipt)).len(), 1);

    let recorded = stripe.record_requests("web-e2e").await.expect("record");
    assert!(recorded >= 1);
}

#[actix_web::test]
async fn a_stale_stripe_signature_is_400_and_the_receipt_stays_unpaid() {
    let stripe = MockStripe::start().await;
    let server = stripe_server(&stripe).await;
    server.add_usage("alice", "j1", 20);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    alice.pay_now(receipt).await;
    let (payment, amount) = server.payment_of(receipt);
    let session_id = stripe.session_for_payment(&payment).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let stale = stripe.signed_checkout_completed(&session_id, &payment, amount, unix_now() - 400);
    let (status, body) = server.post_webhook(&stale.headers(), &stale.body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    let refused = server.audit("payment.webhook", None);
    assert!(
        refused
            .iter()
            .any(|e| e.detail.contains("❌") && e.detail.contains("tolerance")),
        "{refused:?}"
    );

    // The same event, freshly signed, is still accepted: the stale copy did not block it.
    let fresh = stripe.signed_checkout_completed(&session_id, &payment, amount, unix_now());
    assert_eq!(
        server.post_webhook(&fresh.headers(), &fresh.body).await.0,
        StatusCode::OK
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    stripe.record_requests("web-e2e-stale").await.expect("record");
}
