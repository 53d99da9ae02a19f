//! Refunds from the receipt page and disputes, with the default dummy provider, on both
//! backends: pay, refund half, refund the rest; bad amounts and over-refunds refused before any
//! provider call; 20 concurrent refunds never refund more than was paid; a refund made at the
//! provider and a dispute arrive as webhooks.

use payments_core::unix_now;
use payments_dummy::DummyProvider;
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::support::{location, Browser, Db, TestServer, WEBHOOK_SECRET};

/// Alice pays a receipt of THB 10.00 with the dummy provider: (receipt, payment id).
async fn paid_receipt(server: &TestServer) -> (i64, String) {
    server.add_user("alice", Role::User);
    server.add_usage("alice", "job-1", 10);
    let alice = Browser::login(server, "alice").await;
    let receipt = alice.create_receipt().await;
    alice.pay_now(receipt).await;
    let (payment, _) = server.payment_of(receipt);
    let resp = alice.simulate(&payment, "succeed").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    (receipt, payment)
}

fn refund_path(payment: &str) -> String {
    format!("/admin/payments/{payment}/refund")
}

fn steps(server: &TestServer, receipt: i64) -> Vec<String> {
    let mut steps: Vec<String> = server
        .audit("payment.refund", Some(receipt))
        .iter()
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.detail).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    steps.reverse();
    steps
}

async fn refund_half_then_the_rest(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    let (receipt, payment) = paid_receipt(&server).await;
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    let alice = Browser::login(&server, "alice").await;

    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains("id=\"refund-form\"") && page.contains("THB 10.00 of THB 10.00 can still be refunded"),
        "{page}"
    );
    assert!(!alice
        .get_text(&format!("/receipts/{receipt}"))
        .await
        .contains("refund-form"));
    // Only admins, only with the CSRF token.
    let resp = alice
        .submit(
            &refund_path(&payment),
            &[("amount", "5.00"), ("reason", "x"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = root
        .post_form(
            &refund_path(&payment),
            &[("amount", "5.00"), ("reason", "x"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Bad input is named on the confirmation page and nothing is stored, even with confirm=yes.
    for (amount, reason, says) in [
        ("5.001", "r", "more than 2 decimal places for THB"),
        ("five", "r", "not usable"),
        ("0", "r", "more than zero"),
        ("10.01", "r", "more than the THB 10.00 that remains"),
        ("5.00", " ", "give a reason"),
    ] {
        let resp = root
            .submit(
                &refund_path(&payment),
                &[("amount", amount), ("reason", reason), ("confirm", "yes")],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{amount:?}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(says), "{amount:?} {reason:?}: {body}");
    }
    assert!(server.store().refunds_for_receipt(receipt).unwrap().is_empty());

    // Review: a confirmation page, nothing refunded yet.
    let resp = root
        .submit(
            &refund_path(&payment),
            &[("amount", "5.00"), ("reason", "job 1 ran twice")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let confirm = resp.text().await.unwrap();
    assert!(
        confirm.contains("Refund <strong class=\"amount\">THB 5.00</strong>")
            && confirm.contains("confirm-refund"),
        "{confirm}"
    );
    assert!(server.store().refunds_for_receipt(receipt).unwrap().is_empty());

    // Confirm: refunded half.
    let token = root.review_refund(&payment, "5.00", "job 1 ran twice").await;
    let confirm_page = [
        ("amount", "5.00"),
        ("reason", "job 1 ran twice"),
        ("confirm", "yes"),
        ("request", token.as_str()),
    ];
    let resp = root.submit(&refund_path(&payment), &confirm_page).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = location(&resp);
    assert!(to.starts_with(&format!("/receipts/{receipt}?refund=")), "{to}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::PartiallyRefunded);
    let page = root.get_text(&to).await;
    assert!(
        page.contains("succeeded.")
            && page.contains("partially_refunded")
            && page.contains("job 1 ran twice"),
        "{page}"
    );
    assert!(page.contains("THB 5.00 of THB 10.00 can still be refunded"));
    // The same confirmation posted again (double click, Back and press again) makes no second
    // refund and says so.
    let resp = root.submit(&refund_path(&payment), &confirm_page).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let again = location(&resp);
    assert!(again.contains("again=1"), "{again}");
    let page = root.get_text(&again).await;
    assert!(
        page.contains("already submitted; no second refund was made"),
        "{page}"
    );
    assert_eq!(server.store().refunds_for_receipt(receipt).unwrap().len(), 1);
    // Without the page's token nothing is refunded.
    let resp = root
        .submit(
            &refund_path(&payment),
            &[("amount", "1.00"), ("reason", "no token"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.store().refunds_for_receipt(receipt).unwrap().len(), 1);

    // The rest: refunded.
    let resp = root.confirm_refund(&payment, "5", "the rest").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Refunded);
    let p = server.store().payment_by_public_id(&payment).unwrap().unwrap();
    assert_eq!((p.status.as_str(), p.refunded_minor), ("refunded", 1000));
    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(!page.contains("id=\"refund-form\""), "nothing left to refund");
    let resp = root
        .submit(
            &refund_path(&payment),
            &[("amount", "0.01"), ("reason", "more"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let refunds = server.store().refunds_for_receipt(receipt).unwrap();
    let keys: Vec<_> = refunds
        .iter()
        .map(|r| r.idempotency_key.clone().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            format!("pay:{payment}:refund:1"),
            format!("pay:{payment}:refund:2")
        ]
    );
    assert!(refunds
        .iter()
        .all(|r| r.status == "succeeded" && r.external_id.is_some()));
    assert_eq!(
        steps(&server, receipt),
        [
            "requested",
            "provider_answer",
            "settled",
            "requested",
            "provider_answer",
            "settled"
        ]
    );
    let audit = root.get_text("/admin/audit?action=payment.refund").await;
    assert!(
        audit.contains("provider_answer") && audit.contains("settled"),
        "the audit log shows every step"
    );
    let list = root.get_text("/admin/receipts?status=refunded").await;
    assert!(list.contains(&format!("#{receipt}")), "{list}");
}

crate::on_both_backends! {
    refund_half_then_the_rest: refund_half_then_the_rest_on_sqlite, refund_half_then_the_rest_on_postgres, "web_refund_half";
}

async fn twenty_concurrent_refunds(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    let (receipt, payment) = paid_receipt(&server).await;
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    let token = root.csrf().await;
    // 20 refunds of THB 1.00 at once on THB 10.00, each confirmed on its own page: exactly 10
    // can be made.
    let path = refund_path(&payment);
    let mut pages = Vec::new();
    for i in 0..20 {
        pages.push(root.review_refund(&payment, "1.00", &format!("race {i}")).await);
    }
    let handles: Vec<_> = pages
        .into_iter()
        .enumerate()
        .map(|(i, page)| {
            let (client, url, token) = (root.client.clone(), server.url(&path), token.clone());
            actix_web::rt::spawn(async move {
                let form = [
                    ("amount", "1.00".to_string()),
                    ("reason", format!("race {i}")),
                    ("confirm", "yes".to_string()),
                    ("request", page),
                    ("csrf_token", token),
                ];
                client.post(url).form(&form).send().await.expect("POST").status()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for h in handles {
        answers.push(h.await.expect("request task"));
    }
    let made = answers.iter().filter(|s| **s == StatusCode::SEE_OTHER).count();
    // Refused: more than remains (400), or nothing left at all (409).
    let refused = answers
        .iter()
        .filter(|s| [StatusCode::BAD_REQUEST, StatusCode::CONFLICT].contains(s))
        .count();
    eprintln!(
        "web refund race ({}): {made} refunded, {refused} refused",
        server.store().backend()
    );
    assert_eq!((made, refused), (10, 10), "{answers:?}");
    let refunds = server.store().refunds_for_receipt(receipt).unwrap();
    let total: i64 = refunds
        .iter()
        .filter(|r| r.status != "failed")
        .map(|r| r.amount_minor)
        .sum();
    assert_eq!(total, 1000);
    assert_eq!(refunds.len(), 10, "one refund per page that fitted");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Refunded);
}

crate::on_both_backends! {
    twenty_concurrent_refunds: twenty_concurrent_refunds_on_sqlite, twenty_concurrent_refunds_on_postgres, "web_refund_race";
}

/// A refund made at the provider (the dummy's "dashboard") and a dispute both arrive as signed
/// webhooks; they are recorded, shown and audited.
#[actix_web::test]
async fn provider_refunds_and_disputes_arrive_as_webhooks() {
    let server = TestServer::start().await;
    let (receipt, payment) = paid_receipt(&server).await;
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    let sim = root
        .get_text(&format!("/payments/simulate?payment={payment}"))
        .await;
    assert!(sim.contains("Refund at the provider"), "{sim}");
    let resp = root
        .submit(
            "/payments/simulate/refund",
            &[("payment", &payment), ("amount", "2.50")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::PartiallyRefunded);
    let refunds = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        (refunds[0].origin.as_str(), refunds[0].amount_minor),
        ("provider", 250)
    );

    let dummy = DummyProvider::new(WEBHOOK_SECRET, "http://127.0.0.1").unwrap();
    let amount = server.payment_of(receipt).1;
    let req = dummy
        .signed_webhook(
            "evt_dispute_1",
            payments_dummy::DISPUTE_EVENT,
            &payment,
            amount,
            unix_now(),
        )
        .unwrap();
    let (status, answer) = server.post_webhook(req.headers(), &req.body).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (StatusCode::OK, Some("dispute_recorded")),
        "{answer}"
    );
    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains("id=\"disputes\"") && page.contains("evt_dispute_1") && page.contains("at dummy"),
        "{page}"
    );
    let list = root.get_text("/admin/receipts").await;
    assert!(list.contains("status disputed"), "{list}");
    assert_eq!(server.audit("payment.dispute", Some(receipt)).len(), 1);
}
