//! `fetch_payment` of a PaymentIntent id `pi_...` or a charge id `ch_...`: resolved to the
//! Checkout Session that created the payment (`GET /v1/checkout/sessions?payment_intent=`,
//! `GET /v1/charges/{id}`), so that an event naming only those ids finds our payment. Every
//! request is recorded for the oracle.

use payments_core::{MinorUnits, PaymentProvider, PaymentStatus, ProviderError};
use payments_stripe::testing::MockStripe;
use serde_json::json;
use wiremock::ResponseTemplate;

use super::{checkout, header, money, record};

/// The snapshot of a `pi_` or `ch_` id is the session's: its `cs_` id, our payment id, the
/// `pi_`/`ch_` references and the refunded total, exactly as for the `cs_` id itself.
#[tokio::test]
async fn fetch_payment_by_intent_or_charge_reports_the_session() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_lookup_1", money(50_000, "THB")))
        .await
        .unwrap();
    // A second paid session, so that the look-up must pick the right one.
    let other = provider
        .create_checkout(&checkout("pay_lookup_2", money(70_000, "THB")))
        .await
        .unwrap();
    mock.complete_session(&s.external_id).unwrap();
    mock.complete_session(&other.external_id).unwrap();
    mock.refund_in_dashboard(&s.external_id, Some(10_000)).unwrap();
    let pi = mock.payment_intent_of(&s.external_id).unwrap();
    let charge = mock.charge(&s.external_id).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        pi.starts_with("pi_") && charge.starts_with("ch_"),
        "{pi} {charge}"
    );

    let by_session = provider.fetch_payment(&s.external_id).await.unwrap();
    for id in [pi.as_str(), charge.as_str()] {
        let snap = provider.fetch_payment(id).await.unwrap();
        assert_eq!(snap, by_session, "{id}");
        assert_eq!(snap.external_id, s.external_id, "{id}");
        assert_eq!(snap.payment_ref.as_deref(), Some("pay_lookup_1"), "{id}");
        assert_eq!(snap.references, vec![pi.clone(), charge.clone()], "{id}");
        assert_eq!(snap.status, PaymentStatus::Succeeded);
        assert_eq!(snap.refunded, Some(MinorUnits(10_000)));
    }

    let requests = record(&mock, "lookups").await;
    let gets: Vec<_> = requests.iter().filter(|r| r.method.as_str() == "GET").collect();
    let paths: Vec<String> = gets
        .iter()
        .map(|g| match g.url.query() {
            Some(q) if g.url.path() == "/v1/checkout/sessions" => format!("{}?{q}", g.url.path()),
            _ => g.url.path().to_string(),
        })
        .collect();
    let list = format!("/v1/checkout/sessions?payment_intent={pi}&limit=1");
    let session = format!("/v1/checkout/sessions/{}", s.external_id);
    let expected = vec![
        session.clone(),
        list.clone(),
        session.clone(),
        format!("/v1/charges/{charge}"),
        list,
        session,
    ];
    assert_eq!(paths, expected);
    for g in gets {
        assert_eq!(header(g, "stripe-version"), Some(super::STRIPE_VERSION));
        assert!(g.body.is_empty());
    }
}

/// The mock lists sessions as Stripe does: a list object, newest first, filtered by
/// `payment_intent`; it answers a charge with the charge JSON and unknown ids with
/// `resource_missing`.
#[tokio::test]
async fn the_mock_lists_sessions_by_intent_and_serves_charges() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_lookup_mock", money(5_000, "USD")))
        .await
        .unwrap();
    mock.complete_session(&s.external_id).unwrap();
    let pi = mock.payment_intent_of(&s.external_id).unwrap();
    let charge = mock.charge(&pi).unwrap();
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{}{path}", mock.uri()))
            .bearer_auth(mock.secret_key())
            .send()
    };

    let answer = get(format!("/v1/checkout/sessions?payment_intent={pi}&limit=1"))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let list: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        (&list["object"], &list["has_more"], &list["url"]),
        (&json!("list"), &json!(false), &json!("/v1/checkout/sessions"))
    );
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["id"], s.external_id.as_str());
    assert_eq!(list["data"][0]["payment_intent"], pi.as_str());

    let answer = get(format!("/v1/charges/{}", charge["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let got: serde_json::Value = answer.json().await.unwrap();
    assert_eq!((&got["id"], &got["payment_intent"]), (&charge["id"], &json!(pi)));

    for path in [
        "/v1/charges/ch_test_unknown".to_string(),
        "/v1/checkout/sessions?payment_intent=pi_test_unknown&limit=1".to_string(),
    ] {
        let answer = get(path.clone()).await.unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "resource_missing", "{path}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{path}: {body}");
    }
    record(&mock, "lookups-mock").await;
}

/// An id Stripe does not know, or a PaymentIntent no Checkout Session created, is a 404 error,
/// never a snapshot.
#[tokio::test]
async fn an_unknown_intent_or_charge_is_an_error() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();

    for id in ["pi_test_unknown", "ch_test_unknown", "py_test_unknown"] {
        let err = provider.fetch_payment(id).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Api { status: 404, code: Some(c), .. } if c == "resource_missing"),
            "{id}: {err:?}"
        );
    }

    // Stripe knows the PaymentIntent, but no Checkout Session created it.
    let empty = json!({"object": "list", "data": [], "has_more": false, "url": "/v1/checkout/sessions"});
    mock.inject(
        "GET",
        "/v1/checkout/sessions",
        ResponseTemplate::new(200).set_body_json(empty),
        1,
    )
    .await;
    let err = provider
        .fetch_payment("pi_test_outside_checkout")
        .await
        .unwrap_err();
    match &err {
        ProviderError::Api { status, message, .. } => {
            assert_eq!(*status, 404);
            assert!(
                message.contains("no Checkout Session for pi_test_outside_checkout"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Not retried: one request per id, and one for the session-less PaymentIntent.
    let requests = record(&mock, "lookups-unknown").await;
    assert_eq!(requests.len(), 4, "{requests:?}");
}

/// Stripe's answers are checked, not trusted: a session listed for a PaymentIntent that is of
/// another one, a listed session that turns out to be of another one when fetched, and an
/// expire answered with another session are errors, never another payment's snapshot.
#[tokio::test]
async fn answers_about_another_payment_are_refused() {
    let mock = MockStripe::start().await;
    let provider = mock.provider();
    let s = provider
        .create_checkout(&checkout("pay_lookup_mine", money(50_000, "THB")))
        .await
        .unwrap();
    let other = provider
        .create_checkout(&checkout("pay_lookup_theirs", money(70_000, "THB")))
        .await
        .unwrap();
    mock.complete_session(&s.external_id).unwrap();
    mock.complete_session(&other.external_id).unwrap();
    let pi = mock.payment_intent_of(&s.external_id).unwrap();
    let theirs = mock.session(&other.external_id).unwrap();

    // The list answers with the other session (of another PaymentIntent).
    let listed =
        json!({"object": "list", "data": [theirs], "has_more": false, "url": "/v1/checkout/sessions"});
    mock.inject(
        "GET",
        "/v1/checkout/sessions",
        ResponseTemplate::new(200).set_body_json(listed.clone()),
        1,
    )
    .await;
    let err = provider.fetch_payment(&pi).await.unwrap_err();
    assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{err:?}");
    mock.inject(
        "GET",
        "/v1/checkout/sessions",
        ResponseTemplate::new(200).set_body_json(listed),
        1,
    )
    .await;
    let err = provider.session_id_of_payment_intent(&pi).await.unwrap_err();
    assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{err:?}");

    // The list names our session, but fetching it gives one of another PaymentIntent.
    let mut mine = mock.session(&s.external_id).unwrap();
    let listed =
        json!({"object": "list", "data": [mine.clone()], "has_more": false, "url": "/v1/checkout/sessions"});
    mock.inject(
        "GET",
        "/v1/checkout/sessions",
        ResponseTemplate::new(200).set_body_json(listed),
        1,
    )
    .await;
    mine["payment_intent"] = json!("pi_someone_else");
    mock.inject(
        "GET",
        &format!("/v1/checkout/sessions/{}", s.external_id),
        ResponseTemplate::new(200).set_body_json(mine),
        1,
    )
    .await;
    let err = provider.fetch_payment(&pi).await.unwrap_err();
    assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{err:?}");

    // Expiring our open session, Stripe answers with another session.
    let open = provider
        .create_checkout(&checkout("pay_lookup_open", money(50_000, "THB")))
        .await
        .unwrap();
    mock.inject(
        "POST",
        &format!("/v1/checkout/sessions/{}/expire", open.external_id),
        ResponseTemplate::new(200).set_body_json(mock.session(&other.external_id).unwrap()),
        1,
    )
    .await;
    let err = provider.expire_checkout(&open.external_id).await.unwrap_err();
    assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{err:?}");
    assert_eq!(mock.session(&open.external_id).unwrap()["status"], "open");
}
