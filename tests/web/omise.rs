//! End to end with the Omise adapter against a mock Omise on 127.0.0.1: the webhook body is
//! never trusted, the charge is re-fetched.

use payments_core::unix_now;
use payments_omise::testing::MockOmise;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::support::{Browser, Db, TestServer};

async fn omise_server(omise: &MockOmise) -> (TestServer, Browser, i64, String) {
    let mut vars: Vec<(&str, String)> = omise.env_vars().into_iter().map(|(k, v)| (leak(k), v)).collect();
    vars.push(("PAYMENT_PROVIDER", "omise".into()));
    let server = TestServer::start_with(Db::Sqlite, &vars).await;
    server.add_user("somchai", Role::User);
    server.add_usage("somchai", "j1", 25);
    let browser = Browser::login(&server, "somchai").await;
    let receipt = browser.create_receipt().await;
    let checkout = browser.pay_now(receipt).await;
    assert!(
        checkout.starts_with(&omise.uri()),
        "sent to Omise's authorize page: {checkout}"
    );
    let (payment, _) = server.payment_of(receipt);
    let charge = omise.charge_id_for_payment(&payment).expect("charge at the mock");
    (server, browser, receipt, charge)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[actix_web::test]
async fn pay_now_charge_webhook_refetch_paid() {
    let omise = MockOmise::start().await;
    let (server, _, receipt, charge) = omise_server(&omise).await;
    assert_eq!(omise.charge(&charge).unwrap()["amount"], 2500);
    omise.set_charge_status(&charge, "successful");
    let hook = omise.signed_charge_complete(&charge, unix_now());
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    assert!(
        omise.count("GET", &format!("/charges/{charge}")).await >= 1,
        "the charge was re-fetched"
    );
    omise.record_requests("web-e2e").await.expect("record");
}

#[actix_web::test]
async fn a_body_claiming_success_for_a_failed_charge_does_not_pay() {
    let omise = MockOmise::start().await;
    let (server, _, receipt, charge) = omise_server(&omise).await;
    omise.set_charge_status(&charge, "failed");
    // The event body says "successful" (as a forger would write it), signed correctly.
    let (_, body) = omise.event(
        "charge.complete",
        serde_json::json!({"object": "charge", "id": charge, "status": "successful", "paid": true, "amount": 2500, "currency": "THB"}),
    );
    let headers = omise.sign(&body, unix_now());
    let (status, reply) = server.post_webhook(&headers, &body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    let payments = server.store().payments_for_receipt(receipt).unwrap();
    assert_eq!(payments[0].status, "failed");
}

#[actix_web::test]
async fn an_amount_mismatch_at_omise_is_409() {
    let omise = MockOmise::start().await;
    let (server, _, receipt, charge) = omise_server(&omise).await;
    omise.set_charge_status(&charge, "successful");
    omise.set_charge_amount(&charge, 2400);
    let hook = omise.signed_charge_complete(&charge, unix_now());
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
}

#[actix_web::test]
async fn a_charge_omise_does_not_know_is_refused() {
    let omise = MockOmise::start().await;
    let (server, _, receipt, charge) = omise_server(&omise).await;
    let (_, body) = omise.charge_event("charge.complete", &charge);
    omise.forget_charge(&charge);
    let headers = omise.sign(&body, unix_now());
    let (status, reply) = server.post_webhook(&headers, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
}
