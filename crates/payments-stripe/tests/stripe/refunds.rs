//! Refund markers and `list_refunds`, what `fetch_payment` reveals (ids, refunded total),
//! `expire_checkout`, and refund events, against the mock Stripe. Every request is recorded for
//! the oracle.

use payments_core::{
    idempotency_key, refund_marker, EventKind, KeyLifetime, MinorUnits, PaymentProvider, PaymentStatus,
    ProviderError, RefundRequest, RefundState, WebhookError, REFUND_MARKER_KEY,
};
use payments_stripe::testing::MockStripe;
use serde_json::json;

use super::{checkout, form, header, money, posts, record};

fn refund_request(external_id: &str, payment_ref: &str, amount: Option<i64>, code: &str) -> RefundRequest {
    RefundRequest {
        external_payment_id: external_id.to_string(),
        amount: amount.map(|a| money(a, code)),
        idempotency_key: idempotency_key(payment_ref, "refund", 1),
    }
}

#[tokio::test]
async fn the_adapter_declares_lookup_expiry_and_stripes_key_lifetime() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let caps = provider.capabilities();
    assert!(caps.refund && caps.fetch_payment && caps.list_refunds && caps.expire_checkout);
    assert!(!caps.capture);
    assert_eq!(provider.refund_key_lifetime(), KeyLifetime::Secs(86_400));
    assert_eq!(provider.min_checkout_lifetime_secs(), Some(1800));
}

/// A refund carries our marker in `metadata[refund_key]`; `list_refunds` of the session, its
/// PaymentIntent or its charge lists it with the marker, and a Dashboard refund without one, in
/// ISO minor units (ISK: two decimals at Stripe, none in ISO).
#[tokio::test]
async fn refunds_carry_our_marker_and_are_listed_with_it_in_our_units() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_list_1", money(10_000, "ISK")))
        .await
        .unwrap();
    // Not paid yet: nothing to list, and nothing is asked of /v1/refunds.
    assert_eq!(provider.list_refunds(&s.external_id).await.unwrap(), vec![]);
    mock.complete_session(&s.external_id).unwrap();
    let pi = mock.payment_intent_of(&s.external_id).unwrap();
    let charge = mock.charge(&s.external_id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let request = refund_request(&s.external_id, "pay_list_1", Some(3_000), "ISK");
    let made = provider.refund(&request).await.unwrap();
    assert_eq!(made.amount, Some(MinorUnits(3_000)));
    let dashboard = mock.refund_in_dashboard(&pi, Some(100_000)).unwrap();
    assert_eq!(dashboard["amount"], 100_000, "ISK 1,000 in Stripe's units");

    let marker = refund_marker(&request.idempotency_key);
    assert_eq!(marker, "pay.pay_list_1.refund.1");
    for id in [s.external_id.as_str(), pi.as_str(), charge.as_str()] {
        let listed = provider.list_refunds(id).await.unwrap();
        assert_eq!(listed.len(), 2, "{id}: {listed:?}");
        // Newest first, as Stripe lists them.
        assert_eq!(listed[0].refund_id, dashboard["id"].as_str().unwrap());
        assert_eq!(
            (listed[0].amount, listed[0].marker.as_deref()),
            (Some(MinorUnits(1_000)), None)
        );
        assert_eq!(listed[1].refund_id, made.refund_id);
        assert_eq!(listed[1].amount, Some(MinorUnits(3_000)));
        assert_eq!(listed[1].marker.as_deref(), Some(marker.as_str()));
        assert_eq!(listed[1].status, "succeeded");
    }

    let requests = record(&mock, "refund-list").await;
    let post = posts(&requests, "/v1/refunds");
    assert_eq!(post.len(), 1);
    let sent = form(post[0]);
    assert_eq!(sent[&format!("metadata[{REFUND_MARKER_KEY}]")], marker);
    assert_eq!(sent["metadata[payment_id]"], "pay_list_1");
    assert_eq!(sent["amount"], "300000");
    let lists: Vec<_> = requests
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path() == "/v1/refunds")
        .collect();
    assert_eq!(lists.len(), 3);
    let queries: Vec<_> = lists.iter().map(|r| r.url.query().unwrap_or("")).collect();
    assert_eq!(queries[0], format!("payment_intent={pi}&limit=100"));
    assert_eq!(queries[1], format!("payment_intent={pi}&limit=100"));
    assert_eq!(queries[2], format!("charge={charge}&limit=100"));
}

/// More refunds than one page: `has_more` is followed with `starting_after`, every refund once.
#[tokio::test]
async fn list_refunds_follows_has_more() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_pages", money(50_000, "THB")))
        .await
        .unwrap();
    mock.complete_session(&s.external_id).unwrap();
    for _ in 0..105 {
        mock.refund_in_dashboard(&s.external_id, Some(1)).unwrap();
    }
    let listed = provider.list_refunds(&s.external_id).await.unwrap();
    assert_eq!(listed.len(), 105);
    let mut ids: Vec<_> = listed.iter().map(|r| r.refund_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 105, "every refund exactly once");
    assert!(listed.iter().all(|r| r.amount == Some(MinorUnits(1))));

    let requests = record(&mock, "refund-pages").await;
    let lists: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/refunds")
        .map(|r| r.url.query().unwrap_or("").to_string())
        .collect();
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(
        lists[1].ends_with(&format!("&starting_after={}", listed[99].refund_id)),
        "{lists:?}"
    );
}

#[tokio::test]
async fn list_refunds_refuses_ids_that_are_not_stripes() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let err = provider.list_refunds("chrg_test_1").await.unwrap_err();
    assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{err:?}");
    let err = provider.list_refunds("pi_test_unknown").await.unwrap_err();
    assert!(matches!(err, ProviderError::Api { status: 404, .. }), "{err:?}");
    assert_eq!(mock.api_requests().await.len(), 1);
    record(&mock, "refund-list-refused").await;
}

/// `fetch_payment` expands the PaymentIntent and its latest charge: the `pi_` and `ch_` ids,
/// Stripe's cumulative `amount_refunded` (lowered again when a refund fails), and `Refunded`
/// once the charge is refunded in full.
#[tokio::test]
async fn fetch_payment_reveals_the_intent_the_charge_and_the_refunded_total() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_snap", money(123_450, "THB")))
        .await
        .unwrap();
    let open = provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(
        (open.status, open.references.clone(), open.refunded),
        (PaymentStatus::Pending, vec![], None)
    );

    mock.complete_session(&s.external_id).unwrap();
    let pi = mock.payment_intent_of(&s.external_id).unwrap();
    let charge = format!("ch_{}", &pi[3..]);
    let paid = provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(paid.status, PaymentStatus::Succeeded);
    assert_eq!(paid.references, vec![pi.clone(), charge.clone()]);
    assert_eq!(paid.refunded, Some(MinorUnits(0)));
    assert_eq!(paid.payment_ref.as_deref(), Some("pay_snap"));

    let part = provider
        .refund(&refund_request(&s.external_id, "pay_snap", Some(23_450), "THB"))
        .await
        .unwrap();
    let snap = provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(
        (snap.status, snap.refunded),
        (PaymentStatus::Succeeded, Some(MinorUnits(23_450)))
    );
    mock.refund_in_dashboard(&s.external_id, None).unwrap();
    let snap = provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(
        (snap.status, snap.refunded),
        (PaymentStatus::Refunded, Some(MinorUnits(123_450)))
    );
    // The partial refund fails later: Stripe gives its amount back to the charge.
    mock.set_refund_status(&part.refund_id, "failed").unwrap();
    let snap = provider.fetch_payment(&s.external_id).await.unwrap();
    assert_eq!(
        (snap.status, snap.refunded),
        (PaymentStatus::Succeeded, Some(MinorUnits(100_000)))
    );

    // Five fetches with both expansions; the refund's own look-up of the session needs none.
    let requests = record(&mock, "fetch-expanded").await;
    let expansions: Vec<Vec<String>> = requests
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path().starts_with("/v1/checkout/sessions/"))
        .map(|get| {
            get.url
                .query_pairs()
                .filter(|(k, _)| k == "expand[]")
                .map(|(_, v)| v.into_owned())
                .collect()
        })
        .collect();
    let both = ["payment_intent", "payment_intent.latest_charge"];
    assert_eq!(
        expansions.iter().filter(|e| e.as_slice() == both).count(),
        5,
        "{expansions:?}"
    );
    assert_eq!(
        expansions.iter().filter(|e| e.is_empty()).count(),
        1,
        "{expansions:?}"
    );
}

/// `expire_checkout` expires an open session (with an `Idempotency-Key` of its own); a session
/// paid meanwhile is refused by Stripe and reported as it stands: succeeded, never expired.
#[tokio::test]
async fn expire_checkout_expires_an_open_session_and_reports_a_paid_one_as_paid() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let open = provider
        .create_checkout(&checkout("pay_exp_1", money(50_000, "THB")))
        .await
        .unwrap();
    let snap = provider.expire_checkout(&open.external_id).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::Expired);
    assert_eq!(snap.external_id, open.external_id);
    assert_eq!(snap.amount, Some(money(50_000, "THB")));
    assert_eq!(mock.session(&open.external_id).unwrap()["status"], "expired");
    // Again: Stripe refuses (no longer open); the session is expired, and says so.
    let again = provider.expire_checkout(&open.external_id).await.unwrap();
    assert_eq!(again.status, PaymentStatus::Expired);

    let paid = provider
        .create_checkout(&checkout("pay_exp_2", money(50_000, "THB")))
        .await
        .unwrap();
    mock.complete_session(&paid.external_id).unwrap();
    let snap = provider.expire_checkout(&paid.external_id).await.unwrap();
    assert_eq!(snap.status, PaymentStatus::Succeeded);
    assert_eq!(snap.payment_ref.as_deref(), Some("pay_exp_2"));
    assert_eq!(snap.references.len(), 2, "{:?}", snap.references);
    assert_eq!(mock.session(&paid.external_id).unwrap()["status"], "complete");

    let err = provider
        .expire_checkout("cs_test_does_not_exist")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Api { status: 404, .. }), "{err:?}");
    let err = provider.expire_checkout("pi_123").await.unwrap_err();
    assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{err:?}");

    let requests = record(&mock, "expire").await;
    let expire = format!("/v1/checkout/sessions/{}/expire", open.external_id);
    let sent = posts(&requests, &expire);
    assert_eq!(sent.len(), 2);
    let key = format!("expire:{}", open.external_id);
    assert_eq!(header(sent[0], "idempotency-key"), Some(key.as_str()));
    assert!(sent[0].body.is_empty());
}

/// A session that is still open when Stripe refuses for another reason keeps Stripe's error.
#[tokio::test]
async fn an_expiry_refused_for_an_open_session_is_an_error() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_exp_3", money(50_000, "THB")))
        .await
        .unwrap();
    let path = format!("/v1/checkout/sessions/{}/expire", s.external_id);
    let refused = payments_stripe::testing::error_response(
        400,
        "invalid_request_error",
        Some("parameter_unknown"),
        "Received unknown parameter",
    );
    mock.inject("POST", &path, refused, 1).await;
    let err = provider.expire_checkout(&s.external_id).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Api { status: 400, code: Some(c), .. } if c == "parameter_unknown"),
        "{err:?}"
    );
    assert_eq!(mock.session(&s.external_id).unwrap()["status"], "open");
}

/// A refund that fails later: `charge.refund.updated` names it in state Failed (no total in a
/// refund object), and `charge.refunded` gives the charge's lowered cumulative total.
#[tokio::test]
async fn a_refund_that_fails_later_is_reported_failed_with_the_lower_total() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_fail", money(100_000, "THB")))
        .await
        .unwrap();
    mock.complete_session(&s.external_id).unwrap();
    let pi = mock.payment_intent_of(&s.external_id).unwrap();
    let first = provider
        .refund(&refund_request(&s.external_id, "pay_fail", Some(30_000), "THB"))
        .await
        .unwrap();
    let second = mock.refund_in_dashboard(&pi, Some(20_000)).unwrap();
    let now = payments_core::unix_now();

    let refunded = mock.signed_charge_refunded(&pi, now).unwrap();
    let e = provider.parse_webhook(&refunded.request(now)).await.unwrap();
    assert_eq!(
        e.kind,
        EventKind::Refunded {
            amount: Some(MinorUnits(50_000))
        }
    );

    mock.set_refund_status(&first.refund_id, "failed").unwrap();
    let updated = mock.signed_refund_updated(&first.refund_id, now).unwrap();
    let e = provider.parse_webhook(&updated.request(now)).await.unwrap();
    assert_eq!(e.raw_type, "charge.refund.updated");
    assert_eq!(e.kind, EventKind::Refunded { amount: None });
    let r = e.refund.clone().expect("the refund is named");
    assert_eq!(
        (r.id.as_str(), r.amount, r.state),
        (
            first.refund_id.as_str(),
            Some(MinorUnits(30_000)),
            RefundState::Failed
        )
    );
    assert_eq!(e.external_payment_id.as_deref(), Some(pi.as_str()));
    assert_eq!(e.references, vec![format!("ch_{}", &pi[3..])]);
    assert_eq!(e.payment_ref.as_deref(), Some("pay_fail"));
    assert_eq!(e.amount, None);

    let refunded = mock.signed_charge_refunded(&s.external_id, now).unwrap();
    let e = provider.parse_webhook(&refunded.request(now)).await.unwrap();
    assert_eq!(
        e.kind,
        EventKind::Refunded {
            amount: Some(MinorUnits(20_000))
        }
    );

    let second_id = second["id"].as_str().unwrap();
    mock.set_refund_status(second_id, "canceled").unwrap();
    let e = provider
        .parse_webhook(&mock.signed_refund_updated(second_id, now).unwrap().request(now))
        .await
        .unwrap();
    assert_eq!(e.refund.map(|r| r.state), Some(RefundState::Canceled));
    assert_eq!(
        e.payment_ref, None,
        "a Dashboard refund carries no metadata of ours"
    );
    record(&mock, "refund-failed").await;
}

/// Stripe's published shape of a failed refund (`charge.refund.updated`, with
/// `previous_attributes`), and the same object under `refund.updated` / `refund.failed`.
#[tokio::test]
async fn refund_event_types_map_the_refund_object() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let refund = json!({
        "id": "re_1Gib6ZHLwdCOCoR7VrzCnXlj", "object": "refund", "amount": 30_000,
        "balance_transaction": "txn_1Gib6ZHLwdCOCoR71Gd83huz", "charge": "ch_1Gib61HLwdCOCoR71rnkccye",
        "created": 1_589_439_823, "currency": "thb",
        "failure_balance_transaction": "txn_1Gib6dHLwdCOCoR7VQXTaZVj",
        "failure_reason": "expired_or_canceled_card", "metadata": {},
        "payment_intent": "pi_1Gib60HLwdCOCoR7KJbTO3U7", "reason": null, "receipt_number": null,
        "source_transfer_reversal": null, "status": "failed", "transfer_reversal": null
    });
    let now = payments_core::unix_now();
    for (t, status, state) in [
        ("charge.refund.updated", "failed", RefundState::Failed),
        ("refund.failed", "failed", RefundState::Failed),
        ("refund.updated", "succeeded", RefundState::Succeeded),
        ("refund.created", "pending", RefundState::Pending),
        ("refund.updated", "requires_action", RefundState::Pending),
        ("refund.updated", "canceled", RefundState::Canceled),
    ] {
        let mut object = refund.clone();
        object["status"] = json!(status);
        let mut body: serde_json::Value = serde_json::from_slice(&payments_stripe::testing::event_body(
            "evt_r", t, object, now, false,
        ))
        .unwrap();
        body["data"]["previous_attributes"] = json!({"status": "succeeded", "failure_reason": null});
        let body = serde_json::to_vec(&body).unwrap();
        let request = payments_core::WebhookRequest::new(
            vec![(payments_stripe::SIGNATURE_HEADER.into(), mock.sign(&body, now))],
            body,
            now,
        );
        let e = provider.parse_webhook(&request).await.unwrap();
        assert_eq!(e.kind, EventKind::Refunded { amount: None }, "{t}");
        let r = e.refund.expect("the refund is named");
        assert_eq!(
            (r.id.as_str(), r.amount, r.state),
            ("re_1Gib6ZHLwdCOCoR7VrzCnXlj", Some(MinorUnits(30_000)), state),
            "{t} {status}"
        );
        assert_eq!(
            e.external_payment_id.as_deref(),
            Some("pi_1Gib60HLwdCOCoR7KJbTO3U7")
        );
    }

    // A refund naming no payment cannot be matched: malformed.
    let orphan =
        json!({"id": "re_x", "object": "refund", "amount": 1, "currency": "thb", "status": "failed"});
    let hook = mock.signed_event("charge.refund.updated", orphan, now);
    let err = provider.parse_webhook(&hook.request(now)).await.unwrap_err();
    assert!(matches!(err, WebhookError::MalformedPayload(_)), "{err:?}");
    assert!(
        mock.received_requests().await.is_empty(),
        "webhooks make no calls"
    );
}
