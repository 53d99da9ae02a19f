//! The end-to-end payment test every adapter gets, driven by the fixture its conformance suite
//! uses: the server runs the adapter against the fixture's mock, a user pays a receipt with
//! "Pay now", the provider's genuine success webhook (built and signed by the fixture) pays it,
//! a redelivery is a harmless duplicate, and a forged copy changes nothing. Every adapter of the
//! server's registry (`payments_web::adapter_registry!`, whose line names the fixture) gets it,
//! as the tests `adapters::pays_a_receipt::<its crate>` (SQLite) and
//! `adapters::pays_a_receipt_on_postgres::<its crate>` (PostgreSQL); nothing is added here.

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Secret};
use payments_core::{CheckoutRequest, CheckoutSession, Money, PaymentStatus};
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;

use crate::support::{Browser, Db, OpenCheckout, TestServer};

/// Pays a receipt through `fixture`'s adapter, as a payer and the provider would.
async fn pays_a_receipt_end_to_end(name: &str, fixture: &dyn AdapterFixture, db: Db) {
    let Some(mut vars) = fixture.server_vars() else {
        panic!("{name}: its fixture gives no server_vars(), so the server cannot be pointed at its mock");
    };
    vars.push(("PAYMENT_PROVIDER", name.to_string()));
    let server = TestServer::start_with(db, &vars).await;
    server.add_user("alice", Role::User);
    // 25.00 in the server's currency: above every provider's minimum charge (Omise: THB 20.00).
    server.add_usage("alice", "j1", 25);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;

    let checkout = alice.pay_now(receipt).await;
    // The provider's page: elsewhere, or the dummy provider's own page on this server.
    let simulated = checkout.starts_with(&format!("{}/payments/simulate?", server.base));
    assert!(
        checkout.starts_with("http") && (!checkout.starts_with(&server.base) || simulated),
        "{name}: Pay now must send the payer to the provider, not {checkout}"
    );
    let (payment_ref, amount) = server.payment_of(receipt);
    let stored = server
        .store()
        .payment_by_public_id(&payment_ref)
        .unwrap()
        .unwrap();
    let external_id = stored
        .external_id
        .clone()
        .expect("the checkout's provider id is stored");
    let request = alices_checkout(&payment_ref, amount, receipt);
    let session = CheckoutSession {
        external_id,
        redirect_url: checkout,
        idempotency_key: String::new(),
    };
    let spec = success(
        &request,
        &session,
        format!("evt_e2e_{payment_ref}"),
        fixture.now(),
    );
    let body = fixture
        .event_body(&spec)
        .await
        .expect("the fixture builds a success webhook");
    let headers = fixture
        .sign(&body, spec.timestamp, Secret::Current)
        .unwrap_or_default();

    if let Some(wrong) = fixture.sign(&body, spec.timestamp, Secret::Wrong) {
        let (status, answer) = server.post_webhook(&wrong, &body).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{name}: a forged signature: {answer}"
        );
        assert_eq!(
            server.receipt_status(receipt),
            ReceiptStatus::Unpaid,
            "{name}: forged copy"
        );
    }
    let (status, answer) = server.post_webhook(&headers, &body).await;
    assert_eq!(status, StatusCode::OK, "{name}: the genuine webhook: {answer}");
    assert_eq!(
        server.receipt_status(receipt),
        ReceiptStatus::Paid,
        "{name}: {answer}"
    );
    let (status, answer) = server.post_webhook(&headers, &body).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (StatusCode::OK, Some("duplicate of finalized")),
        "{name}: a redelivery"
    );
    assert_eq!(
        server.audit("payment.finalize", Some(receipt)).len(),
        1,
        "{name}: one finalize"
    );

    // Two refunds at the provider that add up to the whole, through the provider's own refund
    // webhooks (a running total or one refund per event, whichever the provider sends): the
    // first leaves the receipt partly refunded, the second refunded; a redelivery counts once.
    if !fixture.event_kinds().contains(&Kind::Refunded) {
        panic!("{name}: its fixture builds no refund webhook");
    }
    let half = Money::new(amount.amount.get() / 2, amount.currency);
    let rest = Money::new(amount.amount.get() - half.amount.get(), amount.currency);
    for (n, (refunded, this, want)) in [
        (half, half, ReceiptStatus::PartiallyRefunded),
        (amount, rest, ReceiptStatus::Refunded),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = EventSpec {
            kind: Kind::Refunded,
            refunded: Some(refunded),
            this_refund: Some(this),
            event_id: format!("evt_e2e_refund{n}_{payment_ref}"),
            timestamp: fixture.now(),
            ..spec.clone()
        };
        let body = fixture.event_body(&spec).await.expect("a refund webhook");
        let headers = fixture
            .sign(&body, spec.timestamp, Secret::Current)
            .unwrap_or_default();
        let (status, answer) = server.post_webhook(&headers, &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: refund {n}: {answer}");
        assert_eq!(
            server.receipt_status(receipt),
            want,
            "{name}: refund {n}: {answer}"
        );
        let (status, again) = server.post_webhook(&headers, &body).await;
        assert_eq!(status, StatusCode::OK, "{name}: refund {n} again: {again}");
        let payment = server
            .store()
            .payment_by_public_id(&payment_ref)
            .unwrap()
            .unwrap();
        assert_eq!(
            payment.refunded_minor,
            refunded.amount.get(),
            "{name}: refund {n}: {answer}"
        );
    }
    let payment = server
        .store()
        .payment_by_public_id(&payment_ref)
        .unwrap()
        .unwrap();
    assert_eq!(payment.status, "refunded", "{name}");
    let refunds = server.store().refunds_for_receipt(receipt).unwrap();
    let total: i64 = refunds
        .iter()
        .filter(|r| r.status == "succeeded")
        .map(|r| r.amount_minor)
        .sum();
    assert_eq!(total, amount.amount.get(), "{name}: {refunds:?}");
    assert!(
        server.audit("payment.refund", Some(receipt)).len() >= 4,
        "{name}: every refund step is audited"
    );
}

/// A refund whose answer is lost (the provider made it, the 502 came back) is recorded with its
/// outcome unknown; the provider then forgets its idempotency keys (as after the adapter's
/// declared key lifetime), and the admin presses Retry: the server asks the provider first,
/// finds the refund and sends nothing. The provider holds exactly one refund.
async fn a_lost_refund_answer_ends_with_one_refund(name: &str, fixture: &dyn AdapterFixture, db: Db) {
    if name == "dummy" {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED adapters::lost_refund_answer for the dummy: it refunds in-process, no answer can be lost\n",
        );
        return;
    }
    let Some(vars) = fixture.server_vars() else {
        panic!("{name}: its fixture gives no server_vars()");
    };
    let OpenCheckout {
        server,
        receipt,
        payment: payment_ref,
        external_id,
    } = OpenCheckout::start(db, name, &vars, "alice", 25).await;
    let (_, amount) = server.payment_of(receipt);
    let session = CheckoutSession {
        external_id,
        redirect_url: String::new(),
        idempotency_key: String::new(),
    };
    if !fixture.set_status(&session, PaymentStatus::Succeeded).await {
        panic!("{name}: its fixture cannot make the payment paid at its mock");
    }
    let request = alices_checkout(&payment_ref, amount, receipt);
    let spec = success(
        &request,
        &session,
        format!("evt_lost_{payment_ref}"),
        fixture.now(),
    );
    let body = fixture.event_body(&spec).await.expect("a success webhook");
    let headers = fixture
        .sign(&body, spec.timestamp, Secret::Current)
        .unwrap_or_default();
    let (status, answer) = server.post_webhook(&headers, &body).await;
    assert_eq!(status, StatusCode::OK, "{name}: {answer}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid, "{name}");

    server.add_user("root", Role::Admin);
    let root = Browser::login(&server, "root").await;
    assert!(
        fixture.lose_next_refund_answer().await,
        "{name}: its fixture cannot lose a refund's answer"
    );
    let resp = root.confirm_refund(&payment_ref, "10.00", "lost answer").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{name}");
    let rows = server.store().refunds_for_receipt(receipt).unwrap();
    assert_eq!(
        (rows.len(), rows[0].status.as_str()),
        (1, "requested"),
        "{name}: the outcome is unknown: {rows:?}"
    );
    assert_eq!(fixture.refunds_at_provider(&session).await, Some(1), "{name}");
    let page = root.get_text(&format!("/receipts/{receipt}")).await;
    assert!(
        page.contains(&format!("/admin/refunds/{}/retry", rows[0].id)),
        "{name}: Retry is offered where the provider can be asked"
    );
    assert!(fixture.forget_idempotency_keys().await, "{name}");

    let resp = root
        .submit(&format!("/admin/refunds/{}/retry", rows[0].id), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{name}");
    let row = server.store().refund(rows[0].id).unwrap().unwrap();
    assert!(
        ["succeeded", "pending"].contains(&row.status.as_str()) && row.external_id.is_some(),
        "{name}: settled from the provider's list: {row:?}"
    );
    assert_eq!(
        fixture.refunds_at_provider(&session).await,
        Some(1),
        "{name}: exactly one refund at the provider after Retry"
    );
    // A second Retry (another tab) does nothing.
    let resp = root
        .submit(&format!("/admin/refunds/{}/retry", rows[0].id), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::CONFLICT, "{name}");
    assert_eq!(fixture.refunds_at_provider(&session).await, Some(1), "{name}");
    let steps: Vec<String> = server
        .audit("payment.refund", Some(receipt))
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(&e.detail).unwrap()["step"].to_string())
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("provider_list")),
        "{name}: the look-up is audited: {steps:?}"
    );
}

/// For each registry line compiled in, a test `$sqlite::<its crate>` and `$postgres::<its
/// crate>` running `$run` against the line's fixture on that backend.
macro_rules! adapter_tests {
    ($sqlite:ident, $postgres:ident, $run:ident, $db:literal;
     $($feature:literal => $krate:ident::{$adapter:ident, testing::$fixture:ident}),+ $(,)?) => {
        mod $sqlite {
            use crate::support::Db;
            $(#[cfg(feature = $feature)]
            #[actix_web::test]
            async fn $krate() {
                let fixture = $krate::testing::$fixture::start().await;
                super::$run($feature, &fixture, Db::Sqlite).await;
            })+
        }
        mod $postgres {
            use crate::support::Db;
            $(#[cfg(feature = $feature)]
            #[actix_web::test]
            #[cfg_attr(
                postgres_tests_ignored,
                ignore = "needs PostgreSQL: set TEST_DATABASE_URL and use --all-features (see README)"
            )]
            async fn $krate() {
                let Some(pg) = payments_store::testing::postgres(concat!($db, $feature)) else {
                    return;
                };
                let fixture = $krate::testing::$fixture::start().await;
                super::$run($feature, &fixture, Db::Postgres(pg)).await;
            })+
        }
    };
}

/// The end-to-end tests every adapter gets, named after the adapter's crate, compiled with the
/// adapter's feature.
macro_rules! e2e {
    ($($line:tt)+) => {
        adapter_tests!(pays_a_receipt, pays_a_receipt_on_postgres, pays_a_receipt_end_to_end, "web_e2e_"; $($line)+);
        adapter_tests!(
            lost_refund_answer,
            lost_refund_answer_on_postgres,
            a_lost_refund_answer_ends_with_one_refund,
            "web_lost_refund_";
            $($line)+
        );
    };
}

payments_web::adapter_registry!(e2e);

/// The checkout the server asked the provider for, as the fixture needs it to build events.
fn alices_checkout(payment_ref: &str, amount: Money, receipt: i64) -> CheckoutRequest {
    CheckoutRequest {
        payment_ref: payment_ref.to_string(),
        amount,
        username: "alice".into(),
        receipt_id: receipt,
        description: String::new(),
        success_url: String::new(),
        cancel_url: String::new(),
        idempotency_key: String::new(),
        lifetime_secs: None,
        created_at: None,
    }
}

/// What the suite asks a fixture for: the genuine success webhook of `session`.
fn success<'a>(
    request: &'a CheckoutRequest,
    session: &'a CheckoutSession,
    event_id: String,
    timestamp: i64,
) -> EventSpec<'a> {
    EventSpec {
        kind: Kind::Succeeded,
        request,
        session,
        amount: request.amount,
        refunded: None,
        this_refund: None,
        other_amount: None,
        event_id,
        timestamp,
    }
}
