//! Money moves exactly once and in step with Mollie, PayPal and Omise (their mocks on
//! 127.0.0.1), on both backends: Mollie refund rows follow Mollie's refund list, a Mollie refund
//! made after a lost `paid` webhook is kept when reconciliation finalizes, an id Mollie does not
//! know is answered 200; a PayPal capture the server made is learned, so a dispute naming it is
//! recorded; an Omise refund that never reached Omise is not sent again blindly.

use std::time::Duration;

use payments_app::reconcile::Reconciler;
use payments_core::conformance::AdapterFixture;
use payments_core::unix_now;
use payments_mollie::testing::{MockMollie, MollieFixture};
use payments_omise::testing::MockOmise;
use payments_paypal::testing::MockPayPal;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Browser, Db, OpenCheckout, TestServer};

/// A Mollie server on `db` with alice's open checkout of EUR/THB 25.00: (server, receipt,
/// payment id, Mollie's `tr_` id).
async fn mollie_checkout(fixture: &MollieFixture, db: Db) -> (TestServer, i64, String, String) {
    let vars = fixture.server_vars().expect("server vars");
    let c = OpenCheckout::start(db, "mollie", &vars, "alice", 25).await;
    (c.server, c.receipt, c.payment, c.external_id)
}

async fn mollie_webhook(server: &TestServer, tr: &str) -> (StatusCode, serde_json::Value) {
    let headers = vec![(
        "Content-Type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    server.post_webhook(&headers, &MockMollie::webhook_body(tr)).await
}

async fn mollie_rows_follow_the_list(db: Db) {
    let fixture = MollieFixture::start().await;
    let (server, receipt, payment, tr) = mollie_checkout(&fixture, db).await;
    fixture.mock.set_status(&tr, "paid");
    let (status, body) = mollie_webhook(&server, &tr).await;
    assert_eq!(
        (status, server.receipt_status(receipt)),
        (StatusCode::OK, ReceiptStatus::Paid),
        "{body}"
    );
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    let resp = root.confirm_refund(&payment, "10.00", "job ran twice").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!((rows.len(), rows[0].status.as_str()), (1, "pending"), "{rows:?}");
    // Mollie carries it out and says so in a webhook naming only the payment (totals only).
    let listed = fixture.mock.refunds_of(&tr);
    fixture.mock.set_refund_status(&listed[0].id, "refunded");
    let (status, body) = mollie_webhook(&server, &tr).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut row = server.store().refund(rows[0].id).unwrap().unwrap();
    for _ in 0..50 {
        if row.status == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        row = server.store().refund(rows[0].id).unwrap().unwrap();
    }
    assert_eq!(
        row.status, "succeeded",
        "settled from Mollie's refund list: {row:?}"
    );
    assert_eq!(
        server.store().refunds_for_receipt(receipt).unwrap().len(),
        1,
        "no refund counted twice"
    );
    // A second refund that Mollie cancels: reconciliation settles it and the amount is free.
    let resp = root.confirm_refund(&payment, "5.00", "second").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let listed = fixture.mock.refunds_of(&tr);
    fixture.mock.set_refund_status(&listed[1].id, "canceled");
    let reconciler = Reconciler::new(server.state.config.app.reconcile).unwrap();
    let report = reconciler
        .run_cycle(&server.state.app, unix_now() + 1000)
        .await
        .unwrap();
    assert!(report.refunds_settled >= 1, "{report}");
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
        ["succeeded", "canceled"],
        "{rows:?}"
    );
    let p = server.store().payment_by_public_id(&payment).unwrap().unwrap();
    assert_eq!(p.refunded_minor, 1000);
    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains("15.00 of") && page.contains("25.00 can still be refunded"),
        "{page}"
    );
}

async fn mollie_refund_after_lost_paid_webhook(db: Db) {
    let fixture = MollieFixture::start().await;
    let (server, receipt, payment, tr) = mollie_checkout(&fixture, db).await;
    // Paid, then 10.00 refunded in Mollie's dashboard; every webhook was lost.
    fixture.mock.set_status(&tr, "paid");
    fixture.mock.refund(&tr, 1000);
    let reconciler = Reconciler::new(server.state.config.app.reconcile).unwrap();
    let report = reconciler
        .run_cycle(&server.state.app, unix_now() + 1000)
        .await
        .unwrap();
    assert_eq!(report.finalized, 1, "{report}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::PartiallyRefunded);
    let p = server.store().payment_by_public_id(&payment).unwrap().unwrap();
    assert_eq!(p.refunded_minor, 1000, "Mollie says 10.00 went back");
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!(rows.iter().map(|r| r.amount_minor).sum::<i64>(), 1000, "{rows:?}");
}

async fn paypal_capture_is_learned(db: Db) {
    let paypal = MockPayPal::start().await;
    let OpenCheckout {
        server,
        receipt,
        payment,
        external_id: order,
    } = OpenCheckout::start(db, "paypal", &paypal.env_vars(), "carol", 7).await;
    // The server captures on approval: the capture id is its own, learned from its answer.
    let approved = paypal.approved_webhook(&order, unix_now());
    let (status, body) = server.post_webhook(approved.headers(), &approved.body).await;
    assert_eq!(
        (status, server.receipt_status(receipt)),
        (StatusCode::OK, ReceiptStatus::Paid),
        "{body}"
    );
    let order_json = paypal.order_json(&order).unwrap();
    let capture = order_json["purchase_units"][0]["payments"]["captures"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = server.store().payment_by_public_id(&payment).unwrap().unwrap().id;
    assert!(server.store().payment_references(id).unwrap().contains(&capture));
    // A dispute names only the capture.
    let dispute = paypal.webhook(
        "CUSTOMER.DISPUTE.CREATED",
        "dispute",
        json!({"dispute_id": "PP-D-1", "status": "OPEN", "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
               "disputed_transactions": [{"seller_transaction_id": capture}],
               "dispute_amount": {"currency_code": "THB", "value": "7.00"}}),
        unix_now(),
    );
    let (status, body) = server.post_webhook(dispute.headers(), &dispute.body).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("dispute_recorded")),
        "{body}"
    );
    assert_eq!(server.store().disputes_for_receipt(receipt).unwrap().len(), 1);
}

crate::on_both_backends! {
    mollie_rows_follow_the_list: mollie_refund_rows_follow_its_refund_list_on_sqlite, mollie_refund_rows_follow_its_refund_list_on_postgres, "web_mollie_rows";
    mollie_refund_after_lost_paid_webhook: a_mollie_refund_after_a_lost_paid_webhook_is_kept_by_reconciliation_on_sqlite, a_mollie_refund_after_a_lost_paid_webhook_is_kept_by_reconciliation_on_postgres, "web_mollie_lost_paid";
    paypal_capture_is_learned: a_dispute_naming_a_capture_the_server_made_is_recorded_on_sqlite, a_dispute_naming_a_capture_the_server_made_is_recorded_on_postgres, "web_paypal_capture_ref";
    mollie_unknown_id: an_id_mollie_does_not_know_is_answered_200_and_changes_nothing_on_sqlite, an_id_mollie_does_not_know_is_answered_200_and_changes_nothing_on_postgres, "web_mollie_unknown_id";
    omise_never_blindly: an_omise_refund_is_never_sent_again_blindly_on_sqlite, an_omise_refund_is_never_sent_again_blindly_on_postgres, "web_omise_never_blindly";
}

async fn mollie_unknown_id(db: Db) {
    let fixture = MollieFixture::start().await;
    let (server, receipt, _, _) = mollie_checkout(&fixture, db).await;
    let (status, body) = mollie_webhook(&server, "tr_unknown0000").await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("unknown_id_ignored")),
        "{body}"
    );
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
}

/// Omise takes no idempotency key: a refund whose call never reached Omise is not sent again at
/// once (a call still under way could land); Retry asks first and says to wait.
async fn omise_never_blindly(db: Db) {
    let omise = MockOmise::start().await;
    let env = omise.env_vars();
    let vars: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let OpenCheckout {
        server,
        receipt,
        payment,
        external_id: charge,
    } = OpenCheckout::start(db, "omise", &vars, "somchai", 25).await;
    omise.set_charge_status(&charge, "successful");
    let hook = omise.signed_charge_complete(&charge, unix_now());
    let (status, body) = server.post_webhook(hook.headers(), &hook.body).await;
    assert_eq!(
        (status, server.receipt_status(receipt)),
        (StatusCode::OK, ReceiptStatus::Paid),
        "{body}"
    );
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    omise.fail_next("POST", &format!("/charges/{charge}/refunds"), 503, 10);
    let resp = root.confirm_refund(&payment, "10.00", "double charge").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!(rows[0].status, "requested", "{rows:?}");
    let resp = root
        .submit(&format!("/admin/refunds/{}/retry", rows[0].id), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let said = resp.text().await.unwrap();
    assert!(
        said.contains("takes no idempotency key") && said.contains("wait a minute"),
        "{said}"
    );
    assert!(omise.refunds_of(&charge).is_empty(), "nothing sent again");
    // The admin checks Omise's dashboard and records what they found.
    let resp = root
        .submit(
            &format!("/admin/refunds/{}/record", rows[0].id),
            &[
                ("outcome", "failed"),
                ("note", "not in Omise's dashboard at 10:02"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let row = server.store().refund(rows[0].id).unwrap().unwrap();
    assert_eq!(row.status, "failed");
    assert!(server
        .audit("payment.refund", Some(receipt))
        .iter()
        .any(|e| e.detail.contains("recorded_by_admin")));
}
