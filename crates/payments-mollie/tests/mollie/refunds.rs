//! Refunds against the mock of Mollie's API: our marker in the refund's `metadata`, the
//! `Idempotency-Key`, `list_refunds` over Mollie's paged list with each refund's own status, a lost
//! answer settled by listing, `amountRefunded` in the snapshot, and the webhook of a payment
//! Mollie does not know.

use payments_core::conformance::sample_checkout_request;
use payments_core::mock::{Fault, Method};
use payments_core::{
    idempotency_key, Currency, KeyLifetime, Money, PaymentProvider, PaymentStatus, ProviderError,
    RefundRequest, RefundState, WebhookError, WebhookRequest,
};
use payments_mollie::testing::MockMollie;
use payments_mollie::transformers::{MolliePayment, RefundPage};
use payments_mollie::MollieProvider;
use serde_json::{json, Value};

fn eur(units: i64) -> Money {
    Money::new(units, Currency::from_code("EUR").unwrap())
}

/// A paid payment of EUR 100.00 at the mock, and the adapter.
async fn paid(payment_ref: &str) -> (MockMollie, MollieProvider, String) {
    let mock = MockMollie::start().await;
    let mollie = MollieProvider::new(mock.config()).unwrap();
    let mut request = sample_checkout_request(payment_ref);
    request.amount = eur(10_000);
    let session = mollie.create_checkout(&request).await.unwrap();
    mock.set_status(&session.external_id, "paid");
    (mock, mollie, session.external_id)
}

fn refund(id: &str, units: Option<i64>, n: u32) -> RefundRequest {
    RefundRequest {
        external_payment_id: id.to_string(),
        amount: units.map(eur),
        idempotency_key: idempotency_key("pay_r", "refund", n),
    }
}

fn webhook(id: &str) -> WebhookRequest {
    let headers = vec![("content-type".into(), "application/x-www-form-urlencoded".into())];
    WebhookRequest::new(headers, MockMollie::webhook_body(id), payments_core::unix_now())
}

#[tokio::test]
async fn a_refund_carries_our_marker_and_its_idempotency_key() {
    let (mock, mollie, id) = paid("pay_r").await;
    let made = mollie.refund(&refund(&id, Some(2_500), 1)).await.unwrap();
    assert_eq!(
        (made.amount, made.status.as_str()),
        (Some(eur(2_500).amount), "pending")
    );
    let sent = mock.mock.received().await;
    let create = sent
        .iter()
        .find(|r| r.method == Method::POST && r.url.path() == format!("/v2/payments/{id}/refunds"))
        .expect("the refund request");
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(
        body,
        json!({"amount": {"currency": "EUR", "value": "25.00"}, "metadata": {"refund_key": "pay.pay_r.refund.1"}})
    );
    let key = create
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok());
    assert_eq!(key, Some("pay:pay_r:refund:1"));
    let snapshot = mollie.fetch_payment(&id).await.unwrap();
    assert_eq!(snapshot.refunded, Some(eur(2_500).amount));
    assert!(snapshot.references.is_empty());
    assert_eq!(snapshot.status, PaymentStatus::Succeeded);
}

#[tokio::test]
async fn every_refund_is_listed_with_its_own_status_across_pages() {
    let (mock, mollie, id) = paid("pay_r").await;
    mock.set_refund_page_size(2);
    let ours = mollie.refund(&refund(&id, Some(1_000), 1)).await.unwrap();
    let statuses = ["queued", "processing", "refunded", "failed", "canceled"];
    let dashboard: Vec<String> = (statuses.iter())
        .map(|s| mock.dashboard_refund(&id, 500, s))
        .collect();
    let listed = mollie.list_refunds(&id).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|r| r.refund_id.as_str()).collect();
    let mut expected = vec![ours.refund_id.as_str()];
    expected.extend(dashboard.iter().map(String::as_str));
    assert_eq!(ids, expected, "every page, in order, once");
    let got: Vec<&str> = listed.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(
        got,
        [
            "pending",
            "queued",
            "processing",
            "refunded",
            "failed",
            "canceled"
        ]
    );
    assert_eq!(listed[0].marker.as_deref(), Some("pay.pay_r.refund.1"));
    assert!(listed[1..]
        .iter()
        .all(|r| r.marker.is_none() && r.amount == Some(eur(500).amount)));
    let pages = mock
        .mock
        .count(Method::GET, &format!("/v2/payments/{id}/refunds"))
        .await;
    assert_eq!(pages, 3, "six refunds in pages of two");
    // amountRefunded counts every refund that is not failed or canceled.
    let snapshot = mollie.fetch_payment(&id).await.unwrap();
    assert_eq!(snapshot.refunded, Some(eur(2_500).amount));

    mock.set_refund_status(&ours.refund_id, "failed");
    let listed = mollie.list_refunds(&id).await.unwrap();
    assert_eq!(RefundState::from_provider(&listed[0].status), RefundState::Failed);
    let snapshot = mollie.fetch_payment(&id).await.unwrap();
    assert_eq!(snapshot.refunded, Some(eur(1_500).amount));
}

#[tokio::test]
async fn a_lost_refund_answer_is_found_by_listing() {
    let (mock, mollie, id) = paid("pay_r").await;
    mock.lose_next_refund();
    let lost = mollie.refund(&refund(&id, None, 1)).await;
    assert!(matches!(lost, Err(ProviderError::Unavailable { .. })), "{lost:?}");
    assert_eq!(mock.refunds_of(&id).len(), 1, "made once, for all the retries");
    mock.forget_idempotency_keys();
    let listed = mollie.list_refunds(&id).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].marker.as_deref(), Some("pay.pay_r.refund.1"));
    assert_eq!(listed[0].amount, Some(eur(10_000).amount), "no amount: all of it");
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_mollies_400() {
    let (_mock, mollie, id) = paid("pay_r").await;
    mollie.refund(&refund(&id, Some(1_000), 1)).await.unwrap();
    let again = mollie.refund(&refund(&id, Some(2_000), 1)).await.unwrap_err();
    assert!(
        matches!(again, ProviderError::Api { status: 400, .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_webhook_about_a_payment_mollie_does_not_know_is_an_unknown_payment() {
    let (mock, mollie, id) = paid("pay_r").await;
    let unknown = mollie.parse_webhook(&webhook("tr_unknown42")).await.unwrap_err();
    assert_eq!(unknown, WebhookError::UnknownPayment("tr_unknown42".into()));
    assert_eq!(unknown.code(), "unknown_payment");
    // Mollie unreachable is another error: the webhook must be retried.
    mock.mock
        .inject(Method::GET, "/v2/payments/{id}", Fault::Status(503), 3);
    let down = mollie.parse_webhook(&webhook(&id)).await.unwrap_err();
    assert!(matches!(down, WebhookError::Upstream(_)), "{down:?}");
}

#[tokio::test]
async fn refund_lookup_is_declared_and_keys_live_one_hour() {
    let (_mock, mollie, id) = paid("pay_r").await;
    let caps = mollie.capabilities();
    assert!(caps.list_refunds && caps.refund && caps.fetch_payment);
    assert!(!caps.capture && !caps.expire_checkout);
    assert_eq!(mollie.refund_key_lifetime(), KeyLifetime::Secs(3_600));
    // Mollie's docs: an id it does not know is answered 200, so nobody learns which ids exist.
    assert!(mollie.acknowledges_unknown_ids());
    assert!(mollie.list_refunds(&id).await.unwrap().is_empty());
    let gone = mollie.list_refunds("tr_unknown42").await.unwrap_err();
    assert!(matches!(gone, ProviderError::Api { status: 404, .. }), "{gone:?}");
}

#[tokio::test]
async fn an_open_payment_reports_no_refunded_amount() {
    let mock = MockMollie::start().await;
    let mollie = MollieProvider::new(mock.config()).unwrap();
    let session = mollie
        .create_checkout(&sample_checkout_request("pay_open"))
        .await
        .unwrap();
    let snapshot = mollie.fetch_payment(&session.external_id).await.unwrap();
    assert_eq!(
        (snapshot.status, snapshot.refunded),
        (PaymentStatus::Pending, None)
    );
}

#[test]
fn only_the_refund_id_is_taken_from_the_next_page_link() {
    let page = |next: Value| -> RefundPage {
        serde_json::from_value(json!({"count": 0, "_embedded": {"refunds": []}, "_links": {"next": next}}))
            .unwrap()
    };
    let next = json!({"href": "https://api.mollie.com/v2/payments/tr_7UhSN1zuXS/refunds?from=re_APBiGPH2vV&limit=5"});
    assert_eq!(page(next).next_from(), Ok(Some("re_APBiGPH2vV".to_string())));
    assert_eq!(page(Value::Null).next_from(), Ok(None));
    for bad in [
        "https://api.mollie.com/v2/payments/tr_1/refunds?limit=5",
        "https://api.mollie.com/v2/payments/tr_1/refunds?from=re_a%2F..&limit=5",
        "https://api.mollie.com/v2/payments/tr_1/refunds?from=tr_1",
    ] {
        assert!(page(json!({"href": bad})).next_from().is_err(), "{bad}");
    }
}

/// A refunds page whose next link points back at itself (a provider bug, or a hostile answer)
/// ends the listing with an error instead of asking for the same page for ever.
#[tokio::test]
async fn a_refund_page_linking_to_itself_is_an_error() {
    let (mock, mollie, id) = paid("pay_loop").await;
    let page = |from: &str| {
        json!({"count": 1, "_embedded": {"refunds": [{
            "resource": "refund", "id": "re_loop1", "status": "refunded",
            "amount": {"currency": "EUR", "value": "1.00"}, "paymentId": id}]},
            "_links": {"next": {"href": format!("https://api.mollie.com/v2/payments/{id}/refunds?from={from}&limit=250"), "type": "application/hal+json"}}})
    };
    let reply = |body: Value| Fault::Reply(payments_core::mock::Reply::json(200, &body).into());
    mock.mock.inject(
        Method::GET,
        "/v2/payments/{id}/refunds",
        reply(page("re_loop2")),
        1,
    );
    mock.mock.inject(
        Method::GET,
        "/v2/payments/{id}/refunds",
        reply(page("re_loop2")),
        1,
    );
    let err = mollie.list_refunds(&id).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::UnexpectedResponse { message, .. } if message.contains("links to itself")),
        "{err:?}"
    );
}

/// "Refund everything" after a partial refund refunds what is left, not the whole amount again.
#[tokio::test]
async fn a_full_refund_after_a_partial_one_refunds_what_is_left() {
    let (mock, mollie, id) = paid("pay_rest").await;
    mollie.refund(&refund(&id, Some(2_500), 1)).await.unwrap();
    let rest = mollie.refund(&refund(&id, None, 2)).await.unwrap();
    assert_eq!(rest.amount, Some(eur(7_500).amount));
    let sent = mock.mock.received().await;
    let last = sent
        .iter()
        .rfind(|r| r.method == Method::POST && r.url.path() == format!("/v2/payments/{id}/refunds"))
        .expect("the refund request");
    let body: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(body["amount"], json!({"currency": "EUR", "value": "75.00"}));
    let snapshot = mollie.fetch_payment(&id).await.unwrap();
    assert_eq!(
        (snapshot.status, snapshot.refunded),
        (PaymentStatus::Refunded, Some(eur(10_000).amount))
    );
    // Nothing is left: refused before any call.
    let before = mock.mock.received().await.len();
    let none = mollie.refund(&refund(&id, None, 3)).await.unwrap_err();
    assert!(matches!(none, ProviderError::AmountRefused(_)), "{none:?}");
    let after = mock.mock.received().await;
    assert!(
        after[before..].iter().all(|r| r.method != Method::POST),
        "no refund was sent"
    );
}

/// Mollie's `amountRemaining` includes over-refunding ("an additional EUR 25.00 more than the
/// original payment's amount", https://docs.mollie.com/payments/refunds): "everything" is the
/// amount less `amountRefunded`, and no more than `amountRemaining`. (Values composed from the
/// documented fields.)
#[test]
fn what_is_left_to_refund_is_the_amount_less_the_refunded_total_within_the_remaining() {
    let payment = |refunded: Option<&str>, remaining: Option<&str>| -> MolliePayment {
        let mut body = json!({"id": "tr_left1", "status": "paid",
            "amount": {"currency": "EUR", "value": "10.00"}});
        if let Some(v) = refunded {
            body["amountRefunded"] = json!({"currency": "EUR", "value": v});
        }
        if let Some(v) = remaining {
            body["amountRemaining"] = json!({"currency": "EUR", "value": v});
        }
        serde_json::from_value(body).unwrap()
    };
    let left = |p: MolliePayment| p.unrefunded().unwrap().map(|m| m.amount.0);
    assert_eq!(left(payment(Some("4.00"), Some("31.00"))), Some(600));
    assert_eq!(left(payment(Some("0.00"), Some("35.00"))), Some(1_000));
    assert_eq!(left(payment(Some("4.00"), Some("2.00"))), Some(200));
    assert_eq!(left(payment(None, None)), Some(1_000));
    assert_eq!(left(payment(Some("10.00"), Some("0.00"))), None);
    assert_eq!(left(payment(Some("12.00"), Some("0.00"))), None);
    let mut other = payment(Some("0.00"), None);
    other.amount_remaining =
        Some(serde_json::from_value(json!({"currency": "USD", "value": "10.00"})).unwrap());
    assert!(other.unrefunded().is_err());
}
