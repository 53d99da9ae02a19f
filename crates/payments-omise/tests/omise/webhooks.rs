//! Webhooks: the body is never trusted (re-fetch), signatures (vector, rotation, tolerance)
//! are checked before any call to Omise, and each event key maps as documented.

use payments_core::signature::SignatureError;
use payments_core::{
    unix_now, EventKind, MinorUnits, PaymentProvider, RefundRequest, SignatureVerdict, WebhookError,
    WebhookRequest,
};
use payments_omise::testing::{
    sign_headers, MockOmise, TEST_OLD_WEBHOOK_SECRET, TEST_WEBHOOK_SECRET, WRONG_WEBHOOK_SECRET,
};
use payments_omise::{OmiseConfig, OmiseSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use serde_json::json;

use crate::common::{provider_with, record, thb, vectors};

fn signed(body: &[u8], secret: &str, signed_at: i64, received_at: i64) -> WebhookRequest {
    WebhookRequest::new(sign_headers(secret, signed_at, body), body.to_vec(), received_at)
}

#[tokio::test]
async fn the_computed_omise_vector_verifies() {
    let v = vectors("omise.json");
    let cases = v["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    let mock = MockOmise::start().await;
    for case in cases {
        let secret = case["secret_base64"].as_str().expect("secret");
        let t = case["timestamp"].as_i64().expect("timestamp");
        let payload = case["payload"].as_str().expect("payload").as_bytes();
        let expected = case["signature_hex"].as_str().expect("signature");
        let valid = case["valid"].as_bool().unwrap_or(true);

        let sig = OmiseSignature::from_base64_secrets(&[secret], 300).expect("base64");
        assert_eq!(
            sig.sign(t, payload).expect("sign") == expected,
            valid,
            "{}",
            case["name"]
        );

        // Through the adapter, with the vector's secret configured and the vector's clock.
        let mut config = mock.config();
        config.webhook_secrets = vec![secret.to_string()];
        let provider = provider_with(config);
        let headers = vec![
            (SIGNATURE_HEADER.to_string(), expected.to_string()),
            (TIMESTAMP_HEADER.to_string(), t.to_string()),
        ];
        let result = provider
            .parse_webhook(&WebhookRequest::new(headers.clone(), payload.to_vec(), t))
            .await;
        if valid {
            // The signature passes; the vector's payload is an event without an id, which the
            // adapter then refuses as malformed (never as a signature failure).
            assert!(
                matches!(result, Err(WebhookError::MalformedPayload(_))),
                "vector {}: {result:?}",
                case["name"]
            );
        } else {
            assert!(matches!(result, Err(WebhookError::Signature(_))), "{result:?}");
        }
        let mut tampered = payload.to_vec();
        tampered.extend_from_slice(b" ");
        let err = provider
            .parse_webhook(&WebhookRequest::new(headers, tampered, t))
            .await
            .expect_err("tampered");
        assert_eq!(err, WebhookError::Signature(SignatureError::Mismatch));
    }
    assert!(
        mock.received_requests().await.is_empty(),
        "nothing about the vector needed Omise"
    );
    record(&mock, "vector").await;
}

#[tokio::test]
async fn body_says_successful_but_omise_says_failed_is_a_failure() {
    let mock = MockOmise::start().await;
    let id = mock.insert_charge(123_450, "THB", "failed", Some("pay_liar"));
    let mut data = mock.charge(&id).expect("charge");
    data["status"] = json!("successful");
    data["paid"] = json!(true);
    data["failure_code"] = json!(null);
    let (event_id, body) = mock.event("charge.complete", data);
    let now = unix_now();

    for provider in [
        mock.provider(),
        provider_with(mock.config_without_webhook_secret()),
    ] {
        let event = provider
            .parse_webhook(&signed(&body, TEST_WEBHOOK_SECRET, now, now))
            .await
            .expect("a genuine event");
        assert_eq!(event.kind, EventKind::PaymentFailed, "must never finalize");
        assert_ne!(event.kind, EventKind::PaymentSucceeded);
        assert_eq!(event.event_id, event_id);
        assert_eq!(event.raw_type, "charge.complete");
        assert_eq!(event.external_payment_id.as_deref(), Some(id.as_str()));
        assert_eq!(event.payment_ref.as_deref(), Some("pay_liar"));
    }
    assert_eq!(mock.count("GET", &format!("/charges/{id}")).await, 2);
    record(&mock, "webhook-failed-refetch").await;
}

#[tokio::test]
async fn amount_currency_and_payment_id_come_from_the_refetched_charge() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_real"));
    let mut data = mock.charge(&id).expect("charge");
    data["amount"] = json!(123_450);
    data["currency"] = json!("USD");
    data["metadata"]["payment_id"] = json!("pay_forged");
    let (_, body) = mock.event("charge.complete", data);
    let now = unix_now();
    let event = provider
        .parse_webhook(&signed(&body, TEST_WEBHOOK_SECRET, now, now))
        .await
        .expect("event");
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(event.amount, Some(thb(100_000)), "Omise's amount, not the body's");
    assert_eq!(event.payment_ref.as_deref(), Some("pay_real"));
    assert_eq!(
        event.signature,
        SignatureVerdict::verified("hmac-sha256+api-refetch")
    );

    // The stored amount changes at Omise: the next event reports the new value.
    mock.set_charge_amount(&id, 99_000);
    let event = provider
        .parse_webhook(&signed(&body, TEST_WEBHOOK_SECRET, now, now))
        .await
        .expect("event");
    assert_eq!(event.amount, Some(thb(99_000)));
    record(&mock, "webhook-amount-from-refetch").await;
}

#[tokio::test]
async fn a_charge_omise_does_not_know_is_unknown_payment() {
    let mock = MockOmise::start().await;
    let now = unix_now();
    let forged = json!({"object": "charge", "id": "chrg_test_5forgedforged", "amount": 123_450,
        "currency": "THB", "status": "successful", "paid": true,
        "metadata": {"payment_id": "pay_victim"}});
    let (_, body) = mock.event("charge.complete", forged);
    for provider in [
        mock.provider(),
        provider_with(mock.config_without_webhook_secret()),
    ] {
        let err = provider
            .parse_webhook(&signed(&body, TEST_WEBHOOK_SECRET, now, now))
            .await
            .expect_err("unknown charge");
        assert_eq!(
            err,
            WebhookError::UnknownPayment("chrg_test_5forgedforged".into())
        );
        assert_eq!(err.code(), "unknown_payment");
    }
    // A charge that existed and was removed.
    let id = mock.insert_charge(20_000, "THB", "successful", Some("pay_gone"));
    let req = mock.signed_charge_complete(&id, now);
    mock.forget_charge(&id);
    let err = mock.provider().parse_webhook(&req).await.expect_err("gone");
    assert_eq!(err, WebhookError::UnknownPayment(id.clone()));
    assert_eq!(mock.count("GET", "/charges/chrg_test_5forgedforged").await, 2);
    record(&mock, "webhook-unknown-charge").await;
}

#[tokio::test]
async fn omise_unreachable_is_upstream_after_bounded_retries() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(20_000, "THB", "successful", Some("pay_down"));
    let req = mock.signed_charge_complete(&id, unix_now());
    mock.fail_next("GET", "/charges/", 503, 3);
    match provider.parse_webhook(&req).await {
        Err(WebhookError::Upstream(m)) => assert!(m.contains("503"), "{m}"),
        other => panic!("Omise down gave {other:?}"),
    }
    assert_eq!(mock.count("GET", &format!("/charges/{id}")).await, 3);
    // Once Omise answers again, the same delivery is accepted.
    let event = provider.parse_webhook(&req).await.expect("retry delivery");
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    record(&mock, "webhook-upstream").await;
}

#[tokio::test]
async fn a_bad_signature_is_refused_before_calling_omise() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(123_450, "THB", "successful", Some("pay_sig"));
    let (_, body) = mock.charge_event("charge.complete", &id);
    let now = unix_now();

    let wrong = signed(&body, WRONG_WEBHOOK_SECRET, now, now);
    assert_eq!(
        provider.parse_webhook(&wrong).await.expect_err("wrong secret"),
        WebhookError::Signature(SignatureError::Mismatch)
    );
    let unsigned = WebhookRequest::new(vec![], body.clone(), now);
    assert_eq!(
        provider.parse_webhook(&unsigned).await.expect_err("unsigned"),
        WebhookError::Signature(SignatureError::MissingHeader(SIGNATURE_HEADER))
    );
    let no_timestamp: Vec<(String, String)> = mock
        .sign(&body, now)
        .into_iter()
        .filter(|(k, _)| k != TIMESTAMP_HEADER)
        .collect();
    assert_eq!(
        provider
            .parse_webhook(&WebhookRequest::new(no_timestamp, body.clone(), now))
            .await
            .expect_err("no timestamp"),
        WebhookError::Signature(SignatureError::MissingHeader(TIMESTAMP_HEADER))
    );
    let mut other_time = mock.sign(&body, now);
    for (k, v) in other_time.iter_mut() {
        if k == TIMESTAMP_HEADER {
            *v = (now - 1).to_string();
        }
    }
    assert_eq!(
        provider
            .parse_webhook(&WebhookRequest::new(other_time, body.clone(), now))
            .await
            .expect_err("timestamp is signed"),
        WebhookError::Signature(SignatureError::Mismatch)
    );
    assert!(
        mock.received_requests().await.is_empty(),
        "a refused signature must not cause a call to Omise"
    );

    // Without a secret configured the same unsigned request is verified by the re-fetch.
    let refetch_only = provider_with(mock.config_without_webhook_secret());
    let event = refetch_only
        .parse_webhook(&unsigned)
        .await
        .expect("re-fetch verifies");
    assert_eq!(event.signature, SignatureVerdict::verified("api-refetch"));
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(mock.count("GET", &format!("/charges/{id}")).await, 1);
    record(&mock, "webhook-bad-signature").await;
}

#[tokio::test]
async fn rotation_accepts_either_secret_and_either_signature() {
    let mock = MockOmise::start().await;
    let id = mock.insert_charge(123_450, "THB", "successful", Some("pay_rot"));
    let (_, body) = mock.charge_event("charge.complete", &id);
    let now = unix_now();

    let mut config = mock.config();
    config.webhook_secrets = vec![TEST_WEBHOOK_SECRET.into(), TEST_OLD_WEBHOOK_SECRET.into()];
    let rotating = provider_with(config);
    let new_only = mock.provider();

    let by_old = signed(&body, TEST_OLD_WEBHOOK_SECRET, now, now);
    rotating
        .parse_webhook(&by_old)
        .await
        .expect("old secret during rotation");
    assert_eq!(
        new_only
            .parse_webhook(&by_old)
            .await
            .expect_err("old secret after rotation"),
        WebhookError::Signature(SignatureError::Mismatch)
    );

    // Omise lists one signature per active secret, comma-separated.
    let sig = |secret: &str| {
        OmiseSignature::from_base64_secrets(&[secret], 300)
            .expect("b64")
            .sign(now, &body)
            .expect("sign")
    };
    let both = format!("{},{}", sig(TEST_OLD_WEBHOOK_SECRET), sig(TEST_WEBHOOK_SECRET));
    let req = |value: String| {
        WebhookRequest::new(
            vec![
                (SIGNATURE_HEADER.into(), value),
                (TIMESTAMP_HEADER.into(), now.to_string()),
            ],
            body.clone(),
            now,
        )
    };
    let event = new_only
        .parse_webhook(&req(both.clone()))
        .await
        .expect("one of two matches");
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    new_only
        .parse_webhook(&req(format!("zz, {}", sig(TEST_WEBHOOK_SECRET))))
        .await
        .expect("a junk entry next to a good one");
    assert_eq!(
        new_only
            .parse_webhook(&req(format!(
                "{},{}",
                sig(WRONG_WEBHOOK_SECRET),
                sig(TEST_OLD_WEBHOOK_SECRET)
            )))
            .await
            .expect_err("none matches"),
        WebhookError::Signature(SignatureError::Mismatch)
    );
    assert_eq!(mock.count("GET", &format!("/charges/{id}")).await, 3);
    record(&mock, "webhook-rotation").await;
}

#[tokio::test]
async fn tolerance_is_configurable_and_enforced_both_ways() {
    let mock = MockOmise::start().await;
    let id = mock.insert_charge(123_450, "THB", "successful", Some("pay_tol"));
    let (_, body) = mock.charge_event("charge.complete", &id);
    let env: Vec<(String, String)> = mock
        .env_vars()
        .into_iter()
        .chain([("OMISE_WEBHOOK_TOLERANCE_SECS".to_string(), "60".to_string())])
        .collect();
    let mut config =
        OmiseConfig::from_lookup(&|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("mock environment");
    config.retry = mock.config().retry;
    let provider = provider_with(config);
    let now = unix_now();

    for (offset, ok) in [(-61, false), (61, false), (-60, true), (59, true), (0, true)] {
        let req = signed(&body, TEST_WEBHOOK_SECRET, now + offset, now);
        let result = provider.parse_webhook(&req).await;
        if ok {
            result.unwrap_or_else(|e| panic!("signed {offset}s away: {e}"));
        } else {
            match result {
                Err(WebhookError::Signature(SignatureError::OutsideTolerance { tolerance: 60, .. })) => {}
                other => panic!("signed {offset}s away gave {other:?}"),
            }
        }
    }
    assert_eq!(
        mock.count("GET", &format!("/charges/{id}")).await,
        3,
        "only the fresh signatures led to a re-fetch"
    );
    record(&mock, "webhook-tolerance").await;
}

#[tokio::test]
async fn event_keys_map_by_the_refetched_status() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let id = mock.insert_charge(50_000, "THB", "pending", Some("pay_keys"));
    let parse = |key: &'static str| {
        let (_, body) = mock.charge_event(key, &id);
        let req = WebhookRequest::new(mock.sign(&body, now), body, now);
        let provider = &provider;
        async move { provider.parse_webhook(&req).await }
    };

    assert_eq!(
        parse("charge.complete").await.expect("pending").kind,
        EventKind::PaymentPending
    );
    mock.set_charge_status(&id, "successful");
    assert_eq!(
        parse("charge.complete").await.expect("paid").kind,
        EventKind::PaymentSucceeded
    );
    mock.set_charge_status(&id, "expired");
    assert_eq!(
        parse("charge.complete").await.expect("expired").kind,
        EventKind::CheckoutExpired
    );
    assert_eq!(
        parse("charge.expire").await.expect("expire").kind,
        EventKind::CheckoutExpired
    );
    mock.set_charge_status(&id, "reversed");
    assert_eq!(
        parse("charge.complete").await.expect("reversed").kind,
        EventKind::PaymentFailed
    );
    // Omise's key is not enough: an expiry event for a charge Omise reports paid is a payment.
    mock.set_charge_status(&id, "successful");
    assert_eq!(
        parse("charge.expire").await.expect("late").kind,
        EventKind::PaymentSucceeded
    );
    // `charge.create` and `charge.capture` are read by the status too (docs.omise.co/api-webhooks:
    // "Charge has been created", "Charge has been captured").
    assert_eq!(
        parse("charge.capture").await.expect("capture").kind,
        EventKind::PaymentSucceeded
    );
    assert_eq!(
        parse("charge.create").await.expect("create").kind,
        EventKind::PaymentSucceeded
    );
    // An authorization awaiting a manual capture (capture=false, authorized, capturable,
    // status pending) is never a success; this adapter does not capture: pending.
    mock.set_charge_status(&id, "pending");
    mock.update_charge(&id, |c| {
        c["capture"] = json!(false);
        c["authorized"] = json!(true);
        c["capturable"] = json!(true);
    });
    assert_eq!(
        parse("charge.create").await.expect("authorized").kind,
        EventKind::PaymentPending
    );
    // Other charge events are acknowledged, still about a re-fetched charge.
    let other = parse("charge.update").await.expect("update");
    assert_eq!(
        other.kind,
        EventKind::Other {
            raw_type: "charge.update".into()
        }
    );
    assert_eq!(other.external_payment_id.as_deref(), Some(id.as_str()));
    assert_eq!(other.amount, Some(thb(50_000)));

    // Events about no charge: acknowledged, verified by signature only when a secret is set.
    let (_, body) = mock.event(
        "customer.create",
        json!({"object": "customer", "id": "cust_test_1"}),
    );
    let event = provider
        .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body.clone(), now))
        .await
        .expect("customer event");
    assert_eq!(
        event.kind,
        EventKind::Other {
            raw_type: "customer.create".into()
        }
    );
    assert_eq!(event.signature, SignatureVerdict::verified("hmac-sha256"));
    let unsigned = provider_with(mock.config_without_webhook_secret())
        .parse_webhook(&WebhookRequest::new(vec![], body, now))
        .await
        .expect("customer event");
    assert_eq!(unsigned.signature, SignatureVerdict::NotSigned);
    assert!(!unsigned.signature.is_verified());

    assert_eq!(mock.count("GET", &format!("/charges/{id}")).await, 10);
    record(&mock, "webhook-keys").await;
}

/// `dispute.create` ("Dispute has been opened"): the dispute is re-fetched and must be one of the
/// charge it names; the event is about the charge and states the disputed amount (part of it here).
#[tokio::test]
async fn dispute_create_is_a_dispute_of_the_refetched_charge() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let id = mock.insert_charge(50_000, "THB", "successful", Some("pay_disputed"));
    let dispute = mock.open_dispute(&id, 30_000);
    let (event_id, body) = mock.dispute_event(&dispute);
    let event = provider
        .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
        .await
        .expect("dispute");
    assert_eq!(event.kind, EventKind::Disputed);
    assert_eq!(event.event_id, event_id);
    assert_eq!(event.external_payment_id.as_deref(), Some(id.as_str()));
    assert_eq!(event.payment_ref.as_deref(), Some("pay_disputed"));
    assert_eq!(event.amount, Some(thb(30_000)), "the disputed amount");
    assert_eq!(event.references, vec![dispute.clone()]);
    assert_eq!(mock.count("GET", &format!("/disputes/{dispute}")).await, 1);

    // A body naming a dispute Omise does not hold, or one of another charge, is refused.
    let other = mock.insert_charge(10_000, "THB", "successful", Some("pay_other"));
    for data in [
        json!({"object": "dispute", "id": "dspt_test_unknown", "charge": id}),
        json!({"object": "dispute", "id": dispute, "charge": other}),
    ] {
        let (_, body) = mock.event("dispute.create", data);
        let result = provider
            .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
            .await;
        assert!(matches!(result, Err(WebhookError::Refused(_))), "{result:?}");
    }
    // Later dispute events are acknowledged, not a second dispute.
    let (_, body) = mock.event(
        "dispute.close",
        json!({"object": "dispute", "id": dispute, "charge": id}),
    );
    let closed = provider
        .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
        .await
        .expect("close");
    assert_eq!(
        closed.kind,
        EventKind::Other {
            raw_type: "dispute.close".into()
        }
    );
    record(&mock, "webhook-dispute").await;
}

#[tokio::test]
async fn refund_create_is_refunded_with_omises_refund_amount() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let id = mock.insert_charge(80_000, "THB", "successful", Some("pay_rfnd"));
    let refund = provider
        .refund(&RefundRequest {
            external_payment_id: id.clone(),
            amount: Some(thb(25_000)),
            idempotency_key: "pay:pay_rfnd:refund:0".into(),
        })
        .await
        .expect("refund");

    let (_, body) = mock.refund_event(&id, &refund.refund_id);
    let event = provider
        .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
        .await
        .expect("refund event");
    // One refund per event, never a running total: the refund's own id and amount.
    assert_eq!(event.kind, EventKind::Refunded { amount: None });
    let reported = event.refund.clone().expect("the refund is named");
    assert_eq!(
        (reported.id.as_str(), reported.amount, reported.state),
        (
            refund.refund_id.as_str(),
            Some(MinorUnits::new(25_000)),
            payments_core::RefundState::Succeeded
        )
    );
    assert!(
        event.references.contains(&refund.refund_id),
        "{:?}",
        event.references
    );
    assert_eq!(event.external_payment_id.as_deref(), Some(id.as_str()));
    assert_eq!(event.payment_ref.as_deref(), Some("pay_rfnd"));
    assert_eq!(event.amount, Some(thb(80_000)));

    // A refund event whose body inflates the amount still reports Omise's amount.
    let mut inflated: serde_json::Value =
        serde_json::from_slice(&mock.refund_event(&id, &refund.refund_id).1).expect("json");
    inflated["data"]["amount"] = json!(80_000);
    let body = serde_json::to_vec(&inflated).expect("json");
    let event = provider
        .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
        .await
        .expect("refund event");
    assert_eq!(event.kind, EventKind::Refunded { amount: None });
    assert_eq!(event.refund.and_then(|r| r.amount), Some(MinorUnits::new(25_000)));

    // A refund Omise does not know, on a real charge, is refused (no forged refunds).
    let (_, body) = mock.event(
        "refund.create",
        json!({"object": "refund", "id": "rfnd_test_5forged", "amount": 80_000, "currency": "THB", "charge": id}),
    );
    match provider
        .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
        .await
    {
        Err(WebhookError::Refused(m)) => assert!(m.contains("rfnd_test_5forged"), "{m}"),
        other => panic!("a forged refund gave {other:?}"),
    }
    record(&mock, "webhook-refund").await;
}

#[tokio::test]
async fn malformed_bodies_are_refused_without_calling_omise() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = unix_now();
    for body in [
        json!({"object": "event", "id": "evnt_1", "key": "charge.complete", "data": {"object": "charge"}}),
        json!({"object": "event", "id": "evnt_1", "key": "charge.complete",
            "data": {"object": "charge", "id": "chrg_../../account"}}),
        json!({"object": "event", "key": "charge.complete", "data": {"object": "charge", "id": "chrg_test_1"}}),
        json!({"object": "charge", "id": "chrg_test_1", "status": "successful"}),
        // An event names itself by its `id` and says what happened by its `key`: a blank one
        // names nothing, and an id far longer than any Omise id (`evnt_...`) is not one.
        json!({"object": "event", "id": " ", "key": "charge.complete",
            "data": {"object": "charge", "id": "chrg_test_1"}}),
        json!({"object": "event", "id": "evnt_1", "key": "",
            "data": {"object": "charge", "id": "chrg_test_1"}}),
        json!({"object": "event", "id": format!("evnt_{}", "a".repeat(200)), "key": "charge.complete",
            "data": {"object": "charge", "id": "chrg_test_1"}}),
    ] {
        let bytes = serde_json::to_vec(&body).expect("json");
        let req = WebhookRequest::new(mock.sign(&bytes, now), bytes, now);
        assert!(
            matches!(
                provider.parse_webhook(&req).await,
                Err(WebhookError::MalformedPayload(_))
            ),
            "{body} was not refused as malformed"
        );
    }
    assert!(mock.received_requests().await.is_empty());
    record(&mock, "webhook-malformed").await;
}

#[tokio::test]
async fn the_payer_flow_through_the_mock_hosted_page() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let req = crate::common::checkout("pay_flow", thb(123_450));
    let session = provider.create_checkout(&req).await.expect("checkout");
    assert_eq!(
        mock.charge_id_for_payment("pay_flow").as_deref(),
        Some(session.external_id.as_str())
    );

    // The payer opens authorize_uri and pays; Omise sends them back to return_uri.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = browser.get(&session.redirect_url).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let paid = browser
        .get(format!("{}?result=successful", session.redirect_url))
        .send()
        .await
        .expect("pay");
    assert_eq!(paid.status().as_u16(), 302);
    assert_eq!(
        paid.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(req.success_url.as_str())
    );

    let now = unix_now();
    let event = provider
        .parse_webhook(&mock.signed_charge_complete(&session.external_id, now))
        .await
        .expect("webhook");
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(event.payment_ref.as_deref(), Some("pay_flow"));
    assert_eq!(event.amount, Some(thb(123_450)));
    let snap = provider.fetch_payment(&session.external_id).await.expect("fetch");
    assert_eq!(snap.status, payments_core::PaymentStatus::Succeeded);
    record(&mock, "payer-flow").await;
}

/// The re-fetch is only as good as Omise's answer being about the charge asked for: an answer
/// about another charge (or that is not a charge) is never taken for it, neither by a webhook
/// (refused as an upstream fault, so Omise delivers it again) nor by `fetch_payment`.
#[tokio::test]
async fn a_refetch_answered_with_another_charge_is_never_taken_for_it() {
    use payments_core::mock::Fault;
    use wiremock::ResponseTemplate;
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let id = mock.insert_charge(50_000, "THB", "pending", Some("pay_asked"));
    let other = mock.insert_charge(90_000, "THB", "successful", Some("pay_other"));
    let mut not_a_charge = mock.charge(&id).expect("charge");
    not_a_charge["object"] = json!("refund");
    not_a_charge["status"] = json!("successful");
    for (what, answer) in [
        ("another charge", mock.charge(&other).expect("charge")),
        ("not a charge", not_a_charge),
    ] {
        let reply = || Fault::Reply(ResponseTemplate::new(200).set_body_json(answer.clone()));
        mock.inject("GET", &format!("/charges/{id}"), reply(), 1);
        match provider
            .parse_webhook(&mock.signed_charge_complete(&id, now))
            .await
        {
            Err(WebhookError::Upstream(m)) => assert!(m.contains(&id), "{what}: {m}"),
            other => panic!("{what}: {other:?}"),
        }
        mock.inject("GET", &format!("/charges/{id}"), reply(), 1);
        let err = provider.fetch_payment(&id).await.expect_err(what);
        assert!(
            matches!(err, payments_core::ProviderError::UnexpectedResponse { .. }),
            "{what}: {err:?}"
        );
    }
    // Omise answering for the charge asked: the event is about it.
    let event = provider
        .parse_webhook(&mock.signed_charge_complete(&id, now))
        .await
        .expect("event");
    assert_eq!(event.kind, EventKind::PaymentPending);
    assert_eq!(event.payment_ref.as_deref(), Some("pay_asked"));
}

/// A `dispute.create` is judged on the dispute as Omise answers `GET /disputes/{id}`: an answer
/// about another dispute of the same charge, or that is not a dispute, is refused.
#[tokio::test]
async fn a_dispute_refetch_answered_with_another_dispute_is_refused() {
    use payments_core::mock::Fault;
    use wiremock::ResponseTemplate;
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let id = mock.insert_charge(50_000, "THB", "successful", Some("pay_dspt"));
    let dispute = mock.open_dispute(&id, 30_000);
    let second = mock.open_dispute(&id, 10_000);
    let held = |d: &str| {
        let (_, body) = mock.dispute_event(d);
        let event: serde_json::Value = serde_json::from_slice(&body).expect("json");
        event["data"].clone()
    };
    let mut not_a_dispute = held(&dispute);
    not_a_dispute["object"] = json!("charge");
    for (what, answer) in [
        ("another dispute of the charge", held(&second)),
        ("not a dispute", not_a_dispute),
    ] {
        mock.inject(
            "GET",
            &format!("/disputes/{dispute}"),
            Fault::Reply(ResponseTemplate::new(200).set_body_json(answer)),
            1,
        );
        let (_, body) = mock.dispute_event(&dispute);
        let result = provider
            .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
            .await;
        assert!(
            matches!(result, Err(WebhookError::Refused(_))),
            "{what}: {result:?}"
        );
    }
    let (_, body) = mock.dispute_event(&dispute);
    let event = provider
        .parse_webhook(&WebhookRequest::new(mock.sign(&body, now), body, now))
        .await
        .expect("the dispute Omise holds");
    assert_eq!(event.kind, EventKind::Disputed);
    assert_eq!(event.amount, Some(thb(30_000)));
}

/// `payment_ref` is the re-fetched charge's `metadata.payment_id`: an empty value names no
/// payment; Omise's metadata is free JSON (Charges API: "Custom metadata (e.g. {\"answer\":
/// 42})"), so a number set there through the JSON API is given as its text.
#[tokio::test]
async fn payment_ref_is_the_charges_metadata_payment_id_when_it_names_one() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = unix_now();
    let id = mock.insert_charge(50_000, "THB", "successful", Some("pay_meta"));
    for (stored, expected) in [
        (json!("pay_meta"), Some("pay_meta")),
        (json!(""), None),
        (json!(12_345), Some("12345")),
        (json!(null), None),
    ] {
        mock.update_charge(&id, |c| c["metadata"]["payment_id"] = stored.clone());
        let event = provider
            .parse_webhook(&mock.signed_charge_complete(&id, now))
            .await
            .expect("event");
        assert_eq!(event.payment_ref.as_deref(), expected, "metadata {stored}");
        assert_eq!(event.kind, EventKind::PaymentSucceeded);
        let snap = provider.fetch_payment(&id).await.expect("fetch");
        assert_eq!(snap.payment_ref.as_deref(), expected, "metadata {stored}");
    }
}
