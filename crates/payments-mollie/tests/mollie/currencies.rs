//! Which currencies the adapter sends to Mollie: those on Mollie's multicurrency page
//! (docs/providers/mollie.md, "Currencies and decimals"), each in Mollie's decimals; any other
//! currency is refused before a request is made, as Mollie would refuse it.

use payments_core::conformance::sample_checkout_request;
use payments_core::mock::Method;
use payments_core::{Currency, Money, PaymentProvider, ProviderError, RefundRequest};
use payments_mollie::testing::MockMollie;
use payments_mollie::MollieProvider;
use serde_json::{json, Value};

fn money(units: i64, code: &str) -> Money {
    Money::new(units, Currency::from_code(code).unwrap())
}

/// The `amount` of every payment creation the mock received.
async fn created_amounts(mock: &MockMollie) -> Vec<Value> {
    let sent = mock.mock.received().await;
    sent.iter()
        .filter(|r| r.method == Method::POST && r.url.path() == "/v2/payments")
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["amount"].clone())
        .collect()
}

#[tokio::test]
async fn mollies_currencies_are_sent_in_mollies_decimals() {
    let mock = MockMollie::start().await;
    let mollie = MollieProvider::new(mock.config()).unwrap();
    // The first and last of Mollie's list, its two zero-decimal currencies, HUF and TWD (two
    // decimals at Mollie, whole units at PayPal) and THB (PayPal's, so Mollie's too).
    let cases = [
        ("AED", 1_050, "10.50"),
        ("EUR", 1, "0.01"),
        ("HUF", 123_456, "1234.56"),
        ("ISK", 1, "1"),
        ("JPY", 1_000, "1000"),
        ("THB", 123_450, "1234.50"),
        ("TWD", 9_999, "99.99"),
        ("ZAR", 100, "1.00"),
    ];
    for (n, (code, units, _)) in cases.iter().enumerate() {
        let mut request = sample_checkout_request(&format!("pay_cur_{n}"));
        request.amount = money(*units, code);
        let session = mollie.create_checkout(&request).await;
        assert!(session.is_ok(), "{code}: {session:?}");
        assert!(mollie.check_amount(request.amount).is_ok(), "{code}: offered");
    }
    let expected: Vec<Value> = cases
        .iter()
        .map(|(code, _, value)| json!({"currency": code, "value": value}))
        .collect();
    assert_eq!(created_amounts(&mock).await, expected);
}

#[tokio::test]
async fn a_currency_mollie_does_not_take_is_refused_without_a_call() {
    let mock = MockMollie::start().await;
    let mollie = MollieProvider::new(mock.config()).unwrap();
    // ISO currencies on no version of Mollie's list (nor PayPal's): three-decimal KWD and BHD,
    // zero-decimal KRW, two-decimal INR.
    for (code, units) in [("KWD", 10_000), ("BHD", 1), ("KRW", 5_000), ("INR", 100_000)] {
        let mut request = sample_checkout_request(&format!("pay_{code}"));
        request.amount = money(units, code);
        match mollie.create_checkout(&request).await {
            Err(ProviderError::AmountRefused(why)) => {
                assert!(why.contains("Mollie does not accept"), "{code}: {why}")
            }
            other => panic!("{code}: a checkout Mollie would refuse was {other:?}"),
        }
        // Known before any call: the server does not offer Mollie for it.
        assert!(mollie.check_amount(request.amount).is_err(), "{code}");
    }
    assert_eq!(created_amounts(&mock).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_refund_in_a_currency_mollie_does_not_take_is_refused_without_a_call() {
    let mock = MockMollie::start().await;
    let mollie = MollieProvider::new(mock.config()).unwrap();
    let request = RefundRequest {
        external_payment_id: "tr_unknown1".into(),
        amount: Some(money(1_000, "KWD")),
        idempotency_key: payments_core::idempotency_key("pay_kwd", "refund", 1),
    };
    let refused = mollie.refund(&request).await;
    assert!(
        matches!(&refused, Err(ProviderError::AmountRefused(why)) if why.contains("Mollie does not accept")),
        "{refused:?}"
    );
    let sent = mock.mock.received().await;
    assert!(
        sent.iter().all(|r| r.method != Method::POST),
        "a refund was sent: {:?}",
        sent.iter().map(|r| r.url.path().to_string()).collect::<Vec<_>>()
    );
}
