//! End to end with the PayPal adapter against a mock PayPal on 127.0.0.1: approval, then the
//! server's generic capture step.

use payments_core::unix_now;
use payments_paypal::testing::MockPayPal;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::support::{Browser, Db, TestServer};

async fn paypal_server(paypal: &MockPayPal) -> (TestServer, Browser, i64, String, String) {
    let mut vars: Vec<(&str, String)> = paypal.env_vars();
    vars.push(("PAYMENT_PROVIDER", "paypal".into()));
    let server = TestServer::start_with(Db::Sqlite, &vars).await;
    server.add_user("carol", Role::User);
    server.add_usage("carol", "j1", 7);
    let browser = Browser::login(&server, "carol").await;
    let receipt = browser.create_receipt().await;
    let checkout = browser.pay_now(receipt).await;
    assert!(
        checkout.starts_with(&paypal.uri()),
        "sent to PayPal's approval page: {checkout}"
    );
    let (payment, _) = server.payment_of(receipt);
    let order = paypal.order_id_for_payment(&payment).expect("order at the mock");
    (server, browser, receipt, payment, order)
}

#[actix_web::test]
async fn approval_webhook_then_capture_then_paid() {
    let paypal = MockPayPal::start().await;
    let (server, _, receipt, payment, order) = paypal_server(&paypal).await;
    let approved = paypal.approved_webhook(&order, unix_now());
    let (status, body) = server.post_webhook(approved.headers(), &approved.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "finalized", "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    let finalize = server.audit("payment.finalize", Some(receipt));
    assert_eq!(finalize.len(), 1);
    assert!(finalize[0].detail.contains("capture"), "{}", finalize[0].detail);
    assert_eq!(
        server
            .store()
            .payment_by_public_id(&payment)
            .unwrap()
            .unwrap()
            .status,
        "succeeded"
    );
    // PayPal's follow-up PAYMENT.CAPTURE.COMPLETED is a harmless repeat.
    let completed = paypal.capture_webhook(&order, unix_now());
    let (status, body) = server.post_webhook(completed.headers(), &completed.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.audit("payment.finalize", Some(receipt)).len(), 1);
    paypal.record_requests("web-e2e").await;
}

#[actix_web::test]
async fn returning_before_the_webhook_captures_at_once_and_the_late_webhook_is_a_duplicate() {
    let paypal = MockPayPal::start().await;
    let (server, browser, receipt, payment, order) = paypal_server(&paypal).await;
    assert!(paypal.approve_order(&order));
    let thanks = browser
        .get_text(&format!("/payments/thanks?payment={payment}"))
        .await;
    assert!(thanks.contains("is <strong>paid</strong>"), "paid on return");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    // The approval webhook arrives late.
    let approved = paypal.approved_webhook(&order, unix_now());
    let (status, body) = server.post_webhook(approved.headers(), &approved.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "already_finalized", "{body}");
    assert_eq!(
        server.audit("payment.finalize", Some(receipt)).len(),
        1,
        "finalized once"
    );
    paypal.record_requests("web-e2e-return").await;
}

#[actix_web::test]
async fn a_declined_capture_leaves_the_receipt_unpaid() {
    let paypal = MockPayPal::start().await;
    let (server, _, receipt, payment, order) = paypal_server(&paypal).await;
    paypal.set_capture_outcome(&order, "DECLINED");
    let approved = paypal.approved_webhook(&order, unix_now());
    let (status, body) = server.post_webhook(approved.headers(), &approved.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"], "capture_declined", "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    assert_eq!(
        server
            .store()
            .payment_by_public_id(&payment)
            .unwrap()
            .unwrap()
            .status,
        "failed"
    );
}

#[actix_web::test]
async fn an_unverified_paypal_webhook_is_refused() {
    let paypal = MockPayPal::start().await;
    let (server, _, receipt, _, order) = paypal_server(&paypal).await;
    let approved = paypal.approved_webhook(&order, unix_now());
    let mut body = approved.body.clone();
    body.extend_from_slice(b" ");
    let (status, reply) = server.post_webhook(approved.headers(), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    paypal.record_requests("web-e2e-refused").await;
}

/// A dispute names neither the order nor our id, only the disputed capture
/// (`disputed_transactions[].seller_transaction_id`): it is matched through the capture id
/// recorded from PayPal's capture event, recorded against the payment and answered 200.
#[actix_web::test]
async fn a_dispute_naming_only_the_capture_is_matched() {
    let paypal = MockPayPal::start().await;
    let (server, _, receipt, _, order) = paypal_server(&paypal).await;
    let approved = paypal.approved_webhook(&order, unix_now());
    let (status, body) = server.post_webhook(approved.headers(), &approved.body).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("finalized")),
        "{body}"
    );
    // PayPal's PAYMENT.CAPTURE.COMPLETED follows the capture and names the capture id.
    let completed = paypal.capture_completed_webhook(&order, unix_now());
    let (status, body) = server.post_webhook(completed.headers(), &completed.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let capture = paypal.order(&order).and_then(|o| o.capture).expect("captured");
    let resource = serde_json::json!({
        "dispute_id": "PP-D-27803",
        "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
        "status": "OPEN",
        "dispute_life_cycle_stage": "INQUIRY",
        "dispute_amount": capture.amount,
        "disputed_transactions": [{
            "seller_transaction_id": capture.id,
            "seller": {"merchant_id": "RD465XN5VS364"},
            "seller_protection_eligible": true
        }],
        "links": [{"href": "https://api.paypal.com/v1/customer/disputes/PP-D-27803", "rel": "self", "method": "GET"}]
    });
    let dispute = paypal.webhook("CUSTOMER.DISPUTE.CREATED", "dispute", resource, unix_now());
    let (status, body) = server.post_webhook(dispute.headers(), &dispute.body).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("dispute_recorded")),
        "{body}"
    );
    assert_eq!(server.audit("payment.dispute", Some(receipt)).len(), 1);
}
