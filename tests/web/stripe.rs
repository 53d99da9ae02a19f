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

/// A dispute on a paid Stripe checkout names the PaymentIntent (and a charge we never saw), not
/// the Checkout Session, and carries empty metadata (Stripe's published `charge.dispute.created`
/// sample): it is matched through the PaymentIntent recorded from `checkout.session.completed`,
/// answered 200 and audited as disputed on the receipt.
#[actix_web::test]
async fn a_dispute_naming_only_the_payment_intent_is_matched() {
    let stripe = MockStripe::start().await;
    let server = stripe_server(&stripe).await;
    server.add_usage("alice", "j1", 12);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    alice.pay_now(receipt).await;
    let (payment, amount) = server.payment_of(receipt);
    let session_id = stripe.session_for_payment(&payment).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hook = stripe.signed_checkout_completed(&session_id, &payment, amount, unix_now());
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    let completed: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    let intent = completed["data"]["object"]["payment_intent"]
        .as_str()
        .expect("a paid session names its PaymentIntent")
        .to_string();
    assert!(intent.starts_with("pi_"), "{intent}");

    // Shaped like Stripe's published charge.dispute.created sample.
    let dispute = serde_json::json!({
        "id": "dp_1MtJUT2eZvKYlo2CNaw2HvEv",
        "object": "dispute",
        "amount": 1200,
        "balance_transactions": [],
        "charge": "ch_1AZtxr2eZvKYlo2CJDX8whov",
        "created": 1680651737,
        "currency": "thb",
        "evidence": {"customer_name": null, "product_description": null, "uncategorized_text": null},
        "evidence_details": {"due_by": 1682294399, "has_evidence": false, "past_due": false, "submission_count": 0},
        "is_charge_refundable": true,
        "livemode": false,
        "metadata": {},
        "payment_intent": intent,
        "payment_method_details": {"card": {"brand": "visa", "network_reason_code": "10.4"}, "type": "card"},
        "reason": "general",
        "status": "warning_needs_response"
    });
    let hook = stripe.signed_event("charge.dispute.created", dispute, unix_now());
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["result"], "unmatched", "{body}");
    let audited = server.audit("payment.webhook", Some(receipt));
    assert!(
        audited.iter().any(
            |e| e.detail.contains("charge.dispute.created") && e.detail.contains("\"kind\":\"disputed\"")
        ),
        "the dispute is audited on the receipt: {audited:?}"
    );
    let payment_row = server.store().payment_by_public_id(&payment).unwrap().unwrap();
    let references = server.store().payment_references(payment_row.id).unwrap();
    for id in [
        session_id.as_str(),
        intent.as_str(),
        "ch_1AZtxr2eZvKYlo2CJDX8whov",
    ] {
        assert!(references.iter().any(|r| r == id), "{id} in {references:?}");
    }
}
