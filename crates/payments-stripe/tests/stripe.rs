//! The Stripe adapter against a mock Stripe on 127.0.0.1 (wiremock): the published signature
//! vectors, the shared conformance suite, request shapes, retries, errors, amount rules and event
//! mapping. Every request the mock receives is recorded for `../shared/oracles/check-requests`.

use std::collections::BTreeMap;
use std::time::Duration;

use payments_core::signature::SignatureError;
use payments_core::{
    idempotency_key, CheckoutRequest, Currency, EventKind, MinorUnits, Money, PaymentProvider, PaymentStatus,
    ProviderError, RefundRequest, RetryPolicy, WebhookError, WebhookRequest,
};
use payments_stripe::testing::{self, MockStripe};
use payments_stripe::{StripeConfig, StripeProvider, SIGNATURE_HEADER, STRIPE_VERSION};
use serde_json::{json, Value};
use wiremock::{Request, ResponseTemplate};

fn money(amount: i64, code: &str) -> Money {
    Money::new(amount, Currency::from_code(code).unwrap())
}

fn checkout(payment_ref: &str, amount: Money) -> CheckoutRequest {
    let mut r = payments_core::conformance::sample_checkout_request(payment_ref);
    r.amount = amount;
    r
}

/// Records every API request the mock received and returns them.
async fn record(mock: &MockStripe, label: &str) -> Vec<Request> {
    let n = mock.record_requests(label).await.expect("record requests");
    let requests = mock.api_requests().await;
    assert_eq!(n, requests.len());
    requests
}

fn form(r: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&r.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn posts<'a>(requests: &'a [Request], p: &str) -> Vec<&'a Request> {
    requests
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == p)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Published vectors

#[tokio::test]
async fn published_vectors_pass_through_the_adapter() {
    let vectors = payments_core::vectors::load("stripe");
    let cases = vectors["cases"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    let (mut valid, mut invalid) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let secret = case["secret"].as_str().unwrap();
        let t = case["timestamp"].as_i64().unwrap();
        let payload = case["payload"].as_str().unwrap().as_bytes();
        let sig = case["header"].as_str().unwrap();
        let expected = case["valid"].as_bool().unwrap();
        let provider = StripeProvider::new(StripeConfig::new("sk_test_vectors", secret).unwrap()).unwrap();

        let verdict = provider.verify_signature(sig, payload, t);
        assert_eq!(verdict.is_ok(), expected, "case {name}: {verdict:?}");

        let req = WebhookRequest::new(vec![(SIGNATURE_HEADER.into(), sig.into())], payload.to_vec(), t);
        let parsed = provider.parse_webhook(&req).await;
        if expected {
            valid += 1;
            assert_eq!(verdict, Ok(t), "case {name}");
            // Verified; the payload itself is then judged as an event.
            assert!(
                !matches!(parsed, Err(WebhookError::Signature(_))),
                "case {name}: {parsed:?}"
            );
            // The same signature 301 s later is stale.
            assert!(matches!(
                provider.verify_signature(sig, payload, t + 301),
                Err(SignatureError::OutsideTolerance { .. })
            ));
            // And our own signer reproduces the published v1.
            let ours = testing::sign_webhook(secret, payload, t);
            assert!(sig.contains(ours.split_once(",v1=").unwrap().1), "case {name}");
        } else {
            invalid += 1;
            assert!(
                matches!(parsed, Err(WebhookError::Signature(_))),
                "case {name}: {parsed:?}"
            );
        }
        if name == "published" {
            let event = parsed.expect("the published event verifies");
            assert_eq!(event.event_id, "evt_123");
            assert_eq!(
                event.kind,
                EventKind::Other {
                    raw_type: "invoiceitem.created".into()
                }
            );
        }
    }
    assert!(valid > 0 && invalid > 0);
}

// ---------------------------------------------------------------------------------------------
// Outbound requests

/// Stripe takes an Idempotency-Key of up to 255 characters: one of 255 is sent, one of 256 is
/// refused before any call (what cargo mutants found unchecked).
#[tokio::test]
async fn an_idempotency_key_is_sent_up_to_stripes_255_characters() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let mut req = checkout("pay_key_255", money(123_450, "THB"));
    req.idempotency_key = "k".repeat(255);
    provider
        .create_checkout(&req)
        .await
        .expect("a 255-character key is sent");
    let sent = mock.received_requests().await.len();
    let mut req = checkout("pay_key_256", money(123_450, "THB"));
    req.idempotency_key = "k".repeat(256);
    let err = provider.create_checkout(&req).await.unwrap_err();
    assert!(matches!(err, ProviderError::Config(_)), "{err:?}");
    assert_eq!(
        mock.received_requests().await.len(),
        sent,
        "nothing sent to Stripe"
    );
}

#[tokio::test]
async fn checkout_sends_the_documented_form() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let req = checkout("pay_shape_1", money(123_450, "THB"));
    let session = provider.create_checkout(&req).await.expect("checkout");
    assert!(
        session.external_id.starts_with("cs_test_"),
        "{}",
        session.external_id
    );
    assert!(
        session
            .redirect_url
            .starts_with(&format!("{}/c/pay/{}", mock.uri(), session.external_id)),
        "{}",
        session.redirect_url
    );
    assert_eq!(session.idempotency_key, "pay:pay_shape_1:checkout:0");

    let requests = record(&mock, "checkout-shape").await;
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), "/v1/checkout/sessions");
    assert_eq!(
        header(r, "authorization"),
        Some(format!("Bearer {}", testing::TEST_SECRET_KEY).as_str())
    );
    assert_eq!(header(r, "stripe-version"), Some(STRIPE_VERSION));
    assert_eq!(STRIPE_VERSION, "2023-08-16");
    assert_eq!(header(r, "idempotency-key"), Some("pay:pay_shape_1:checkout:0"));
    assert_eq!(
        header(r, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // Bracketed keys go over the wire literally.
    let body = String::from_utf8(r.body.clone()).unwrap();
    assert!(body.contains("metadata[payment_id]=pay_shape_1"), "{body}");
    let f = form(r);
    let expect = [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", "thb"),
        ("line_items[0][price_data][unit_amount]", "123450"),
        (
            "line_items[0][price_data][product_data][name]",
            "HPC usage receipt #42",
        ),
        (
            "success_url",
            "http://127.0.0.1:8000/payments/thanks?payment=pay_shape_1&session_id={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "http://127.0.0.1:8000/me"),
        ("client_reference_id", "pay_shape_1"),
        ("metadata[payment_id]", "pay_shape_1"),
        ("metadata[receipt_id]", "42"),
        ("payment_intent_data[metadata][payment_id]", "pay_shape_1"),
        ("payment_intent_data[metadata][receipt_id]", "42"),
    ];
    for (k, v) in expect {
        assert_eq!(f.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(f.len(), expect.len(), "unexpected parameters: {f:?}");
    // The mock echoed our metadata.
    let stored = mock.session(&session.external_id).unwrap();
    assert_eq!(stored["metadata"]["payment_id"], "pay_shape_1");
    assert_eq!(stored["status"], "open");
    assert_eq!(stored["payment_status"], "unpaid");

    // The hosted page URL is served by the mock, on loopback.
    let page = reqwest::get(&session.redirect_url).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
}

#[tokio::test]
async fn zero_decimal_and_special_currencies_are_sent_in_stripe_units() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    for (i, (amount, units, code)) in [
        (money(5000, "JPY"), "5000", "jpy"),
        (money(1500, "ISK"), "150000", "isk"),
        (money(12_340, "KWD"), "12340", "kwd"),
        (money(700_000, "MGA"), "7000", "mga"),
    ]
    .into_iter()
    .enumerate()
    {
        let session = provider
            .create_checkout(&checkout(&format!("pay_cur_{i}"), amount))
            .await
            .unwrap_or_else(|e| panic!("{amount}: {e}"));
        let snap = provider.fetch_payment(&session.external_id).await.unwrap();
        assert_eq!(snap.amount, Some(amount), "round trip of {amount}");
        let requests = mock.api_requests().await;
        let last_post = posts(&requests, "/v1/checkout/sessions").pop().unwrap();
        let f = form(last_post);
        assert_eq!(f["line_items[0][price_data][unit_amount]"], units, "{amount}");
        assert_eq!(f["line_items[0][price_data][currency]"], code, "{amount}");
    }
    record(&mock, "currencies").await;
}

#[tokio::test]
async fn fetch_payment_reports_what_stripe_says() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let amount = money(50_000, "THB");
    let s = provider
        .create_checkout(&checkout("pay_fetch_1", amount))
        .await
        .unwrap();

    let snap = provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::Pending);
    assert_eq!(snap.amount, Some(amount));
    assert_eq!(snap.payment_ref.as_deref(), Some("pay_fetch_1"));
    assert_eq!(snap.external_id, s.external_id);

    mock.set_session_status(&s.external_id, "complete", "unpaid")
        .unwrap();
    assert_eq!(
        provider.fetch_payment(&s.external_id).await.unwrap().status,
        PaymentStatus::Pending
    );
    mock.complete_session(&s.external_id).unwrap();
    assert_eq!(
        provider.fetch_payment(&s.external_id).await.unwrap().status,
        PaymentStatus::Succeeded
    );

    let s2 = provider
        .create_checkout(&checkout("pay_fetch_2", amount))
        .await
        .unwrap();
    mock.expire_session(&s2.external_id).unwrap();
    assert_eq!(
        provider.fetch_payment(&s2.external_id).await.unwrap().status,
        PaymentStatus::Expired
    );

    let before = mock.api_requests().await.len();
    let err = provider
        .fetch_payment("cs_test_does_not_exist")
        .await
        .unwrap_err();
    match &err {
        ProviderError::Api {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(*status, 404);
            assert_eq!(code.as_deref(), Some("resource_missing"));
            assert!(message.contains("No such checkout.session"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        mock.api_requests().await.len(),
        before + 1,
        "a 404 is not retried"
    );

    let requests = record(&mock, "fetch").await;
    let gets: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "GET").collect();
    assert_eq!(gets.len(), 5);
    for g in gets {
        assert!(g.url.path().starts_with("/v1/checkout/sessions/cs_"), "{}", g.url);
        assert_eq!(header(g, "stripe-version"), Some(STRIPE_VERSION));
        assert!(g.body.is_empty());
    }
}

#[tokio::test]
async fn refunds_go_through_the_payment_intent() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let amount = money(123_450, "THB");
    let s = provider
        .create_checkout(&checkout("pay_refund_1", amount))
        .await
        .unwrap();

    // Not paid yet: refused after looking, before any refund is posted.
    let err = provider
        .refund(&RefundRequest {
            external_payment_id: s.external_id.clone(),
            amount: None,
            idempotency_key: idempotency_key("pay_refund_1", "refund", 0),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::AmountRefused(_)), "{err:?}");
    assert!(posts(&mock.api_requests().await, "/v1/refunds").is_empty());

    let paid = mock.complete_session(&s.external_id).unwrap();
    let pi = paid["payment_intent"].as_str().unwrap().to_string();

    let partial = provider
        .refund(&RefundRequest {
            external_payment_id: s.external_id.clone(),
            amount: Some(money(10_000, "THB")),
            idempotency_key: idempotency_key("pay_refund_1", "refund", 1),
        })
        .await
        .expect("partial refund");
    assert!(partial.refund_id.starts_with("re_"), "{partial:?}");
    assert_eq!(partial.amount, Some(MinorUnits(10_000)));
    assert_eq!(partial.status, "succeeded");

    let rest = provider
        .refund(&RefundRequest {
            external_payment_id: pi.clone(),
            amount: None,
            idempotency_key: idempotency_key("pay_refund_1", "refund", 2),
        })
        .await
        .expect("refund of the rest");
    assert_eq!(rest.amount, Some(MinorUnits(113_450)));

    // Nothing left: Stripe's 400 comes back typed, and is not retried.
    let before = posts(&mock.api_requests().await, "/v1/refunds").len();
    let err = provider
        .refund(&RefundRequest {
            external_payment_id: pi.clone(),
            amount: None,
            idempotency_key: idempotency_key("pay_refund_1", "refund", 3),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Api { status: 400, code: Some(c), .. } if c == "charge_already_refunded"),
        "{err:?}"
    );
    let requests = record(&mock, "refunds").await;
    let refunds = posts(&requests, "/v1/refunds");
    assert_eq!(refunds.len(), before + 1);
    let first = form(refunds[0]);
    assert_eq!(first["payment_intent"], pi);
    assert_eq!(first["amount"], "10000");
    assert_eq!(first["metadata[payment_id]"], "pay_refund_1");
    assert_eq!(
        header(refunds[0], "idempotency-key"),
        Some("pay:pay_refund_1:refund:1")
    );
    assert!(
        !form(refunds[1]).contains_key("amount"),
        "a full refund omits amount"
    );
}

#[tokio::test]
async fn stripe_error_json_is_typed_and_4xx_is_not_retried() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    mock.inject(
        "POST",
        "/v1/checkout/sessions",
        testing::error_response(
            400,
            "invalid_request_error",
            Some("amount_too_small"),
            "Amount must convert to at least 50 cents. ฿10.00 converts to approximately $0.28.",
        ),
        10,
    )
    .await;
    let err = provider
        .create_checkout(&checkout("pay_err_1", money(1000, "THB")))
        .await
        .unwrap_err();
    match &err {
        ProviderError::Api {
            provider,
            status,
            code,
            message,
        } => {
            assert_eq!(*provider, "stripe");
            assert_eq!(*status, 400);
            assert_eq!(code.as_deref(), Some("amount_too_small"));
            assert!(
                message.starts_with("Amount must convert to at least 50 cents"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.api_requests().await.len(), 1, "4xx must not be retried");

    // A wrong key: Stripe's 401, once.
    let wrong = StripeProvider::new(
        StripeConfig::new("sk_test_wrong_key", testing::TEST_WEBHOOK_SECRET)
            .unwrap()
            .with_api_base(&mock.uri())
            .unwrap(),
    )
    .unwrap();
    let err = wrong.fetch_payment("cs_test_x").await.unwrap_err();
    assert!(matches!(err, ProviderError::Api { status: 401, .. }), "{err:?}");
    assert!(!err.to_string().contains("sk_test_wrong_key"), "{err}");

    // The same key with other parameters: Stripe's idempotency_error, not retried.
    let ok = provider
        .create_checkout(&checkout("pay_err_2", money(2000, "THB")))
        .await
        .unwrap_err();
    assert!(
        matches!(ok, ProviderError::Api { status: 400, .. }),
        "still injected: {ok:?}"
    );
    let requests = record(&mock, "errors").await;
    assert_eq!(requests.len(), 3);
}

#[tokio::test]
async fn reusing_a_key_with_other_parameters_is_stripes_idempotency_error() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let first = checkout("pay_idem_1", money(20_000, "THB"));
    provider.create_checkout(&first).await.unwrap();
    let mut changed = first.clone();
    changed.amount = money(30_000, "THB");
    let err = provider.create_checkout(&changed).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Api { status: 400, code: Some(c), .. } if c == "idempotency_error"),
        "{err:?}"
    );
    // A deliberately new attempt gets a new key and a new session.
    changed.idempotency_key = idempotency_key("pay_idem_1", "checkout", 1);
    let second = provider.create_checkout(&changed).await.unwrap();
    assert_eq!(second.idempotency_key, "pay:pay_idem_1:checkout:1");
    assert_eq!(mock.session_ids().len(), 2);
    assert_eq!(record(&mock, "idempotency").await.len(), 3);
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_idempotency_key() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    mock.inject(
        "POST",
        "/v1/checkout/sessions",
        testing::error_response(500, "api_error", None, "An unknown error occurred"),
        1,
    )
    .await;
    let session = provider
        .create_checkout(&checkout("pay_retry_500", money(123_450, "THB")))
        .await
        .expect("the retry succeeds");
    assert!(session.external_id.starts_with("cs_test_"));
    let requests = record(&mock, "retry-500").await;
    let creates = posts(&requests, "/v1/checkout/sessions");
    assert_eq!(creates.len(), 2, "one 500, one success");
    let keys: Vec<_> = creates.iter().map(|r| header(r, "idempotency-key")).collect();
    assert_eq!(keys, [Some("pay:pay_retry_500:checkout:0"); 2]);
    assert_eq!(
        creates[0].body, creates[1].body,
        "the retry sends the same parameters"
    );
}

#[tokio::test]
async fn a_timeout_is_retried_with_the_same_idempotency_key() {
    let mock = MockStripe::start().await;
    let config = mock.config().with_retry(RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        timeout: Duration::from_millis(400),
    });
    let provider = StripeProvider::new(config).unwrap();
    // The first answer comes too late; the adapter gives up on it and tries again.
    let slow = json!({"id": "cs_test_too_late", "object": "checkout.session", "payment_status": "unpaid"});
    mock.inject(
        "POST",
        "/v1/checkout/sessions",
        ResponseTemplate::new(200)
            .set_body_json(slow)
            .set_delay(Duration::from_secs(3)),
        1,
    )
    .await;
    let session = provider
        .create_checkout(&checkout("pay_retry_timeout", money(123_450, "THB")))
        .await
        .expect("the retry succeeds");
    // The late answer was not waited for: the session is the retry's, not the slow one's.
    assert_ne!(
        session.external_id, "cs_test_too_late",
        "the timeout was not applied"
    );
    let requests = record(&mock, "retry-timeout").await;
    let creates = posts(&requests, "/v1/checkout/sessions");
    assert_eq!(creates.len(), 2, "one timed out, one success");
    for r in &creates {
        assert_eq!(
            header(r, "idempotency-key"),
            Some("pay:pay_retry_timeout:checkout:0")
        );
    }
    assert_eq!(creates[0].body, creates[1].body);
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_key_and_leaves_one_session() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    // Stripe creates the session, the answer never arrives; the retry gets Stripe's replay.
    mock.inject_fault("POST", "/v1/checkout/sessions", testing::Fault::LostAnswer, 1);
    let session = provider
        .create_checkout(&checkout("pay_lost", money(123_450, "THB")))
        .await
        .expect("the retry succeeds");
    assert_eq!(mock.session_ids().len(), 1, "one session at Stripe");
    assert_eq!(mock.last_session_id(), Some(session.external_id));
    let requests = record(&mock, "lost-answer").await;
    let creates = posts(&requests, "/v1/checkout/sessions");
    assert_eq!(creates.len(), 2, "one lost answer, one replay");
    assert_eq!(creates[0].body, creates[1].body);
    assert!(creates
        .iter()
        .all(|r| header(r, "idempotency-key") == Some("pay:pay_lost:checkout:0")));
}

#[tokio::test]
async fn retries_are_bounded_and_end_unavailable() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    mock.inject(
        "POST",
        "/v1/checkout/sessions",
        testing::error_response(503, "api_error", None, "Stripe is down"),
        100,
    )
    .await;
    let err = provider
        .create_checkout(&checkout("pay_down", money(123_450, "THB")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable { provider: "stripe", message } if message.contains("Stripe is down")),
        "{err:?}"
    );
    let requests = record(&mock, "retry-bounded").await;
    let creates = posts(&requests, "/v1/checkout/sessions");
    assert_eq!(creates.len(), 3, "max_attempts is 3");
    assert!(creates
        .iter()
        .all(|r| header(r, "idempotency-key") == Some("pay:pay_down:checkout:0")));
}

#[tokio::test]
async fn amounts_stripe_cannot_take_are_refused_before_any_call() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let cases = [
        (money(999, "THB"), "below Stripe's minimum charge of THB 10.00"),
        (money(49, "JPY"), "below Stripe's minimum charge of JPY 50"),
        (money(29, "GBP"), "below Stripe's minimum"),
        (money(5_125, "KWD"), "must end in 0"),
        (money(10_001, "BHD"), "must end in 0"),
        (money(500_050, "MGA"), "Stripe takes MGA with 0 decimals"),
        (money(0, "USD"), "not a positive amount"),
        (money(-500, "USD"), "not a positive amount"),
        (money(100_000_000, "USD"), "largest amount"),
    ];
    for (amount, why) in cases {
        let err = provider
            .create_checkout(&checkout("pay_refused", amount))
            .await
            .unwrap_err();
        match &err {
            ProviderError::AmountRefused(m) => assert!(m.contains(why), "{amount}: {m}"),
            other => panic!("{amount}: {other:?}"),
        }
    }
    let err = provider
        .refund(&RefundRequest {
            external_payment_id: "pi_test_123".into(),
            amount: Some(money(1_005, "KWD")),
            idempotency_key: "pay:x:refund:0".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::AmountRefused(_)), "{err:?}");
    assert!(
        mock.received_requests().await.is_empty(),
        "the mock must receive nothing for refused amounts"
    );
    assert_eq!(record(&mock, "refused").await.len(), 0);
}

#[tokio::test]
async fn idr_takes_up_to_twelve_digits_other_currencies_eight() {
    // docs.stripe.com/currencies#minimum-and-maximum-charge-amounts: up to eight digits in
    // Stripe's units (99999999), twelve for IDR.
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let largest = money(999_999_999_999, "IDR");
    let session = provider
        .create_checkout(&checkout("pay_idr_max", largest))
        .await
        .expect("twelve IDR digits are accepted");
    let requests = mock.api_requests().await;
    let sent = form(posts(&requests, "/v1/checkout/sessions").pop().unwrap());
    assert_eq!(sent["line_items[0][price_data][unit_amount]"], "999999999999");
    assert_eq!(sent["line_items[0][price_data][currency]"], "idr");
    assert_eq!(
        provider.fetch_payment(&session.external_id).await.unwrap().amount,
        Some(largest)
    );
    // Nine digits are fine for IDR, not for USD; thirteen are too many even for IDR.
    assert!(provider
        .create_checkout(&checkout("pay_idr_nine", money(100_000_000, "IDR")))
        .await
        .is_ok());
    let before = mock.api_requests().await.len();
    for amount in [money(1_000_000_000_000, "IDR"), money(100_000_000, "USD")] {
        let err = provider
            .create_checkout(&checkout("pay_too_large", amount))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ProviderError::AmountRefused(m) if m.contains("largest amount")),
            "{amount}: {err:?}"
        );
    }
    assert_eq!(mock.api_requests().await.len(), before, "refused before any call");
    record(&mock, "idr-maximum").await;
}

// ---------------------------------------------------------------------------------------------
// Webhooks

fn session_object(
    id: &str,
    payment_ref: &str,
    payment_status: &str,
    amount_total: i64,
    currency: &str,
) -> Value {
    json!({
        "id": id,
        "object": "checkout.session",
        "amount_total": amount_total,
        "currency": currency,
        "client_reference_id": payment_ref,
        "metadata": { "payment_id": payment_ref, "receipt_id": "42" },
        "mode": "payment",
        "payment_intent": "pi_test_1",
        "payment_status": payment_status,
        "status": "complete",
        "livemode": false,
    })
}

async fn parse(
    provider: &StripeProvider,
    mock: &MockStripe,
    t: &str,
    object: Value,
) -> Result<payments_core::WebhookEvent, WebhookError> {
    let now = payments_core::unix_now();
    provider
        .parse_webhook(&mock.signed_event(t, object, now).request(now))
        .await
}

#[tokio::test]
async fn events_are_mapped_from_the_signed_payload() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let thb = |a| Some(money(a, "THB"));

    let e = parse(
        &provider,
        &mock,
        "checkout.session.completed",
        session_object("cs_test_a", "pay_a", "paid", 123_450, "thb"),
    )
    .await
    .unwrap();
    assert_eq!(e.kind, EventKind::PaymentSucceeded);
    assert_eq!(e.external_payment_id.as_deref(), Some("cs_test_a"));
    assert_eq!(e.payment_ref.as_deref(), Some("pay_a"));
    assert_eq!(e.amount, thb(123_450));
    assert_eq!(e.raw_type, "checkout.session.completed");
    assert!(e.event_id.starts_with("evt_"));
    assert!(e.signature.is_verified());

    let e = parse(
        &provider,
        &mock,
        "checkout.session.completed",
        session_object("cs_test_b", "pay_b", "unpaid", 5000, "thb"),
    )
    .await
    .unwrap();
    assert_eq!(
        e.kind,
        EventKind::PaymentPending,
        "completed but unpaid is pending"
    );
    // Stripe's fulfilment rule is `payment_status != "unpaid"` (docs.stripe.com/checkout/
    // fulfillment): `no_payment_required` is done, as fetch_payment reports it; a word Stripe
    // does not document stays pending.
    for (paid, kind) in [
        ("no_payment_required", EventKind::PaymentSucceeded),
        ("processing_later", EventKind::PaymentPending),
    ] {
        let e = parse(
            &provider,
            &mock,
            "checkout.session.completed",
            session_object("cs_test_b", "pay_b", paid, 5000, "thb"),
        )
        .await
        .unwrap();
        assert_eq!(e.kind, kind, "{paid}");
    }

    for (t, kind) in [
        (
            "checkout.session.async_payment_succeeded",
            EventKind::PaymentSucceeded,
        ),
        ("checkout.session.async_payment_failed", EventKind::PaymentFailed),
        ("checkout.session.expired", EventKind::CheckoutExpired),
    ] {
        let mut obj = session_object("cs_test_c", "pay_c", "unpaid", 7000, "thb");
        if t.ends_with("succeeded") {
            obj["payment_status"] = json!("paid");
        }
        // client_reference_id alone also identifies the payment.
        obj["metadata"] = json!({});
        let e = parse(&provider, &mock, t, obj).await.unwrap();
        assert_eq!(e.kind, kind, "{t}");
        assert_eq!(e.external_payment_id.as_deref(), Some("cs_test_c"), "{t}");
        assert_eq!(e.payment_ref.as_deref(), Some("pay_c"), "{t}");
        assert_eq!(e.amount, thb(7000), "{t}");
    }

    let charge = json!({
        "id": "ch_test_1", "object": "charge", "amount": 123_450, "amount_refunded": 10_000,
        "currency": "thb", "payment_intent": "pi_test_1", "refunded": false,
        "metadata": { "payment_id": "pay_a" }
    });
    let e = parse(&provider, &mock, "charge.refunded", charge).await.unwrap();
    assert_eq!(
        e.kind,
        EventKind::Refunded {
            amount: Some(MinorUnits(10_000))
        }
    );
    assert_eq!(e.external_payment_id.as_deref(), Some("pi_test_1"));
    assert_eq!(e.payment_ref.as_deref(), Some("pay_a"));
    assert_eq!(e.amount, thb(123_450));

    // A dispute's `amount` is the disputed amount (docs.stripe.com/api/disputes/object: "usually
    // the amount of the charge, but it can differ"): part of the payment here.
    let dispute = json!({
        "id": "dp_test_1", "object": "dispute", "amount": 100_000, "currency": "thb",
        "charge": "ch_test_1", "payment_intent": "pi_test_1", "reason": "fraudulent", "metadata": {}
    });
    let e = parse(&provider, &mock, "charge.dispute.created", dispute)
        .await
        .unwrap();
    assert_eq!(e.kind, EventKind::Disputed);
    assert_eq!(e.external_payment_id.as_deref(), Some("pi_test_1"));
    assert_eq!(e.amount, thb(100_000));

    let e = parse(
        &provider,
        &mock,
        "payment_intent.created",
        json!({"id": "pi_test_9", "object": "payment_intent"}),
    )
    .await
    .unwrap();
    assert_eq!(
        e.kind,
        EventKind::Other {
            raw_type: "payment_intent.created".into()
        }
    );
    assert_eq!(e.amount, None);

    // Stripe's own decimals: ISK 1,000 is 100000 on the wire.
    let e = parse(
        &provider,
        &mock,
        "checkout.session.completed",
        session_object("cs_test_isk", "pay_isk", "paid", 100_000, "isk"),
    )
    .await
    .unwrap();
    assert_eq!(e.amount, Some(money(1000, "ISK")));

    // A succeeded session without an amount, or with one we cannot read, is malformed.
    let mut no_amount = session_object("cs_test_d", "pay_d", "paid", 1, "thb");
    no_amount.as_object_mut().unwrap().remove("amount_total");
    let err = parse(&provider, &mock, "checkout.session.completed", no_amount)
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::MalformedPayload(_)), "{err:?}");
    let err = parse(
        &provider,
        &mock,
        "checkout.session.completed",
        session_object("cs_test_e", "pay_e", "paid", 100_050, "isk"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, WebhookError::MalformedPayload(_)), "{err:?}");
    assert!(
        mock.received_requests().await.is_empty(),
        "webhooks make no calls"
    );
}

#[tokio::test]
async fn an_event_without_an_id_or_a_type_is_malformed() {
    // The event id is the idempotency key of the delivery: a signed event without one (or
    // without a type) is not a Stripe event we can act on.
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let now = payments_core::unix_now();
    let object = session_object("cs_test_noid", "pay_noid", "paid", 5000, "thb");
    for (id, t) in [
        ("", "checkout.session.completed"),
        ("  ", "checkout.session.completed"),
        ("evt_test_notype", ""),
        ("", ""),
    ] {
        let body = testing::event_body(id, t, object.clone(), now, false);
        let req = WebhookRequest::new(vec![(SIGNATURE_HEADER.into(), mock.sign(&body, now))], body, now);
        let err = provider.parse_webhook(&req).await.unwrap_err();
        assert!(
            matches!(err, WebhookError::MalformedPayload(_)),
            "id {id:?}, type {t:?}: {err:?}"
        );
    }
    // The same event with an id is accepted.
    let body = testing::event_body(
        "evt_test_withid",
        "checkout.session.completed",
        object,
        now,
        false,
    );
    let req = WebhookRequest::new(vec![(SIGNATURE_HEADER.into(), mock.sign(&body, now))], body, now);
    assert_eq!(
        provider.parse_webhook(&req).await.unwrap().event_id,
        "evt_test_withid"
    );
}

#[tokio::test]
async fn a_session_event_names_its_payment_intent_expanded_or_not() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let mut obj = session_object("cs_test_pi", "pay_pi", "paid", 5000, "thb");
    let e = parse(&provider, &mock, "checkout.session.completed", obj.clone())
        .await
        .unwrap();
    assert_eq!(e.references, ["pi_test_1"]);
    // The same session with its PaymentIntent expanded (`expand[]=payment_intent`).
    obj["payment_intent"] =
        json!({"id": "pi_test_1", "object": "payment_intent", "latest_charge": "ch_test_1"});
    let e = parse(&provider, &mock, "checkout.session.completed", obj)
        .await
        .unwrap();
    assert_eq!(e.kind, EventKind::PaymentSucceeded);
    assert_eq!(e.external_payment_id.as_deref(), Some("cs_test_pi"));
    assert_eq!(e.references, ["pi_test_1"]);
}

#[tokio::test]
async fn charge_events_reference_the_payment_and_a_dispute_not_itself() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    // A charge event's object is the charge: its id names the payment too.
    let charge = json!({
        "id": "ch_test_1", "object": "charge", "amount": 123_450, "amount_refunded": 123_450,
        "currency": "thb", "payment_intent": "pi_test_1", "refunded": true, "metadata": {}
    });
    let e = parse(&provider, &mock, "charge.refunded", charge).await.unwrap();
    assert_eq!(e.references, ["pi_test_1", "ch_test_1"]);
    // A dispute's object is the dispute (`dp_...`): an id of the dispute, not of the payment.
    let dispute = json!({
        "id": "dp_test_1", "object": "dispute", "amount": 123_450, "currency": "thb",
        "charge": "ch_test_1", "payment_intent": "pi_test_1", "reason": "fraudulent", "metadata": {}
    });
    let e = parse(&provider, &mock, "charge.dispute.created", dispute)
        .await
        .unwrap();
    assert_eq!(e.kind, EventKind::Disputed);
    assert_eq!(e.external_payment_id.as_deref(), Some("pi_test_1"));
    assert_eq!(e.references, ["pi_test_1", "ch_test_1"]);
    assert!(!e.references.iter().any(|r| r == "dp_test_1"));
}

#[tokio::test]
async fn an_unrecognised_event_names_our_payment_from_its_metadata() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let t = "payment_intent.succeeded";
    let intent = |payment_id: &str| {
        json!({
            "id": "pi_test_7", "object": "payment_intent", "amount": 5000, "currency": "thb",
            "metadata": { "payment_id": payment_id, "receipt_id": "42" }
        })
    };
    let e = parse(&provider, &mock, t, intent("pay_other")).await.unwrap();
    assert_eq!(e.kind, EventKind::Other { raw_type: t.into() });
    assert_eq!(e.external_payment_id.as_deref(), Some("pi_test_7"));
    assert_eq!(e.payment_ref.as_deref(), Some("pay_other"));
    assert_eq!(e.amount, None);
    // A blank payment_id names no payment.
    for blank in ["", "   "] {
        let e = parse(&provider, &mock, t, intent(blank)).await.unwrap();
        assert_eq!(e.payment_ref, None, "{blank:?}");
    }
}

#[tokio::test]
async fn livemode_must_match_the_key() {
    let mock = MockStripe::start().await;
    let test_provider = mock.provider();
    let now = payments_core::unix_now();
    let object = session_object("cs_live_a", "pay_live", "paid", 123_450, "thb");
    let body = testing::event_body(
        "evt_live_1",
        "checkout.session.completed",
        object.clone(),
        now,
        true,
    );
    let req = WebhookRequest::new(
        vec![(SIGNATURE_HEADER.into(), mock.sign(&body, now))],
        body.clone(),
        now,
    );
    let err = test_provider.parse_webhook(&req).await.unwrap_err();
    assert!(
        matches!(err, WebhookError::Refused(ref m) if m.contains("live-mode")),
        "{err:?}"
    );

    let live_provider =
        StripeProvider::new(StripeConfig::new("sk_live_abc", testing::TEST_WEBHOOK_SECRET).unwrap()).unwrap();
    assert!(
        live_provider.parse_webhook(&req).await.is_ok(),
        "live event, live key"
    );
    let test_body = testing::event_body("evt_test_1", "checkout.session.completed", object, now, false);
    let req = WebhookRequest::new(
        vec![(SIGNATURE_HEADER.into(), mock.sign(&test_body, now))],
        test_body,
        now,
    );
    let err = live_provider.parse_webhook(&req).await.unwrap_err();
    assert!(
        matches!(err, WebhookError::Refused(ref m) if m.contains("test-mode")),
        "{err:?}"
    );
    assert_eq!(record(&mock, "livemode").await.len(), 0);
}

#[tokio::test]
async fn rotation_and_configurable_tolerance() {
    let lookup = |k: &str| match k {
        "STRIPE_SECRET_KEY" => Some("sk_test_rotation".to_string()),
        "STRIPE_WEBHOOK_SECRET" => Some("whsec_new_one, whsec_old_one".to_string()),
        "STRIPE_WEBHOOK_TOLERANCE_SECS" => Some("60".to_string()),
        _ => None,
    };
    let provider = StripeProvider::new(StripeConfig::from_lookup(&lookup).unwrap()).unwrap();
    let now = 1_700_000_000;
    let body = testing::checkout_completed_body("cs_test_rot", "pay_rot", money(123_450, "THB"), now);
    for secret in ["whsec_new_one", "whsec_old_one"] {
        let req = WebhookRequest::new(
            vec![(SIGNATURE_HEADER.into(), testing::sign_webhook(secret, &body, now))],
            body.clone(),
            now + 60,
        );
        let e = provider
            .parse_webhook(&req)
            .await
            .unwrap_or_else(|e| panic!("{secret}: {e}"));
        assert_eq!(e.kind, EventKind::PaymentSucceeded);
    }
    // Both signatures in one header, the first one unknown: any v1 may match.
    let good = testing::sign_webhook("whsec_old_one", &body, now);
    let v1 = good.split_once(",v1=").unwrap().1;
    let header = format!("t={now},v1={},v1={v1},v0={v1}", "ab".repeat(32));
    assert_eq!(provider.verify_signature(&header, &body, now), Ok(now));
    // Only a v0: refused.
    assert!(provider
        .verify_signature(&format!("t={now},v0={v1}"), &body, now)
        .is_err());
    // 61 s away (either direction) is outside the configured 60 s.
    for received in [now + 61, now - 61] {
        let req = WebhookRequest::new(
            vec![(SIGNATURE_HEADER.into(), good.clone())],
            body.clone(),
            received,
        );
        let err = provider.parse_webhook(&req).await.unwrap_err();
        assert!(
            matches!(
                err,
                WebhookError::Signature(SignatureError::OutsideTolerance { tolerance: 60, .. })
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn the_testing_helpers_drive_a_whole_payment() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let amount = money(123_450, "THB");
    let session = provider
        .create_checkout(&checkout("pay_e2e_1", amount))
        .await
        .unwrap();
    assert_eq!(
        mock.last_session_id().as_deref(),
        Some(session.external_id.as_str())
    );
    let stored = mock
        .session_for_payment("pay_e2e_1")
        .expect("session for our payment");
    assert_eq!(stored["id"], session.external_id.as_str());
    assert!(mock.session_for_payment("pay_unknown").is_none());
    let now = payments_core::unix_now();
    let hook = mock.signed_checkout_completed(&session.external_id, "pay_e2e_1", amount, now);
    let event = provider.parse_webhook(&hook.request(now)).await.unwrap();
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(
        event.external_payment_id.as_deref(),
        Some(session.external_id.as_str())
    );
    assert_eq!(event.payment_ref.as_deref(), Some("pay_e2e_1"));
    assert_eq!(event.amount, Some(amount));
    // The mock now reports the session paid, as Stripe would.
    let snap = provider.fetch_payment(&session.external_id).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::Succeeded);

    // The same event delivered 10 minutes late is stale.
    let err = provider
        .parse_webhook(&hook.request(now + 600))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        WebhookError::Signature(SignatureError::OutsideTolerance { .. })
    ));

    // The free helper signs the same way, for a session the mock never saw.
    let free = testing::signed_checkout_completed(
        testing::TEST_WEBHOOK_SECRET,
        "cs_test_elsewhere",
        "pay_e2e_2",
        money(5000, "JPY"),
        now,
    );
    let event = provider.parse_webhook(&free.request(now)).await.unwrap();
    assert_eq!(event.external_payment_id.as_deref(), Some("cs_test_elsewhere"));
    assert_eq!(event.amount, Some(money(5000, "JPY")));

    // env_vars() configure an adapter that talks to this mock.
    let vars = mock.env_vars();
    let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    let from_env = StripeProvider::new(StripeConfig::from_lookup(&lookup).unwrap()).unwrap();
    assert_eq!(
        from_env.fetch_payment(&session.external_id).await.unwrap().status,
        PaymentStatus::Succeeded
    );
    assert_eq!(record(&mock, "helpers").await.len(), 3);
}

#[path = "stripe/lookups.rs"]
mod lookups;
#[path = "stripe/official_libraries.rs"]
mod official_libraries;
#[path = "stripe/refunds.rs"]
mod refunds;
#[path = "stripe/suite.rs"]
mod suite;
#[path = "stripe/units.rs"]
mod units;
#[path = "stripe/versions.rs"]
mod versions;
