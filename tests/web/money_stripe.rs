//! Money moves exactly once and in step with Stripe (mock Stripe on 127.0.0.1), on both
//! backends: one refund per confirmation page however often it is posted, a refund that fails
//! later gives its amount back, ids learned by reconciliation match a later dispute, a refund
//! that arrives before the payment's success is applied when it arrives, an abandoned checkout is
//! expired at Stripe before here, a lifetime below Stripe's minimum is refused at start-up, and
//! the Stripe-Signature header is read as Stripe's own libraries read it.

use payments_app::reconcile::Reconciler;
use payments_core::unix_now;
use payments_store::{ReceiptStatus, Role};
use payments_stripe::testing::MockStripe;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{location, Browser, Db, OpenCheckout, TestServer};

/// A server on `db` running Stripe against `stripe`, with alice's receipt of THB 25.00 whose
/// checkout is open at the mock: (server, receipt, payment id, session id).
async fn open_checkout(
    stripe: &MockStripe,
    db: Db,
    extra: &[(&'static str, String)],
) -> (TestServer, i64, String, String) {
    let mut vars: Vec<(&str, String)> = stripe.env_vars();
    vars.extend(extra.iter().cloned());
    let c = OpenCheckout::start(db, "stripe", &vars, "alice", 25).await;
    (c.server, c.receipt, c.payment, c.external_id)
}

/// [`open_checkout`], paid at Stripe and by its webhook; and a logged-in admin.
async fn paid(stripe: &MockStripe, db: Db) -> (TestServer, Browser, i64, String, String) {
    let (server, receipt, payment, session) = open_checkout(stripe, db, &[]).await;
    stripe.complete_session(&session).expect("paid at the mock");
    let (_, amount) = server.payment_of(receipt);
    let hook = stripe.signed_checkout_completed(&session, &payment, amount, unix_now());
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(
        (status, server.receipt_status(receipt)),
        (StatusCode::OK, ReceiptStatus::Paid),
        "{body}"
    );
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    (server, root, receipt, payment, session)
}

async fn fifty_posts_of_one_page(db: Db) {
    let stripe = MockStripe::start().await;
    let (server, root, receipt, payment, session) = paid(&stripe, db).await;
    let page = root.review_refund(&payment, "10.00", "job ran twice").await;
    let csrf = root.csrf().await;
    let url = server.url(&format!("/admin/payments/{payment}/refund"));
    let posts: Vec<_> = (0..50)
        .map(|_| {
            let (client, url, page, csrf) = (root.client.clone(), url.clone(), page.clone(), csrf.clone());
            actix_web::rt::spawn(async move {
                let form = [
                    ("amount", "10.00"),
                    ("reason", "job ran twice"),
                    ("confirm", "yes"),
                    ("request", page.as_str()),
                    ("csrf_token", csrf.as_str()),
                ];
                let resp = client.post(url).form(&form).send().await.expect("POST");
                (resp.status(), location(&resp))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for p in posts {
        answers.push(p.await.expect("post"));
    }
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::SEE_OTHER),
        "every post is answered with the refund: {answers:?}"
    );
    let first: Vec<_> = answers.iter().filter(|(_, to)| !to.contains("again=1")).collect();
    assert_eq!(
        first.len(),
        1,
        "one post made it, the others were told: {answers:?}"
    );
    assert_eq!(
        stripe.refunds_of(&session).len(),
        1,
        "exactly one refund at Stripe"
    );
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::PartiallyRefunded);
}

async fn a_failed_refund_is_given_back(db: Db) {
    let stripe = MockStripe::start().await;
    let (server, root, receipt, payment, session) = paid(&stripe, db).await;
    let resp = root.confirm_refund(&payment, "10.00", "job ran twice").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let refund_id = stripe.refunds_of(&session)[0]["id"].as_str().unwrap().to_string();
    // Stripe: pending first, then failed; its charge's total goes back down.
    stripe.set_refund_status(&refund_id, "pending");
    stripe.set_refund_status(&refund_id, "failed");
    let updated = stripe.signed_refund_updated(&refund_id, unix_now()).unwrap();
    let (status, body) = server.post_webhook(&updated.headers(), &updated.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refunded = stripe.signed_charge_refunded(&session, unix_now()).unwrap();
    let (status, body) = server.post_webhook(&refunded.headers(), &refunded.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!((rows.len(), rows[0].status.as_str()), (1, "failed"), "{rows:?}");
    let p = server.store().payment_by_public_id(&payment).unwrap().unwrap();
    assert_eq!((p.refunded_minor, p.status.as_str()), (0, "succeeded"));
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains("THB 25.00 of THB 25.00 can still be refunded"),
        "{page}"
    );
    // What the customer is really owed can be refunded.
    let resp = root.confirm_refund(&payment, "25.00", "again, in full").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Refunded);
    let steps = server.audit("payment.refund", Some(receipt));
    assert!(
        steps.iter().any(|e| e.detail.contains("\"status\":\"failed\"")),
        "the failure is audited"
    );
}

async fn reconciliation_learns_the_payment_intent(db: Db) {
    let stripe = MockStripe::start().await;
    let (server, receipt, payment, session) = open_checkout(&stripe, db, &[]).await;
    stripe.complete_session(&session).expect("paid at the mock");
    // The success webhook never comes: reconciliation finalizes from a look-up.
    let reconciler = Reconciler::new(server.state.config.app.reconcile).unwrap();
    let report = reconciler
        .run_cycle(&server.state.app, unix_now() + 1000)
        .await
        .unwrap();
    assert_eq!(report.finalized, 1, "{report}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
    let pi = stripe.payment_intent_of(&session).expect("a PaymentIntent");
    let charge = stripe.charge(&session).expect("a charge")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = server.store().payment_by_public_id(&payment).unwrap().unwrap().id;
    let known = server.store().payment_references(id).unwrap();
    assert!(known.contains(&pi) && known.contains(&charge), "{known:?}");
    // A dispute names only the PaymentIntent and the charge: matched, recorded.
    let dispute = stripe.signed_event(
        "charge.dispute.created",
        json!({"id": "dp_1", "object": "dispute", "amount": 2500, "currency": "thb",
               "charge": charge, "payment_intent": pi, "status": "needs_response"}),
        unix_now(),
    );
    let (status, body) = server.post_webhook(&dispute.headers(), &dispute.body).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("dispute_recorded")),
        "{body}"
    );
    // A refund made in Stripe's dashboard, named by its charge only, is recorded too.
    stripe
        .refund_in_dashboard(&session, Some(500))
        .expect("dashboard refund");
    let refunded = stripe.signed_charge_refunded(&session, unix_now()).unwrap();
    let (status, body) = server.post_webhook(&refunded.headers(), &refunded.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        server.receipt_status(receipt),
        ReceiptStatus::PartiallyRefunded,
        "{body}"
    );
}

async fn an_early_refund_is_applied_at_finalize(db: Db) {
    let stripe = MockStripe::start().await;
    let (server, receipt, payment, session) = open_checkout(&stripe, db, &[]).await;
    stripe.complete_session(&session).expect("paid at the mock");
    stripe
        .refund_in_dashboard(&session, Some(500))
        .expect("dashboard refund");
    // charge.refunded arrives before checkout.session.completed.
    let refunded = stripe.signed_charge_refunded(&session, unix_now()).unwrap();
    let (status, body) = server.post_webhook(&refunded.headers(), &refunded.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    let (_, amount) = server.payment_of(receipt);
    let hook = stripe.signed_checkout_completed(&session, &payment, amount, unix_now());
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::PartiallyRefunded);
    let p = server.store().payment_by_public_id(&payment).unwrap().unwrap();
    assert_eq!(p.refunded_minor, 500);
}

async fn abandoned_checkouts_are_expired_at_stripe_first(db: Db) {
    let stripe = MockStripe::start().await;
    let lifetime = [("CHECKOUT_LIFETIME_SECS", "1800".to_string())];
    let (server, receipt, payment, session) = open_checkout(&stripe, db, &lifetime).await;
    let reconciler = Reconciler::new(server.state.config.app.reconcile).unwrap();
    let report = reconciler
        .run_cycle(&server.state.app, unix_now() + 4000)
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "{report}");
    assert_eq!(
        stripe.session(&session).unwrap()["status"],
        "expired",
        "expired at Stripe"
    );
    let p = server.store().payment_by_public_id(&payment).unwrap().unwrap();
    assert_eq!(p.status, "expired");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    // One paid at Stripe before it could be expired is finalized, never expired.
    let alice = Browser::login(&server, "alice").await;
    alice.pay_now(receipt).await;
    let (second, _) = server.payment_of(receipt);
    let session = stripe.session_for_payment(&second).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    stripe.complete_session(&session).unwrap();
    let report = reconciler
        .run_cycle(&server.state.app, unix_now() + 4000)
        .await
        .unwrap();
    assert_eq!((report.finalized, report.expired), (1, 0), "{report}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
}

async fn a_second_payment_is_flagged_and_refundable(db: Db) {
    let stripe = MockStripe::start().await;
    let (server, receipt, first, first_session) = open_checkout(&stripe, db, &[]).await;
    // The first checkout is closed here (e.g. by an older server that expired it before Stripe
    // did) while Stripe still accepts it; a second checkout pays the receipt.
    assert!(server
        .store()
        .close_payment(
            &first,
            payments_store::PaymentState::Expired,
            "reconcile",
            "abandoned"
        )
        .unwrap());
    let alice = Browser::login(&server, "alice").await;
    alice.pay_now(receipt).await;
    let (second, amount) = server.payment_of(receipt);
    assert_ne!(first, second);
    let second_session = stripe.session_for_payment(&second).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    stripe.complete_session(&second_session).unwrap();
    let hook = stripe.signed_checkout_completed(&second_session, &second, amount, unix_now());
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(
        (status, server.receipt_status(receipt)),
        (StatusCode::OK, ReceiptStatus::Paid),
        "{body}"
    );
    // Then the payer completes the first checkout too.
    stripe.complete_session(&first_session).unwrap();
    let hook = stripe.signed_checkout_completed(&first_session, &first, amount, unix_now());
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kept = server.store().payment_by_public_id(&first).unwrap().unwrap();
    assert_eq!((kept.status.as_str(), kept.second_payment), ("succeeded", true));
    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(page.contains(&format!("id=\"paid-twice-{first}\"")), "{page}");
    let list = root.get_text("/admin/receipts").await;
    assert!(list.contains("paid twice"), "{list}");
    let finalize = server.audit("payment.finalize", Some(receipt));
    assert!(
        finalize
            .iter()
            .any(|e| e.detail.contains("\"second_payment\":true")),
        "audited"
    );
    // Refunded in full from the receipt page; the receipt stays paid by the other payment.
    let resp = root.confirm_refund(&first, "25.00", "paid twice").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(stripe.refunds_of(&first_session).len(), 1);
    let kept = server.store().payment_by_public_id(&first).unwrap().unwrap();
    assert_eq!((kept.status.as_str(), kept.refunded_minor), ("refunded", 2500));
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
}

async fn a_refund_that_never_reached_stripe(db: Db) {
    use payments_core::mock::Fault;
    let stripe = MockStripe::start().await;
    let (server, root, receipt, payment, session) = paid(&stripe, db).await;
    // Stripe never gets the refund (every attempt of the retry policy meets a 503).
    stripe.inject_fault("POST", "/v1/refunds", Fault::Status(503), 3);
    let resp = root.confirm_refund(&payment, "5.00", "first try").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!(
        (rows[0].status.as_str(), stripe.refunds_of(&session).len()),
        ("requested", 0)
    );
    // Retry while Stripe still honours the key: asked first, not there, sent again: one refund.
    let resp = root
        .submit(&format!("/admin/refunds/{}/retry", rows[0].id), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        server.store().refund(rows[0].id).unwrap().unwrap().status,
        "succeeded"
    );
    assert_eq!(stripe.refunds_of(&session).len(), 1);

    // The same, but Retry comes a day later: Stripe has forgotten the key, so the refund is not
    // sent again; the admin is told to check and records what the dashboard shows.
    stripe.inject_fault("POST", "/v1/refunds", Fault::Status(503), 3);
    let resp = root.confirm_refund(&payment, "5.00", "second try").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let late = server.store().refunds_for_receipt(receipt).unwrap()[1].clone();
    assert_eq!(late.status, "requested");
    server
        .store()
        .execute_sql_for_tests(&format!(
            "UPDATE refunds SET created_at = created_at - 90000, updated_at = updated_at - 90000 WHERE id = {}",
            late.id
        ))
        .unwrap();
    let resp = root
        .submit(&format!("/admin/refunds/{}/retry", late.id), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let said = resp.text().await.unwrap();
    assert!(said.contains("no longer honours its idempotency key"), "{said}");
    assert_eq!(stripe.refunds_of(&session).len(), 1, "nothing sent again");
    let resp = root
        .submit(
            &format!("/admin/refunds/{}/record", late.id),
            &[("outcome", "failed"), ("note", "not in Stripe's dashboard")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains("THB 20.00 of THB 25.00 can still be refunded"),
        "{page}"
    );
}

crate::on_both_backends! {
    stripe_signature_shapes: the_stripe_signature_header_is_read_as_stripes_libraries_read_it_on_sqlite, the_stripe_signature_header_is_read_as_stripes_libraries_read_it_on_postgres, "web_stripe_signature";
    a_refund_that_never_reached_stripe: a_refund_that_never_reached_stripe_is_sent_again_only_while_its_key_lives_on_sqlite, a_refund_that_never_reached_stripe_is_sent_again_only_while_its_key_lives_on_postgres, "web_stripe_never_reached";
    a_second_payment_is_flagged_and_refundable: a_second_payment_for_a_paid_receipt_is_flagged_and_refundable_on_sqlite, a_second_payment_for_a_paid_receipt_is_flagged_and_refundable_on_postgres, "web_stripe_second_payment";
    fifty_posts_of_one_page: fifty_posts_of_one_confirmation_page_make_one_refund_at_stripe_on_sqlite, fifty_posts_of_one_confirmation_page_make_one_refund_at_stripe_on_postgres, "web_stripe_fifty";
    a_failed_refund_is_given_back: a_stripe_refund_that_fails_later_is_given_back_on_sqlite, a_stripe_refund_that_fails_later_is_given_back_on_postgres, "web_stripe_failed_refund";
    reconciliation_learns_the_payment_intent: ids_learned_by_reconciliation_match_a_later_dispute_on_sqlite, ids_learned_by_reconciliation_match_a_later_dispute_on_postgres, "web_stripe_references";
    an_early_refund_is_applied_at_finalize: a_refund_before_the_success_event_is_applied_at_finalize_on_sqlite, a_refund_before_the_success_event_is_applied_at_finalize_on_postgres, "web_stripe_early_refund";
    abandoned_checkouts_are_expired_at_stripe_first: abandoned_checkouts_are_expired_at_stripe_first_on_sqlite, abandoned_checkouts_are_expired_at_stripe_first_on_postgres, "web_stripe_expire";
}

#[test]
fn a_checkout_lifetime_below_stripes_minimum_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_web"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PAYMENT_PROVIDER", "stripe")
        .env("STRIPE_SECRET_KEY", "sk_test_start_up")
        .env("STRIPE_WEBHOOK_SECRET", "whsec_start_up_0123456789")
        .env(
            "SESSION_SECRET",
            "9f2c4e71a0b83d56e1f7c2a94b06d38e5c71f0a2b9d4e6c83a15f07b92d4c6e1",
        )
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("CHECKOUT_LIFETIME_SECS", "1000")
        .output()
        .expect("run web");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("CHECKOUT_LIFETIME_SECS=1000") && stderr.contains("minimum of 1800 seconds"),
        "{stderr}"
    );
    assert!(!dir.path().join("payments.db").exists(), "nothing was written");
}

/// Stripe-Signature edge shapes, as Stripe's libraries read them: a trailing comma and an
/// unknown bare item are accepted, a space after a comma and upper-case hex are refused, and a
/// timestamp a little ahead of our clock (ours runs behind) is accepted.
async fn stripe_signature_shapes(db: Db) {
    let stripe = MockStripe::start().await;
    let (server, receipt, payment, session) = open_checkout(&stripe, db, &[]).await;
    stripe.complete_session(&session).unwrap();
    let (_, amount) = server.payment_of(receipt);
    let hook = stripe.signed_checkout_completed(&session, &payment, amount, unix_now() + 30);
    let header = hook
        .headers()
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("stripe-signature"))
        .unwrap()
        .1;
    let with = |value: String| {
        vec![
            ("Stripe-Signature".to_string(), value),
            ("Content-Type".into(), "application/json".into()),
        ]
    };
    let (t, v1) = header.split_once(',').unwrap();
    for refused in [
        format!("{t}, {v1}"),
        format!("{t},{}", v1.to_uppercase().replace("V1=", "v1=")),
    ] {
        let (status, body) = server.post_webhook(&with(refused.clone()), &hook.body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}: {body}");
    }
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Unpaid);
    let accepted = format!("{t},{v1},,flag");
    let (status, body) = server.post_webhook(&with(accepted), &hook.body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid);
}
