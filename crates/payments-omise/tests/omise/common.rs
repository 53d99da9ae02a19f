//! Helpers shared by the test modules.

use payments_core::conformance::sample_checkout_request;
use payments_core::{CheckoutRequest, Currency, Money};
use payments_omise::testing::MockOmise;
use payments_omise::{OmiseConfig, OmiseProvider};

pub fn thb(amount: i64) -> Money {
    Money::new(amount, Currency::from_code("THB").expect("THB"))
}

pub fn money(amount: i64, code: &str) -> Money {
    Money::new(amount, Currency::from_code(code).expect("currency"))
}

pub fn checkout(payment_ref: &str, amount: Money) -> CheckoutRequest {
    let mut req = sample_checkout_request(payment_ref);
    req.amount = amount;
    req
}

pub fn provider_with(config: OmiseConfig) -> OmiseProvider {
    OmiseProvider::new(config).expect("valid config")
}

/// Records every request the mock received under `label`; returns how many.
pub async fn record(mock: &MockOmise, label: &str) -> usize {
    mock.record_requests(label)
        .await
        .unwrap_or_else(|e| panic!("recording requests for {label}: {e}"))
}

/// The published signature vectors embedded in payments-core.
pub fn vectors(name: &str) -> serde_json::Value {
    payments_core::vectors::load(name.trim_end_matches(".json"))
}

/// A header value from a recorded request, case-insensitively.
pub fn header<'a>(request: &'a wiremock::Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The form fields of a recorded request body.
pub fn form(request: &wiremock::Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
