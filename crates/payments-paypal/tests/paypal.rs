//! The PayPal adapter against the mock PayPal (real HTTP on 127.0.0.1). Every test records the
//! requests the adapter sent, for `../shared/oracles/check-requests target/oracle-requests/paypal`.

use std::time::Duration;

use payments_core::conformance::sample_checkout_request;
use payments_core::{
    idempotency_key, unix_now, Currency, EventKind, Money, PaymentProvider, PaymentStatus, ProviderError,
    RefundRequest, SignatureError, WebhookError, WebhookRequest,
};
use payments_paypal::testing::{
    capture_resource, event_body, sign_webhook, MockPayPal, TEST_SIGNING_KEY, TEST_WEBHOOK_ID,
};
use payments_paypal::transformers::AmountWire;
use payments_paypal::webhook::transmission_message_with_crc;
use payments_paypal::{
    transmission_message, PayPalConfig, PayPalError, PayPalProvider, HEADER_TRANSMISSION_SIG,
};
use serde_json::{json, Value};

fn money(amount: i64, code: &str) -> Money {
    Money::new(amount, Currency::from_code(code).unwrap())
}

fn thb(amount: i64) -> Money {
    money(amount, "THB")
}

/// Requests the mock received on `path` with `method`.
async fn requests_to(mock: &MockPayPal, method: &str, path: &str) -> Vec<wiremock::Request> {
    mock.received()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == method && r.url.path() == path)
        .collect()
}

fn header(req: &wiremock::Request, name: &str) -> String {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn api_code(err: &ProviderError) -> Option<&str> {
    match err {
        ProviderError::Api { code, .. } => code.as_deref(),
        _ => None,
    }
}

/// A checkout created at the mock and approved by the payer.
async fn approved_order(
    mock: &MockPayPal,
    provider: &PayPalProvider,
    payment_ref: &str,
    amount: Money,
) -> String {
    let mut req = sample_checkout_request(payment_ref);
    req.amount = amount;
    let session = provider.create_checkout(&req).await.unwrap();
    assert!(mock.approve_order(&session.external_id));
    session.external_id
}

// ---------------------------------------------------------------- checkout

/// Our payment id is PayPal's `custom_id` (1 to 127 characters, Orders v2
/// `purchase_unit_request`): 127 characters go through whole, 128 are refused before any call
/// (never cut: a cut id would not name the payment when PayPal echoes it).
/// An order id goes into the URL only as PayPal writes ids (letters, digits, `-`, `_`, at most
/// 64): anything else is refused before any call (what cargo mutants found unchecked).
#[tokio::test]
async fn an_order_id_that_is_not_a_paypal_id_never_reaches_the_url() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let before = mock.received().await.len();
    let longest = "A".repeat(64);
    for bad in [
        "",
        "5O190127/../x",
        "5O19?x=1",
        "5O19 0127",
        "A%2F",
        &"A".repeat(65),
    ] {
        let err = provider.fetch_payment(bad).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::UnexpectedResponse { .. }),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(mock.received().await.len(), before, "nothing sent to PayPal");
    for fine in ["5O190127TN364715T", "ORDER-1_a", longest.as_str()] {
        let err = provider.fetch_payment(fine).await.err();
        assert!(
            !matches!(err, Some(ProviderError::UnexpectedResponse { .. })),
            "{fine:?}: {err:?}"
        );
    }
    let asked = mock.received().await[before..]
        .iter()
        .filter(|r| r.url.path().starts_with("/v2/checkout/orders/"))
        .count();
    assert_eq!(asked, 3, "each well-formed id is asked about");
}

#[tokio::test]
async fn a_payment_id_longer_than_custom_id_is_refused_before_any_call() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let fits = "p".repeat(127);
    let session = provider
        .create_checkout(&sample_checkout_request(&fits))
        .await
        .unwrap();
    let order = mock.order(&session.external_id).expect("order at the mock");
    assert_eq!(order.custom_id.as_deref(), Some(fits.as_str()));
    let before = mock.received().await.len();
    let long = "p".repeat(128);
    let err = provider
        .create_checkout(&sample_checkout_request(&long))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Config(_)), "{err:?}");
    assert_eq!(mock.received().await.len(), before, "nothing sent to PayPal");
}

#[tokio::test]
async fn create_checkout_sends_the_documented_order() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let req = sample_checkout_request("pay_order_1");
    let session = provider.create_checkout(&req).await.unwrap();

    let order = mock.order(&session.external_id).expect("order at the mock");
    assert_eq!(order.status, "PAYER_ACTION_REQUIRED");
    assert_eq!(
        session.redirect_url,
        format!("{}/checkoutnow?token={}", mock.uri(), session.external_id),
        "the payer-action link"
    );
    assert_eq!(session.idempotency_key, req.idempotency_key);

    let sent = requests_to(&mock, "POST", "/v2/checkout/orders").await;
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(
        header(r, "paypal-request-id"),
        idempotency_key("pay_order_1", "checkout", 0)
    );
    assert_eq!(header(r, "prefer"), "return=representation");
    assert!(header(r, "authorization").starts_with("Bearer "));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["intent"], "CAPTURE");
    let unit = &body["purchase_units"][0];
    assert_eq!(body["purchase_units"].as_array().unwrap().len(), 1);
    assert_eq!(unit["custom_id"], "pay_order_1");
    assert_eq!(unit["invoice_id"], "receipt-42-pay_order_1");
    assert_eq!(
        unit["amount"],
        json!({"currency_code": "THB", "value": "1234.50"})
    );
    let ctx = &body["payment_source"]["paypal"]["experience_context"];
    assert_eq!(ctx["return_url"], req.success_url.as_str());
    assert_eq!(ctx["cancel_url"], req.cancel_url.as_str());
    assert_eq!(ctx["user_action"], "PAY_NOW");

    // The same payment again: same request id, PayPal replays the same order.
    let again = provider.create_checkout(&req).await.unwrap();
    assert_eq!(again.external_id, session.external_id);
    // Another payment for the same receipt gets its own invoice id (PayPal refuses duplicates).
    let mut other = sample_checkout_request("pay_order_2");
    other.receipt_id = req.receipt_id;
    let second = provider.create_checkout(&other).await.unwrap();
    assert_ne!(second.external_id, session.external_id);
    mock.record_requests("create-checkout").await;
}

#[tokio::test]
async fn amounts_follow_paypal_decimals_and_unrepresentable_ones_are_refused() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    for (i, (m, value)) in [
        (money(1200, "HUF"), "12"),
        (money(5000, "TWD"), "50"),
        (money(1235, "JPY"), "1235"),
        (money(5, "USD"), "0.05"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut req = sample_checkout_request(&format!("pay_amount_{i}"));
        req.amount = m;
        let session = provider.create_checkout(&req).await.unwrap();
        let order = mock.order(&session.external_id).unwrap();
        assert_eq!(order.amount.value, value, "{m}");
        assert_eq!(order.amount.currency_code, m.currency.code());
    }
    let before = mock.received().await.len();
    for m in [money(1250, "HUF"), money(1, "TWD"), thb(0), thb(-100)] {
        let mut req = sample_checkout_request("pay_refused");
        req.amount = m;
        let err = provider.create_checkout(&req).await.unwrap_err();
        assert!(matches!(err, ProviderError::AmountRefused(_)), "{m}: {err:?}");
    }
    assert_eq!(mock.received().await.len(), before, "refused before any call");
    mock.record_requests("amounts").await;
}

// ---------------------------------------------------------------- capture, fetch, refund

#[tokio::test]
async fn capture_reads_the_capture_status_and_amount() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let session = provider
        .create_checkout(&sample_checkout_request("pay_cap_1"))
        .await
        .unwrap();
    let order_id = session.external_id;

    let snap = provider.fetch_payment(&order_id).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::Pending);
    assert_eq!(snap.payment_ref.as_deref(), Some("pay_cap_1"));

    // Not approved yet: PayPal's error JSON becomes a typed error.
    let key = idempotency_key("pay_cap_1", "capture", 0);
    let err = provider.capture(&order_id, &key).await.unwrap_err();
    match &err {
        ProviderError::Api {
            provider,
            status,
            code,
            message,
        } => {
            assert_eq!(*provider, "paypal");
            assert_eq!(*status, 422);
            assert_eq!(code.as_deref(), Some("ORDER_NOT_APPROVED"));
            assert!(
                message.contains("UNPROCESSABLE_ENTITY") && message.contains("debug_id"),
                "{message}"
            );
        }
        other => panic!("expected Api error, got {other:?}"),
    }

    assert!(mock.approve_order(&order_id));
    let snap = provider.fetch_payment(&order_id).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::RequiresCapture);
    assert_eq!(snap.amount, Some(thb(123_450)));

    let key = idempotency_key("pay_cap_1", "capture", 1);
    let snap = provider.capture(&order_id, &key).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::Succeeded);
    assert_eq!(snap.amount, Some(thb(123_450)));
    assert_eq!(snap.external_id, order_id);
    assert_eq!(snap.payment_ref.as_deref(), Some("pay_cap_1"));
    let captures = requests_to(&mock, "POST", &format!("/v2/checkout/orders/{order_id}/capture")).await;
    assert_eq!(header(captures.last().unwrap(), "paypal-request-id"), key);

    // Same key again: PayPal replays; another key: ORDER_ALREADY_CAPTURED is read back. Both harmless.
    assert_eq!(
        provider.capture(&order_id, &key).await.unwrap().status,
        PaymentStatus::Succeeded
    );
    let other = idempotency_key("pay_cap_1", "capture", 2);
    assert_eq!(
        provider.capture(&order_id, &other).await.unwrap().status,
        PaymentStatus::Succeeded
    );
    assert_eq!(
        provider.fetch_payment(&order_id).await.unwrap().status,
        PaymentStatus::Succeeded
    );
    mock.record_requests("capture").await;
}

#[tokio::test]
async fn a_completed_order_with_a_declined_capture_is_failed() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let order_id = approved_order(&mock, &provider, "pay_declined", thb(10_000)).await;
    mock.set_capture_outcome(&order_id, "DECLINED");
    let snap = provider
        .capture(&order_id, &idempotency_key("pay_declined", "capture", 0))
        .await
        .unwrap();
    assert_eq!(
        mock.order(&order_id).unwrap().status,
        "COMPLETED",
        "the order itself is COMPLETED"
    );
    assert_eq!(snap.status, PaymentStatus::Failed);
    assert_eq!(
        provider.fetch_payment(&order_id).await.unwrap().status,
        PaymentStatus::Failed
    );

    let pending = approved_order(&mock, &provider, "pay_pending", thb(10_000)).await;
    mock.set_capture_outcome(&pending, "PENDING");
    let snap = provider
        .capture(&pending, &idempotency_key("pay_pending", "capture", 0))
        .await
        .unwrap();
    assert_eq!(snap.status, PaymentStatus::Pending);

    let voided = provider
        .create_checkout(&sample_checkout_request("pay_voided"))
        .await
        .unwrap();
    mock.set_order_status(&voided.external_id, "VOIDED");
    assert_eq!(
        provider.fetch_payment(&voided.external_id).await.unwrap().status,
        PaymentStatus::Canceled
    );
    let err = provider.fetch_payment("5ONOSUCHORDER0001").await.unwrap_err();
    assert_eq!(api_code(&err), Some("INVALID_RESOURCE_ID"), "{err:?}");
    mock.record_requests("declined-capture").await;
}

#[tokio::test]
async fn refunds_partial_then_full_and_refuses_too_much() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let order_id = approved_order(&mock, &provider, "pay_refund", thb(123_450)).await;
    provider
        .capture(&order_id, &idempotency_key("pay_refund", "capture", 0))
        .await
        .unwrap();
    let capture_id = mock.order(&order_id).unwrap().capture.unwrap().id;

    // Partial, by order id (the adapter finds the capture).
    let partial = provider
        .refund(&RefundRequest {
            external_payment_id: order_id.clone(),
            amount: Some(thb(23_450)),
            idempotency_key: idempotency_key("pay_refund", "refund", 0),
        })
        .await
        .unwrap();
    assert_eq!(partial.amount, Some(thb(23_450).amount));
    assert_eq!(partial.status, "COMPLETED");
    let sent = requests_to(
        &mock,
        "POST",
        &format!("/v2/payments/captures/{capture_id}/refund"),
    )
    .await;
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({"amount": {"currency_code": "THB", "value": "234.50"}, "custom_id": "pay.pay_refund.refund.0"})
    );
    assert_eq!(
        header(&sent[0], "paypal-request-id"),
        idempotency_key("pay_refund", "refund", 0)
    );
    assert_eq!(
        mock.order(&order_id).unwrap().capture.unwrap().status,
        "PARTIALLY_REFUNDED"
    );
    assert_eq!(
        provider.fetch_payment(&order_id).await.unwrap().status,
        PaymentStatus::Succeeded
    );

    // Too much: typed error, not retried.
    let err = provider
        .refund(&RefundRequest {
            external_payment_id: capture_id.clone(),
            amount: Some(thb(100_001)),
            idempotency_key: idempotency_key("pay_refund", "refund", 1),
        })
        .await
        .unwrap_err();
    assert_eq!(api_code(&err), Some("REFUND_AMOUNT_EXCEEDED"), "{err:?}");

    // Full remainder, by capture id, empty body.
    let full = provider
        .refund(&RefundRequest {
            external_payment_id: capture_id.clone(),
            amount: None,
            idempotency_key: idempotency_key("pay_refund", "refund", 2),
        })
        .await
        .unwrap();
    assert_eq!(full.amount, Some(thb(100_000).amount));
    let sent = requests_to(
        &mock,
        "POST",
        &format!("/v2/payments/captures/{capture_id}/refund"),
    )
    .await;
    assert_eq!(sent.len(), 3);
    // No amount: PayPal refunds what remains; our marker still goes along.
    assert_eq!(sent[2].body, br#"{"custom_id":"pay.pay_refund.refund.2"}"#);
    let snapshot = provider.fetch_payment(&order_id).await.unwrap();
    assert_eq!(snapshot.status, PaymentStatus::Refunded);
    assert_eq!(snapshot.refunded, Some(thb(123_450).amount));
    assert_eq!(snapshot.references, vec![capture_id.clone()]);
    assert_eq!(mock.refunds().len(), 2);
    mock.record_requests("refund").await;
}

// ---------------------------------------------------------------- token, retries, errors

#[tokio::test]
async fn concurrent_requests_share_one_token() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let p = provider.clone();
            tokio::spawn(async move {
                p.create_checkout(&sample_checkout_request(&format!("pay_conc_{i}")))
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap().external_id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "20 distinct orders");
    assert_eq!(
        mock.token_requests(),
        1,
        "one token request for 20 concurrent calls"
    );
    assert_eq!(requests_to(&mock, "POST", "/v1/oauth2/token").await.len(), 1);
    // A later call still uses the cached token.
    provider.fetch_payment(&ids[0]).await.unwrap();
    assert_eq!(mock.token_requests(), 1);
    mock.record_requests("token-concurrency").await;
}

#[tokio::test]
async fn a_401_refreshes_the_token_once() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&sample_checkout_request("pay_401"))
        .await
        .unwrap();
    assert_eq!(mock.token_requests(), 1);

    mock.revoke_tokens();
    let snap = provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::Pending);
    assert_eq!(mock.token_requests(), 2, "exactly one refresh");
    let gets = requests_to(&mock, "GET", &format!("/v2/checkout/orders/{}", s.external_id)).await;
    assert_eq!(gets.len(), 2, "the rejected call and its repetition");
    assert_ne!(
        header(&gets[0], "authorization"),
        header(&gets[1], "authorization")
    );

    // A token PayPal keeps refusing: one refresh, then the 401 as a typed error (no loop).
    mock.reject_all_tokens(true);
    let err = provider.fetch_payment(&s.external_id).await.unwrap_err();
    assert!(matches!(err, ProviderError::Api { status: 401, .. }), "{err:?}");
    assert_eq!(api_code(&err), Some("invalid_token"));
    assert_eq!(mock.token_requests(), 3);
    mock.record_requests("token-401").await;
}

#[tokio::test]
async fn the_token_is_replaced_before_it_expires() {
    let mock = MockPayPal::start().await;
    mock.set_token_expires_in(1);
    let provider = mock.provider();
    let s = provider
        .create_checkout(&sample_checkout_request("pay_expiry"))
        .await
        .unwrap();
    provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(mock.token_requests(), 1, "still fresh");
    tokio::time::sleep(Duration::from_millis(700)).await;
    provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(mock.token_requests(), 2, "replaced shortly before expiry");
    mock.record_requests("token-expiry").await;
}

#[tokio::test]
async fn retries_reuse_the_same_request_id() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    mock.fail_next(2, 503);
    let req = sample_checkout_request("pay_retry");
    let session = provider.create_checkout(&req).await.unwrap();
    let posts = requests_to(&mock, "POST", "/v2/checkout/orders").await;
    assert_eq!(posts.len(), 3, "two 503s, then success");
    for p in &posts {
        assert_eq!(header(p, "paypal-request-id"), req.idempotency_key);
        assert_eq!(p.body, posts[0].body);
    }
    assert!(mock.order(&session.external_id).is_some());

    // Bounded: three 500s in a row give Unavailable after 3 attempts.
    mock.fail_next(3, 500);
    let order_id = session.external_id.clone();
    mock.approve_order(&order_id);
    let key = idempotency_key("pay_retry", "capture", 0);
    let err = provider.capture(&order_id, &key).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    let path = format!("/v2/checkout/orders/{order_id}/capture");
    assert_eq!(requests_to(&mock, "POST", &path).await.len(), 3);
    // The retry later with the same key succeeds.
    assert_eq!(
        provider.capture(&order_id, &key).await.unwrap().status,
        PaymentStatus::Succeeded
    );
    let captures = requests_to(&mock, "POST", &path).await;
    assert!(captures.iter().all(|c| header(c, "paypal-request-id") == key));

    // 4xx are not retried.
    let mut dup = sample_checkout_request("pay_retry");
    dup.idempotency_key = idempotency_key("pay_retry", "checkout", 1);
    let err = provider.create_checkout(&dup).await.unwrap_err();
    assert_eq!(api_code(&err), Some("DUPLICATE_INVOICE_ID"), "{err:?}");
    assert_eq!(requests_to(&mock, "POST", "/v2/checkout/orders").await.len(), 4);
    mock.record_requests("retries").await;
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried_with_the_same_id() {
    let mock = MockPayPal::start().await;
    let mut config = mock.config();
    config.retry.timeout = Duration::from_millis(1000);
    let provider = PayPalProvider::new(config).unwrap();
    // Obtain the token first so the delay hits the order call.
    let first = provider
        .create_checkout(&sample_checkout_request("pay_slow_0"))
        .await
        .unwrap();
    provider.fetch_payment(&first.external_id).await.unwrap();
    mock.delay_next(1, Duration::from_secs(3));
    let req = sample_checkout_request("pay_slow");
    provider.create_checkout(&req).await.unwrap();
    let posts: Vec<_> = requests_to(&mock, "POST", "/v2/checkout/orders")
        .await
        .into_iter()
        .filter(|r| header(r, "paypal-request-id") == req.idempotency_key)
        .collect();
    assert_eq!(posts.len(), 2, "the timed-out attempt and the retry");
    mock.record_requests("timeout").await;
}

#[test]
fn paypal_error_json_is_parsed() {
    let body = br#"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed.","debug_id":"f1e2d3","details":[{"field":"/purchase_units/@reference_id=='default'/amount/value","value":"12.50","location":"body","issue":"DECIMAL_PRECISION","description":"If the currency supports decimals, only two decimal place precision is supported."}],"links":[]}"#;
    let e = PayPalError::parse(body);
    assert_eq!(e.name.as_deref(), Some("UNPROCESSABLE_ENTITY"));
    assert_eq!(e.debug_id.as_deref(), Some("f1e2d3"));
    assert_eq!(e.details[0].issue.as_deref(), Some("DECIMAL_PRECISION"));
    assert_eq!(e.details[0].value.as_deref(), Some("12.50"));
    match e.into_provider_error(422) {
        ProviderError::Api {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(status, 422);
            assert_eq!(code.as_deref(), Some("DECIMAL_PRECISION"));
            assert!(
                message.contains("debug_id f1e2d3") && message.contains("amount/value"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let oauth = PayPalError::parse(
        br#"{"error":"invalid_client","error_description":"Client Authentication failed"}"#,
    );
    assert_eq!(oauth.code().as_deref(), Some("invalid_client"));
    assert!(PayPalError::parse(b"<html>bad gateway</html>")
        .describe()
        .contains("bad gateway"));
}

#[tokio::test]
async fn wrong_client_credentials_are_a_typed_error() {
    let mock = MockPayPal::start().await;
    let mut config = mock.config();
    config.client_secret = payments_paypal::config::Secret::new("wrong");
    let provider = PayPalProvider::new(config).unwrap();
    let err = provider
        .create_checkout(&sample_checkout_request("pay_badcreds"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Api { status: 401, .. }), "{err:?}");
    assert_eq!(api_code(&err), Some("invalid_client"));
    assert!(requests_to(&mock, "POST", "/v2/checkout/orders").await.is_empty());
    assert!(
        !format!("{provider:?}").contains("wrong"),
        "secret in Debug output"
    );
    mock.record_requests("bad-credentials").await;
}

// ---------------------------------------------------------------- webhooks

#[tokio::test]
async fn approval_and_capture_webhooks_map_to_the_capture_flow() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let mut req = sample_checkout_request("pay_hooks");
    req.amount = money(1200, "HUF");
    let session = provider.create_checkout(&req).await.unwrap();
    let order_id = session.external_id;

    let hook = mock.approved_webhook(&order_id, now);
    let event = provider.parse_webhook(&hook).await.unwrap();
    assert_eq!(event.kind, EventKind::CaptureRequired);
    assert_eq!(event.raw_type, "CHECKOUT.ORDER.APPROVED");
    assert!(event.event_id.starts_with("WH-"));
    assert_eq!(event.external_payment_id.as_deref(), Some(order_id.as_str()));
    assert_eq!(event.payment_ref.as_deref(), Some("pay_hooks"));
    assert_eq!(event.amount, Some(money(1200, "HUF")));
    assert!(event.signature.is_verified());

    // The server reacts with a capture; PayPal then sends PAYMENT.CAPTURE.COMPLETED.
    let snap = provider
        .capture(&order_id, &idempotency_key("pay_hooks", "capture", 0))
        .await
        .unwrap();
    assert_eq!(snap.status, PaymentStatus::Succeeded);
    assert_eq!(snap.amount, Some(money(1200, "HUF")));
    let hook = mock.capture_completed_webhook(&order_id, now);
    let event = provider.parse_webhook(&hook).await.unwrap();
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(event.external_payment_id.as_deref(), Some(order_id.as_str()));
    assert_eq!(event.payment_ref.as_deref(), Some("pay_hooks"));
    assert_eq!(event.amount, Some(money(1200, "HUF")));

    // The verify call carried the headers, our webhook id and the body unchanged.
    let verifies = requests_to(&mock, "POST", "/v1/notifications/verify-webhook-signature").await;
    let last = verifies.last().unwrap();
    let posted: Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(posted["webhook_id"], TEST_WEBHOOK_ID);
    assert_eq!(
        posted["transmission_sig"],
        hook.header(HEADER_TRANSMISSION_SIG).unwrap()
    );
    assert_eq!(posted["auth_algo"], "SHA256withRSA");
    let text = String::from_utf8(last.body.clone()).unwrap();
    assert!(
        text.contains(std::str::from_utf8(&hook.body).unwrap()),
        "raw body forwarded verbatim"
    );
    assert!(!header(last, "paypal-request-id").is_empty());
    mock.record_requests("webhooks-flow").await;
}

#[tokio::test]
async fn capture_outcome_events_map_to_pending_failed_and_refunded() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let amount = AmountWire::from_money(thb(50_000)).unwrap();
    let cases = [
        ("PAYMENT.CAPTURE.PENDING", "PENDING", EventKind::PaymentPending),
        ("PAYMENT.CAPTURE.DENIED", "DECLINED", EventKind::PaymentFailed),
        ("PAYMENT.CAPTURE.DECLINED", "DECLINED", EventKind::PaymentFailed),
        (
            "PAYMENT.CAPTURE.COMPLETED",
            "COMPLETED",
            EventKind::PaymentSucceeded,
        ),
    ];
    for (event_type, status, kind) in cases {
        let resource = capture_resource("3C00000000000XYZ", status, "5O00000000000XYZ", "pay_evt", &amount);
        let event = provider
            .parse_webhook(&mock.webhook(event_type, "capture", resource, now))
            .await
            .unwrap();
        assert_eq!(event.kind, kind, "{event_type}");
        assert_eq!(event.external_payment_id.as_deref(), Some("5O00000000000XYZ"));
        assert_eq!(event.payment_ref.as_deref(), Some("pay_evt"));
        assert_eq!(event.amount, Some(thb(50_000)));
    }
    let refund = json!({
        "id": "1R000000000000AB", "status": "COMPLETED",
        "amount": {"currency_code": "THB", "value": "100.00"}, "custom_id": "pay_evt",
        "links": [{"href": "https://api-m.paypal.com/v2/payments/captures/3C00000000000XYZ", "rel": "up", "method": "GET"}],
    });
    let event = provider
        .parse_webhook(&mock.webhook("PAYMENT.CAPTURE.REFUNDED", "refund", refund, now))
        .await
        .unwrap();
    // No running total in this refund: it is reported as this one refund (counted once per
    // refund id), and its capture (links[rel=up]) is a reference of the payment.
    assert_eq!(event.kind, EventKind::Refunded { amount: None });
    let one = event.refund.clone().expect("the refund is named");
    assert_eq!(
        (one.id.as_str(), one.amount, one.state),
        (
            "1R000000000000AB",
            Some(thb(10_000).amount),
            payments_core::RefundState::Succeeded
        )
    );
    assert_eq!(event.references, ["3C00000000000XYZ"]);
    assert_eq!(event.payment_ref.as_deref(), Some("pay_evt"));
    // A refund names no order (Payments v2 `refund` has no supplementary_data): the capture it
    // refunds is the payment; it states neither the payment's amount nor a total here.
    assert_eq!(event.external_payment_id.as_deref(), Some("3C00000000000XYZ"));
    assert_eq!(event.amount, None);

    // A capture and a refund that name neither our id nor the order's, only links[rel=up]
    // (as PayPal's published samples): the capture finds its order, the refund its capture.
    let bare_capture = json!({
        "id": "3C00000000000XYZ", "status": "COMPLETED",
        "amount": {"currency_code": "THB", "value": "500.00"},
        "links": [{"href": "https://api-m.paypal.com/v2/payments/captures/3C00000000000XYZ", "rel": "self", "method": "GET"},
                  {"href": "https://api-m.paypal.com/v2/checkout/orders/5O00000000000XYZ", "rel": "up", "method": "GET"}],
    });
    let event = provider
        .parse_webhook(&mock.webhook("PAYMENT.CAPTURE.COMPLETED", "capture", bare_capture, now))
        .await
        .unwrap();
    assert_eq!(event.external_payment_id.as_deref(), Some("5O00000000000XYZ"));
    assert_eq!(event.references, ["3C00000000000XYZ"]);
    let bare_refund = json!({
        "id": "1R000000000000CD", "status": "COMPLETED",
        "amount": {"currency_code": "THB", "value": "400.00"},
        "seller_payable_breakdown": {"total_refunded_amount": {"currency_code": "THB", "value": "500.00"}},
        "links": [{"href": "https://api-m.paypal.com/v2/payments/captures/3C00000000000XYZ", "rel": "up", "method": "GET"}],
    });
    let event = provider
        .parse_webhook(&mock.webhook("PAYMENT.CAPTURE.REFUNDED", "refund", bare_refund, now))
        .await
        .unwrap();
    assert_eq!(
        event.kind,
        EventKind::Refunded {
            amount: Some(thb(50_000).amount)
        }
    );
    assert_eq!(event.refund, None, "a running total is given");
    assert_eq!(
        (event.external_payment_id.as_deref(), event.payment_ref.as_deref()),
        (Some("3C00000000000XYZ"), None)
    );
    // The amount a refund event carries is the running total it states (THB 500.00), never
    // this refund's own THB 400.00 taken for the payment's.
    assert_eq!(event.amount, Some(thb(50_000)));
    assert_eq!(event.references, ["3C00000000000XYZ"]);
    let other = provider
        .parse_webhook(&mock.webhook("BILLING.PLAN.CREATED", "plan", json!({"id": "P-1"}), now))
        .await
        .unwrap();
    assert_eq!(
        other.kind,
        EventKind::Other {
            raw_type: "BILLING.PLAN.CREATED".into()
        }
    );

    // A known event whose resource is not what PayPal sends is malformed.
    let bad = mock.webhook("PAYMENT.CAPTURE.COMPLETED", "capture", json!({"id": 5}), now);
    assert!(matches!(
        provider.parse_webhook(&bad).await,
        Err(WebhookError::MalformedPayload(_))
    ));
    mock.record_requests("webhook-kinds").await;
}

#[tokio::test]
async fn webhook_verification_refusals() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let amount = AmountWire::from_money(thb(123_450)).unwrap();
    let body = event_body(
        "WH-REFUSALS-0001",
        "PAYMENT.CAPTURE.COMPLETED",
        "capture",
        capture_resource(
            "3C0000000000REF1",
            "COMPLETED",
            "5O0000000000REF1",
            "pay_ref",
            &amount,
        ),
    );
    let good = mock.sign(&body, now);
    assert!(provider
        .parse_webhook(&WebhookRequest::new(good.clone(), body.clone(), now))
        .await
        .is_ok());

    // Re-serialized JSON (same value, other bytes) is not what PayPal signed.
    let reserialized = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let err = provider
        .parse_webhook(&WebhookRequest::new(good.clone(), reserialized, now))
        .await
        .unwrap_err();
    assert_eq!(err, WebhookError::Signature(SignatureError::Mismatch));

    // Signed for another webhook id.
    let other_hook = sign_webhook(TEST_SIGNING_KEY, "9XX99999XX9999999", &body, now);
    let err = provider
        .parse_webhook(&WebhookRequest::new(other_hook, body.clone(), now))
        .await
        .unwrap_err();
    assert_eq!(err, WebhookError::Signature(SignatureError::Mismatch));

    // Each missing header is named.
    for missing in [
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    ] {
        let headers = good.iter().filter(|(k, _)| k != missing).cloned().collect();
        let err = provider
            .parse_webhook(&WebhookRequest::new(headers, body.clone(), now))
            .await
            .unwrap_err();
        assert!(
            matches!(err, WebhookError::Signature(SignatureError::MissingHeader(h)) if h == missing),
            "{missing}: {err:?}"
        );
    }

    // PayPal unreachable: Upstream (answer 5xx so PayPal redelivers).
    mock.fail_next(3, 503);
    let err = provider
        .parse_webhook(&WebhookRequest::new(good.clone(), body.clone(), now))
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::Upstream(_)), "{err:?}");
    let nowhere = PayPalProvider::new(PayPalConfig {
        api_base: "http://127.0.0.1:9".into(),
        ..mock.config()
    })
    .unwrap();
    let err = nowhere
        .parse_webhook(&WebhookRequest::new(good.clone(), body.clone(), now))
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::Upstream(_)), "{err:?}");

    // Malformed bodies are refused before PayPal is asked.
    let before = requests_to(&mock, "POST", "/v1/notifications/verify-webhook-signature")
        .await
        .len();
    for bad in [
        &b"{not json"[..],
        b"[]",
        b"{}",
        b"null",
        br#"{"id":"WH-1","event_type":"X","resource":[]}"#,
        br#"{"id":" ","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{}}"#,
        br#"{"id":"WH-1","event_type":"","resource":{}}"#,
        br#"{"id":"WH-1","event_type":"X","resource":{},"event_version":"1."}"#,
    ] {
        let err = provider
            .parse_webhook(&WebhookRequest::new(mock.sign(bad, now), bad.to_vec(), now))
            .await
            .unwrap_err();
        assert!(matches!(err, WebhookError::MalformedPayload(_)), "{err:?}");
    }
    // So are headers outside the verify request's limits (at most 50 characters of
    // `^(?!\d+$)\w+\S+` for the transmission id, `^[a-zA-Z0-9]+$` for the algorithm).
    let with = |name: &str, value: &str| {
        let mut headers = good.clone();
        headers.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.to_string();
        WebhookRequest::new(headers, body.clone(), now)
    };
    for (name, value) in [
        ("PAYPAL-TRANSMISSION-ID", "a".repeat(51)),
        ("PAYPAL-TRANSMISSION-ID", "1234567890".into()),
        ("PAYPAL-AUTH-ALGO", "SHA256-withRSA".into()),
    ] {
        let err = provider.parse_webhook(&with(name, &value)).await.unwrap_err();
        assert!(
            matches!(err, WebhookError::Signature(SignatureError::MalformedHeader { header, .. }) if header == name),
            "{name} {value:?}: {err:?}"
        );
    }
    assert_eq!(
        requests_to(&mock, "POST", "/v1/notifications/verify-webhook-signature")
            .await
            .len(),
        before
    );
    // At the bound the id is PayPal's to judge (not what was signed here: refused by PayPal).
    let err = provider
        .parse_webhook(&with("PAYPAL-TRANSMISSION-ID", &"a".repeat(50)))
        .await
        .unwrap_err();
    assert_eq!(err, WebhookError::Signature(SignatureError::Mismatch));
    assert_eq!(
        requests_to(&mock, "POST", "/v1/notifications/verify-webhook-signature")
            .await
            .len(),
        before + 1
    );
    mock.record_requests("webhook-refusals").await;
}

#[tokio::test]
async fn the_mock_payer_page_approves_and_returns() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let req = sample_checkout_request("pay_page");
    let session = provider.create_checkout(&req).await.unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(&session.redirect_url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&req.success_url), "{location}");
    assert!(location.contains(&format!("token={}", session.external_id)));
    assert_eq!(mock.order(&session.external_id).unwrap().status, "APPROVED");
    // Return before any webhook: the server may capture right away.
    let snap = provider
        .capture(&session.external_id, &idempotency_key("pay_page", "capture", 0))
        .await
        .unwrap();
    assert_eq!(snap.status, PaymentStatus::Succeeded);
    // The browser's visit is not an adapter request and is not recorded.
    let written = mock.record_requests("payer-page").await;
    assert_eq!(written, mock.received().await.len() - 1);
}

// ---------------------------------------------------------------- vectors

#[test]
fn message_construction_matches_the_shared_vector() {
    let v = payments_core::vectors::load("paypal");
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    let crc = u32::try_from(v["crc32_of_body"].as_u64().unwrap()).unwrap();
    assert_eq!(
        transmission_message_with_crc(
            &s("transmission_id"),
            &s("transmission_time"),
            &s("webhook_id"),
            crc
        ),
        s("expected_message")
    );
    // The CRC is CRC-32/IEEE over the raw bytes, written as an unsigned decimal.
    assert_eq!(
        transmission_message("id", "t", "W", b"123456789"),
        "id|t|W|3421780262"
    );
    assert_eq!(transmission_message("id", "t", "W", b""), "id|t|W|0");
}

#[path = "paypal/refunds.rs"]
mod refunds;
#[path = "paypal/suite.rs"]
mod suite;
#[path = "paypal/units.rs"]
mod units;
