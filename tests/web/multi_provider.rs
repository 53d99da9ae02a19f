//! Several providers at once (`PAYMENT_PROVIDERS=dummy,stripe,paypal`), each against its own
//! mock on 127.0.0.1: the payer chooses; each provider's webhooks go to its own URL; an event
//! posted to another provider's URL is refused and changes nothing; refunds and reconciliation
//! reach the payment's own provider; the bare webhook URL is 404 naming the others.

#![cfg(all(feature = "stripe", feature = "paypal", feature = "dummy"))]

use payments_core::unix_now;
use payments_paypal::testing::MockPayPal;
use payments_store::{ReceiptStatus, Role};
use payments_stripe::testing::MockStripe;
use reqwest::StatusCode;

use crate::support::{Browser, Db, TestServer};

async fn three_providers(
    db: Db,
    stripe: &MockStripe,
    paypal: &MockPayPal,
    extra: &[(&str, String)],
) -> TestServer {
    let mut vars: Vec<(&str, String)> = stripe.env_vars();
    vars.extend(paypal.env_vars());
    vars.push(("PAYMENT_PROVIDERS", "dummy,stripe,paypal".into()));
    vars.extend(extra.iter().cloned());
    let server = TestServer::start_with(db, &vars).await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server
}

/// A fresh receipt of alice's worth `hours` THB.
async fn receipt(server: &TestServer, alice: &Browser, job: &str, hours: i64) -> i64 {
    server.add_usage("alice", job, hours);
    alice.create_receipt().await
}

crate::on_both_backends! {
    three_on: each_provider_is_chosen_paid_refunded_and_reconciled_through_its_own_url, three_on_postgres, "web_three_providers";
}

async fn three_on(db: Db) {
    let stripe = MockStripe::start().await;
    let paypal = MockPayPal::start().await;
    let server = three_providers(db, &stripe, &paypal, &[]).await;
    let alice = Browser::login(&server, "alice").await;
    let root = Browser::login(&server, "root").await;

    // The payer chooses among the three.
    let by_stripe = receipt(&server, &alice, "s1", 20).await;
    let page = alice.get_text(&format!("/receipts/{by_stripe}")).await;
    for (value, label) in [
        ("dummy", "the dummy provider"),
        ("stripe", "Stripe"),
        ("paypal", "PayPal"),
    ] {
        assert!(
            page.contains(&format!(
                "name=\"provider\" value=\"{value}\">Pay with {label}</button>"
            )),
            "{value}: {page}"
        );
    }
    assert!(!page.contains(">Pay now<"), "a choice, not one Pay now");
    // Without a choice: a clear 400.
    let resp = alice
        .submit(&format!("/payments/receipts/{by_stripe}/start"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().await.unwrap();
    assert!(text.contains("hoose how to pay receipt"), "{text}");

    // Stripe: its checkout, its webhook at its own URL.
    let checkout = alice.pay_with(by_stripe, Some("stripe")).await;
    assert!(checkout.starts_with(&stripe.uri()), "{checkout}");
    let (stripe_payment, amount) = server.payment_of(by_stripe);
    let session = stripe.session_for_payment(&stripe_payment).expect("session")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hook = stripe.signed_checkout_completed(&session, &stripe_payment, amount, unix_now());
    // Posted to PayPal's URL first: refused there, nothing changes.
    let (status, body) = server
        .post_webhook_at("/payments/webhook/paypal", &hook.headers(), &hook.body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(server.receipt_status(by_stripe), ReceiptStatus::Unpaid);
    let refused = server.audit("payment.webhook", None);
    assert!(
        refused
            .iter()
            .any(|e| e.actor == "provider:paypal" && e.detail.contains("\"outcome\":\"refused\"")),
        "audited as a refusal at PayPal's URL: {refused:?}"
    );
    // The bare URL names the per-provider ones.
    let (status, body) = server.post_webhook(&hook.headers(), &hook.body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    for name in ["dummy", "stripe", "paypal"] {
        assert!(
            message.contains(&format!("/payments/webhook/{name}")),
            "{message}"
        );
    }
    assert_eq!(server.receipt_status(by_stripe), ReceiptStatus::Unpaid);
    let (status, body) = server
        .post_webhook_at("/payments/webhook/stripe", &hook.headers(), &hook.body)
        .await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("finalized")),
        "{body}"
    );
    assert_eq!(server.receipt_status(by_stripe), ReceiptStatus::Paid);

    // PayPal: chosen after a Stripe checkout was opened for the same receipt, which is
    // abandoned (closed here, audited); then approved and captured through PayPal's URL.
    let by_paypal = receipt(&server, &alice, "p1", 30).await;
    alice.pay_with(by_paypal, Some("stripe")).await;
    let (first, _) = server.payment_of(by_paypal);
    let checkout = alice.pay_with(by_paypal, Some("paypal")).await;
    assert!(checkout.starts_with(&paypal.uri()), "{checkout}");
    let payments = server.store().payments_for_receipt(by_paypal).unwrap();
    let abandoned = payments.iter().find(|p| p.public_id == first).unwrap();
    assert_eq!(
        (abandoned.provider.as_str(), abandoned.status.as_str()),
        ("stripe", "canceled")
    );
    let closes = server.audit("payment.close", Some(by_paypal));
    assert!(
        closes.iter().any(|e| e.detail.contains("the payer chose paypal")),
        "{closes:?}"
    );
    let paypal_payment = payments
        .iter()
        .find(|p| p.provider == "paypal")
        .unwrap()
        .public_id
        .clone();
    let order = paypal.order_id_for_payment(&paypal_payment).expect("order");
    let approved = paypal.approved_webhook(&order, unix_now());
    let (status, body) = server
        .post_webhook_at("/payments/webhook/paypal", approved.headers(), &approved.body)
        .await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("finalized")),
        "{body}"
    );
    assert_eq!(server.receipt_status(by_paypal), ReceiptStatus::Paid);
    // The payer completes the abandoned Stripe checkout after all: kept as a second payment,
    // flagged for a refund, never lost.
    let (_, amount_p) = server.payment_of(by_paypal);
    let late_session = stripe.session_for_payment(&first).expect("the abandoned session")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let late = stripe.signed_checkout_completed(&late_session, &first, amount_p, unix_now());
    let (status, body) = server
        .post_webhook_at("/payments/webhook/stripe", &late.headers(), &late.body)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let late_row = server.store().payment_by_public_id(&first).unwrap().unwrap();
    assert!(late_row.second_payment, "{late_row:?}");
    let page = root.get_text(&format!("/receipts/{by_paypal}")).await;
    assert!(page.contains(&format!("id=\"paid-twice-{first}\"")), "{page}");

    // Dummy: its own page.
    let by_dummy = receipt(&server, &alice, "d1", 5).await;
    let checkout = alice.pay_with(by_dummy, Some("dummy")).await;
    let dummy_payment = checkout.rsplit('=').next().unwrap().to_string();
    assert_eq!(
        alice.simulate(&dummy_payment, "succeed").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(server.receipt_status(by_dummy), ReceiptStatus::Paid);

    // Refunds go to each payment's own provider.
    let resp = root.confirm_refund(&stripe_payment, "3.00", "stripe part").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let pi = stripe.payment_intent_of(&session).expect("the PaymentIntent");
    assert_eq!(stripe.refunds_of(&pi).len(), 1, "the refund reached Stripe");
    assert!(paypal.refunds().is_empty(), "and not PayPal");
    let resp = root.confirm_refund(&paypal_payment, "4.00", "paypal part").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(paypal.refunds_of(&order).len(), 1, "the refund reached PayPal");
    assert_eq!(stripe.refunds_of(&pi).len(), 1);
    assert_eq!(server.receipt_status(by_stripe), ReceiptStatus::PartiallyRefunded);
    assert_eq!(server.receipt_status(by_paypal), ReceiptStatus::PartiallyRefunded);

    // Reconciliation looks an open payment up at its own provider.
    let open_stripe = receipt(&server, &alice, "s2", 15).await;
    alice.pay_with(open_stripe, Some("stripe")).await;
    let open_paypal = receipt(&server, &alice, "p2", 16).await;
    alice.pay_with(open_paypal, Some("paypal")).await;
    let (s2, _) = server.payment_of(open_stripe);
    let s2_session = stripe.session_for_payment(&s2).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    stripe.complete_session(&s2_session);
    let (p2, _) = server.payment_of(open_paypal);
    paypal.approve_payment(&p2).expect("approved at the mock");
    let stripe_before = stripe.api_requests().await.len();
    let paypal_before = paypal.received().await.len();
    let reconciler = payments_app::reconcile::Reconciler::new(server.state.config.app.reconcile).unwrap();
    let report = reconciler
        .run_cycle(&server.state.app, unix_now() + 1_000)
        .await
        .unwrap();
    assert_eq!(report.errors, 0, "{report}");
    assert_eq!(
        server.receipt_status(open_stripe),
        ReceiptStatus::Paid,
        "{report}"
    );
    assert_eq!(
        server.receipt_status(open_paypal),
        ReceiptStatus::Paid,
        "{report}"
    );
    let stripe_after = stripe.api_requests().await;
    let paypal_after = paypal.received().await;
    assert!(
        stripe_after[stripe_before..]
            .iter()
            .any(|r| r.url.path() == format!("/v1/checkout/sessions/{s2_session}")),
        "Stripe was asked about its session"
    );
    assert!(
        paypal_after[paypal_before..]
            .iter()
            .any(|r| r.url.path().contains("/v2/checkout/orders/")),
        "PayPal was asked about its order"
    );

    // Admins filter by provider; the CSV names it.
    let list = root.get_text("/admin/receipts?provider=paypal").await;
    assert!(list.contains(&format!("#{by_paypal}<")) && list.contains(&format!("#{open_paypal}<")));
    assert!(!list.contains(&format!("#{by_dummy}<")), "{list}");
    let csv = root.get_text("/admin/receipts.csv").await;
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{by_stripe},")) && l.contains(",stripe,")),
        "{csv}"
    );
    // The footer names every provider.
    assert!(list.contains("Payments through <strong>the dummy provider, Stripe and PayPal</strong>"));
}

/// With a currency rule only the providers it names are offered, in its order, and a provider
/// that cannot take the amount is not offered; admins see why.
#[actix_web::test]
async fn routing_and_amount_limits_decide_what_is_offered() {
    let stripe = MockStripe::start().await;
    let paypal = MockPayPal::start().await;
    let server = three_providers(
        Db::Sqlite,
        &stripe,
        &paypal,
        &[("PAYMENT_ROUTING", "THB:paypal,THB:stripe".into())],
    )
    .await;
    let alice = Browser::login(&server, "alice").await;
    let root = Browser::login(&server, "root").await;
    // THB 5.00: below Stripe's THB 10.00 minimum; the rule leaves the dummy out.
    let small = receipt(&server, &alice, "small", 5).await;
    let page = alice.get_text(&format!("/receipts/{small}")).await;
    assert!(
        page.contains("value=\"paypal\">Pay now</button>"),
        "only PayPal: {page}"
    );
    assert!(
        !page.contains("value=\"stripe\"") && !page.contains("value=\"dummy\""),
        "{page}"
    );
    let admin_view = root.get_text(&format!("/receipts/{small}")).await;
    assert!(admin_view.contains("minimum charge of THB 10.00"), "{admin_view}");
    assert!(
        admin_view.contains("PAYMENT_ROUTING does not offer it for THB"),
        "{admin_view}"
    );
    // Forcing a provider that is not offered is refused with the reason.
    let resp = alice
        .submit(
            &format!("/payments/receipts/{small}/start"),
            &[("provider", "stripe")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("minimum charge"));
    assert!(stripe.session_ids().is_empty());
    // THB 50.00: both, PayPal first as the rule orders them.
    let big = receipt(&server, &alice, "big", 50).await;
    let page = alice.get_text(&format!("/receipts/{big}")).await;
    let (p, s) = (
        page.find("value=\"paypal\"").unwrap(),
        page.find("value=\"stripe\"").unwrap(),
    );
    assert!(p < s, "PayPal before Stripe");
}

/// Configuration: every enabled provider's problems at once; an unknown rule is named.
#[test]
fn every_enabled_providers_settings_are_checked_at_once() {
    let env: std::collections::HashMap<String, String> = [
        ("PAYMENT_PROVIDERS", "stripe,paypal"),
        ("SESSION_SECRET", "0123456789abcdef0123456789abcdef0123456789"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = payments_web::config::Config::from_source(&env).unwrap();
    let err = payments_web::startup::build_providers(&config, &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("STRIPE_") && err.contains("PAYPAL_"),
        "both named: {err}"
    );
    for (list, routing, says) in [
        ("stripe,stripe", "", "listed twice"),
        ("stripe,nosuch", "", "nosuch"),
        ("stripe", "THB:paypal", "not an enabled provider"),
    ] {
        let mut env = env.clone();
        env.insert("PAYMENT_PROVIDERS".into(), list.into());
        env.insert("PAYMENT_ROUTING".into(), routing.into());
        let err = payments_web::config::Config::from_source(&env)
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{list} {routing}: {err}");
    }
}

/// A provider taken out of `PAYMENT_PROVIDERS` but still configured keeps refunding and
/// answering webhooks for its old payments without being offered; once its settings are gone
/// too, its payments are read-only with a note.
#[actix_web::test]
async fn a_retired_provider_still_follows_its_payments_and_an_unconfigured_one_is_read_only() {
    let stripe = MockStripe::start().await;
    let mut vars = stripe.env_vars();
    vars.push(("PAYMENT_PROVIDER", "stripe".into()));
    let first = TestServer::start_with(Db::Sqlite, &vars).await;
    first.add_user("alice", Role::User);
    first.add_user("root", Role::Admin);
    let alice = Browser::login(&first, "alice").await;
    let paid = receipt(&first, &alice, "s1", 20).await;
    alice.pay_now(paid).await;
    let (payment, amount) = first.payment_of(paid);
    let session = stripe.session_for_payment(&payment).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let database = first.state.config.database_url.clone();

    // The operator switches to the dummy provider and keeps Stripe's settings.
    let mut vars = stripe.env_vars();
    vars.push(("PAYMENT_PROVIDER", "dummy".into()));
    vars.push(("DATABASE_URL", database.clone()));
    let second = TestServer::start_with(Db::Sqlite, &vars).await;
    assert_eq!(
        second.state.app.providers().retired().len(),
        1,
        "Stripe is retired, not gone"
    );
    // Its late webhook is answered at its own URL and pays the receipt.
    let hook = stripe.signed_checkout_completed(&session, &payment, amount, unix_now());
    let (status, body) = second
        .post_webhook_at("/payments/webhook/stripe", &hook.headers(), &hook.body)
        .await;
    assert_eq!(
        (status, body["result"].as_str()),
        (StatusCode::OK, Some("finalized")),
        "{body}"
    );
    // Refunds still reach Stripe; new receipts are not offered Stripe.
    let root = Browser::login(&second, "root").await;
    assert_eq!(
        root.confirm_refund(&payment, "2.00", "retired").await.status(),
        StatusCode::SEE_OTHER
    );
    let pi = stripe.payment_intent_of(&session).expect("PaymentIntent");
    assert_eq!(stripe.refunds_of(&pi).len(), 1);
    let alice2 = Browser::login(&second, "alice").await;
    let fresh = receipt(&second, &alice2, "d1", 3).await;
    let page = alice2.get_text(&format!("/receipts/{fresh}")).await;
    assert!(
        page.contains("value=\"dummy\">Pay now</button>") && !page.contains("value=\"stripe\""),
        "{page}"
    );

    // Stripe's settings removed as well: its payment is read-only, said so to admins.
    let third = TestServer::start_with(
        Db::Sqlite,
        &[("PAYMENT_PROVIDER", "dummy".into()), ("DATABASE_URL", database)],
    )
    .await;
    assert!(third.state.app.providers().retired().is_empty());
    let root = Browser::login(&third, "root").await;
    let page = root.get_text(&format!("/receipts/{paid}")).await;
    assert!(page.contains("id=\"read-only-stripe\""), "{page}");
    assert!(
        !page.contains(&format!("/admin/payments/{payment}/refund")),
        "no refund form: {page}"
    );
    let resp = root
        .submit(
            &format!("/admin/payments/{payment}/refund"),
            &[("amount", "1.00"), ("reason", "x")],
        )
        .await;
    let text = resp.text().await.unwrap();
    assert!(text.contains("no longer has configured"), "{text}");
}
