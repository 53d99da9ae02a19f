//! Outbound calls: what `POST /charges` carries, amounts refused before any call, fetch,
//! refunds, Omise's error JSON, retries of GET only.

use std::time::Duration;

use base64::Engine as _;
use payments_core::{PaymentProvider, PaymentStatus, ProviderError, RefundRequest};
use payments_omise::testing::{MockOmise, TEST_SECRET_KEY};
use payments_omise::{OmiseConfig, API_VERSION, DEFAULT_SOURCE_TYPE};

use crate::common::{checkout, field, form, header, money, provider_with, record, thb};

#[tokio::test]
async fn create_checkout_posts_a_redirect_charge_with_our_ids_in_metadata() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let req = checkout("pay_abc123", thb(123_450));
    let session = provider.create_checkout(&req).await.expect("checkout");

    assert!(
        session.external_id.starts_with("chrg_test_"),
        "{}",
        session.external_id
    );
    assert_eq!(session.idempotency_key, req.idempotency_key);
    let stored = mock
        .charge(&session.external_id)
        .expect("the mock stored the charge");
    assert_eq!(
        session.redirect_url,
        stored["authorize_uri"].as_str().expect("authorize_uri"),
        "the payer goes to the charge's authorize_uri"
    );
    assert_eq!(stored["status"], "pending");
    assert_eq!(stored["amount"], 123_450);
    assert_eq!(stored["currency"], "THB");
    assert_eq!(stored["metadata"]["payment_id"], "pay_abc123");
    assert_eq!(stored["metadata"]["receipt_id"], "42");
    assert_eq!(stored["return_uri"], req.success_url.as_str());
    assert_eq!(stored["source"]["type"], DEFAULT_SOURCE_TYPE);

    let requests = mock.received_requests().await;
    assert_eq!(requests.len(), 2, "a look-up, then the create");
    let search = &requests[0];
    assert_eq!(search.method.as_str(), "GET");
    assert_eq!(search.url.path(), "/search");
    let query: Vec<(String, String)> = search.url.query_pairs().into_owned().collect();
    assert!(query.contains(&("scope".into(), "charge".into())), "{query:?}");
    assert!(
        query.contains(&("query".into(), "pay_abc123".into())),
        "{query:?}"
    );
    let r = &requests[1];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), "/charges");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{TEST_SECRET_KEY}:"));
    assert_eq!(
        header(r, "authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(header(r, "omise-version"), Some(API_VERSION));
    assert_eq!(API_VERSION, "2019-05-29");
    assert!(header(r, "content-type").is_some_and(|v| v.starts_with("application/x-www-form-urlencoded")));
    assert_eq!(
        header(r, "idempotency-key"),
        None,
        "Omise documents no idempotency key; none is sent"
    );
    let f = form(r);
    assert_eq!(field(&f, "amount"), Some("123450"));
    assert_eq!(field(&f, "currency"), Some("thb"));
    assert_eq!(field(&f, "source[type]"), Some(DEFAULT_SOURCE_TYPE));
    assert_eq!(field(&f, "return_uri"), Some(req.success_url.as_str()));
    assert_eq!(field(&f, "metadata[payment_id]"), Some("pay_abc123"));
    assert_eq!(field(&f, "metadata[receipt_id]"), Some("42"));
    let description = format!("{} (pay_abc123)", req.description);
    assert_eq!(
        field(&f, "description"),
        Some(description.as_str()),
        "our payment id ends it"
    );
    assert_eq!(
        field(&f, "metadata[idempotency_key]"),
        Some(req.idempotency_key.as_str())
    );
    assert!(
        field(&f, "amount").is_some_and(|a| a.bytes().all(|b| b.is_ascii_digit())),
        "the amount is an integer count of satang: {f:?}"
    );
    record(&mock, "create-checkout").await;
}

/// The description is the receipt text with our payment id at its end (the Search API finds a
/// repeated checkout's charge through it): a long receipt text is cut so that the whole stays
/// within 255 characters (counted as characters, not bytes) and our payment id is never cut off.
#[tokio::test]
async fn a_long_description_is_cut_to_255_characters_keeping_our_payment_id() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let mut req = checkout("pay_long", thb(50_000));
    req.description = "ใบเสร็จ".repeat(60);
    provider.create_checkout(&req).await.expect("checkout");
    let requests = mock.received_requests().await;
    let post = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == "/charges")
        .expect("the create");
    let f = form(post);
    let description = field(&f, "description").expect("a description");
    assert_eq!(description.chars().count(), 255, "{description}");
    assert!(description.ends_with(" (pay_long)"), "{description}");
    let kept = description.trim_end_matches(" (pay_long)");
    assert!(req.description.starts_with(kept), "{description}");
    record(&mock, "create-checkout-long-description").await;
}

#[tokio::test]
async fn the_source_type_is_configurable_and_jpy_has_no_decimals() {
    let mock = MockOmise::start().await;
    let mut config = mock.config();
    config.source_type = "shopeepay".into();
    let provider = provider_with(config);
    let session = provider
        .create_checkout(&checkout("pay_jpy", money(1_235, "JPY")))
        .await
        .expect("JPY checkout");
    let stored = mock.charge(&session.external_id).expect("stored");
    assert_eq!(stored["source"]["type"], "shopeepay");
    let requests = mock.received_requests().await;
    let post = requests.iter().find(|r| r.method.as_str() == "POST");
    let f = form(post.expect("the create"));
    assert_eq!(
        field(&f, "amount"),
        Some("1235"),
        "JPY is zero-decimal: 1,235 yen"
    );
    assert_eq!(field(&f, "currency"), Some("jpy"));
    record(&mock, "source-type-jpy").await;
}

#[tokio::test]
async fn amounts_outside_omises_limits_are_refused_before_any_call() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let cases = [
        (thb(1_999), "minimum"),
        (thb(0), "positive"),
        (thb(-2_000), "positive"),
        (thb(15_000_001), "maximum"),
        (money(99, "JPY"), "minimum"),
        (money(10_000, "KRW"), "does not accept"),
        (money(5_000, "KWD"), "does not accept"),
    ];
    for (amount, why) in cases {
        match provider.create_checkout(&checkout("pay_limits", amount)).await {
            Err(ProviderError::AmountRefused(m)) => assert!(m.contains(why), "{amount}: {m}"),
            other => panic!("{amount} gave {other:?}, expected AmountRefused"),
        }
    }
    assert!(
        mock.received_requests().await.is_empty(),
        "a refused amount reached Omise"
    );
    // The limits themselves are accepted.
    for (payment_ref, amount) in [("pay_edge_min", thb(2_000)), ("pay_edge_max", thb(15_000_000))] {
        provider
            .create_checkout(&checkout(payment_ref, amount))
            .await
            .unwrap_or_else(|e| panic!("{amount} refused: {e}"));
    }
    assert_eq!(mock.count("POST", "/charges").await, 2);
    record(&mock, "amount-limits").await;
}

#[tokio::test]
async fn fetch_payment_reports_omises_current_state() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let session = provider
        .create_checkout(&checkout("pay_fetch", thb(50_000)))
        .await
        .expect("checkout");
    let id = session.external_id.as_str();

    let snap = provider.fetch_payment(id).await.expect("fetch");
    assert_eq!(snap.status, PaymentStatus::Pending);
    assert_eq!(snap.amount, Some(thb(50_000)));
    assert_eq!(snap.payment_ref.as_deref(), Some("pay_fetch"));
    assert_eq!(snap.external_id, id);

    for (status, expected) in [
        ("successful", PaymentStatus::Succeeded),
        ("failed", PaymentStatus::Failed),
        ("expired", PaymentStatus::Expired),
        ("reversed", PaymentStatus::Canceled),
        ("something_new", PaymentStatus::Pending),
    ] {
        mock.set_charge_status(id, status);
        let snap = provider.fetch_payment(id).await.expect("fetch");
        assert_eq!(snap.status, expected, "Omise status {status}");
    }
    assert_eq!(mock.count("GET", &format!("/charges/{id}")).await, 6);

    // Ids that are not Omise charge ids never reach the network.
    for bad in ["", "chrg_", "chrg_../../account", "cs_test_123", "chrg_a?b=c"] {
        assert!(provider.fetch_payment(bad).await.is_err(), "{bad:?} accepted");
    }
    // The create (a look-up and the POST) and the six fetches.
    assert_eq!(mock.received_requests().await.len(), 8);
    record(&mock, "fetch-payment").await;
}

#[tokio::test]
async fn refunds_partial_then_the_rest() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_refund"));

    let partial = provider
        .refund(&RefundRequest {
            external_payment_id: id.clone(),
            amount: Some(thb(30_000)),
            idempotency_key: "pay:pay_refund:refund:0".into(),
        })
        .await
        .expect("partial refund");
    assert!(
        partial.refund_id.starts_with("rfnd_test_"),
        "{}",
        partial.refund_id
    );
    assert_eq!(partial.amount.map(|a| a.get()), Some(30_000));
    assert_eq!(partial.status, "closed");
    assert_eq!(mock.charge(&id).expect("charge")["refunded_amount"], 30_000);

    // Too much is Omise's typed error.
    match provider
        .refund(&RefundRequest {
            external_payment_id: id.clone(),
            amount: Some(thb(70_001)),
            idempotency_key: "pay:pay_refund:refund:1".into(),
        })
        .await
    {
        Err(ProviderError::Api {
            status: 400,
            code: Some(code),
            ..
        }) => assert_eq!(code, "invalid_amount"),
        other => panic!("over-refund gave {other:?}"),
    }

    // No amount: the rest of the charge, read from Omise first.
    let rest = provider
        .refund(&RefundRequest {
            external_payment_id: id.clone(),
            amount: None,
            idempotency_key: "pay:pay_refund:refund:2".into(),
        })
        .await
        .expect("full refund");
    assert_eq!(rest.amount.map(|a| a.get()), Some(70_000));
    let snap = provider.fetch_payment(&id).await.expect("fetch");
    assert_eq!(snap.status, PaymentStatus::Refunded);

    match provider
        .refund(&RefundRequest {
            external_payment_id: id.clone(),
            amount: None,
            idempotency_key: "pay:pay_refund:refund:3".into(),
        })
        .await
    {
        Err(ProviderError::AmountRefused(m)) => assert!(m.contains("already refunded"), "{m}"),
        other => panic!("refunding a refunded charge gave {other:?}"),
    }
    match provider
        .refund(&RefundRequest {
            external_payment_id: id.clone(),
            amount: Some(thb(0)),
            idempotency_key: "pay:pay_refund:refund:4".into(),
        })
        .await
    {
        Err(ProviderError::AmountRefused(_)) => {}
        other => panic!("a zero refund gave {other:?}"),
    }

    let path = format!("/charges/{id}/refunds");
    assert_eq!(mock.count("POST", &path).await, 3, "partial, too much, rest");
    let requests = mock.received_requests().await;
    let first = requests
        .iter()
        .find(|r| r.url.path() == path && r.method.as_str() == "POST")
        .expect("refund request");
    let f = form(first);
    assert_eq!(field(&f, "amount"), Some("30000"));
    assert_eq!(header(first, "omise-version"), Some(API_VERSION));
    record(&mock, "refunds").await;
}

#[tokio::test]
async fn omise_error_json_becomes_a_typed_error() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    match provider.fetch_payment("chrg_test_doesnotexist").await {
        Err(ProviderError::Api {
            provider: "omise",
            status: 404,
            code,
            message,
        }) => {
            assert_eq!(code.as_deref(), Some("not_found"));
            assert!(message.contains("chrg_test_doesnotexist"), "{message}");
        }
        other => panic!("unknown charge gave {other:?}"),
    }

    let mut config = mock.config();
    config.secret_key = "skey_test_notthemockkey".into();
    let wrong_key = provider_with(config);
    match wrong_key.create_checkout(&checkout("pay_auth", thb(5_000))).await {
        Err(ProviderError::Api {
            status: 401, code, ..
        }) => {
            assert_eq!(code.as_deref(), Some("authentication_failure"))
        }
        other => panic!("wrong key gave {other:?}"),
    }
    let err = wrong_key
        .fetch_payment("chrg_test_doesnotexist")
        .await
        .expect_err("wrong key");
    assert!(err.to_string().contains("authentication_failure"), "{err}");
    record(&mock, "error-json").await;
}

#[tokio::test]
async fn get_is_retried_on_5xx_but_not_on_4xx() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(20_000, "THB", "successful", Some("pay_retry"));
    let path = format!("/charges/{id}");

    mock.fail_next("GET", "/charges/", 503, 2);
    let snap = provider.fetch_payment(&id).await.expect("third attempt succeeds");
    assert_eq!(snap.status, PaymentStatus::Succeeded);
    assert_eq!(mock.count("GET", &path).await, 3, "two failures, one success");

    mock.fail_next("GET", "/charges/", 503, 3);
    match provider.fetch_payment(&id).await {
        Err(ProviderError::Unavailable { message, .. }) => assert!(message.contains("503"), "{message}"),
        other => panic!("three 503s gave {other:?}"),
    }
    assert_eq!(mock.count("GET", &path).await, 6, "bounded: 3 more attempts");

    mock.fail_next("GET", "/charges/", 429, 1);
    provider.fetch_payment(&id).await.expect("429 is retried");
    assert_eq!(mock.count("GET", &path).await, 8);

    mock.fail_next("GET", "/charges/", 400, 1);
    match provider.fetch_payment(&id).await {
        Err(ProviderError::Api { status: 400, .. }) => {}
        other => panic!("400 gave {other:?}"),
    }
    assert_eq!(mock.count("GET", &path).await, 9, "4xx is not retried");
    record(&mock, "get-retries").await;
}

#[tokio::test]
async fn a_charge_is_looked_up_before_it_is_sent_again_so_omise_holds_one() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();

    // A 503 that created nothing: the look-up finds no charge, so the create is sent again.
    mock.fail_next("POST", "/charges", 503, 1);
    let first = provider
        .create_checkout(&checkout("pay_post503", thb(5_000)))
        .await
        .expect("the second attempt creates the charge");
    assert_eq!(mock.count("POST", "/charges").await, 2, "503, then created");
    assert_eq!(mock.charges_for_payment("pay_post503").len(), 1);
    assert_eq!(mock.charge_id_for_payment("pay_post503"), Some(first.external_id));

    // A timeout after the request arrived: the charge exists at Omise, the look-up before the
    // re-send finds it, and nothing is sent again.
    let mut config = mock.config();
    config.retry.timeout = Duration::from_millis(300);
    let impatient = provider_with(config);
    mock.delay_next("POST", "/charges", Duration::from_millis(1_500), 1);
    let req = checkout("pay_timeout", thb(5_000));
    let session = impatient
        .create_checkout(&req)
        .await
        .expect("found after the timeout");
    assert_eq!(
        mock.count("POST", "/charges").await,
        3,
        "the timed-out POST was sent once"
    );
    assert_eq!(
        mock.charges_for_payment("pay_timeout").len(),
        1,
        "one charge at Omise"
    );
    assert_eq!(
        mock.charge_id_for_payment("pay_timeout"),
        Some(session.external_id.clone())
    );

    // The same checkout again (the server retrying): the same charge, no new POST.
    let again = provider.create_checkout(&req).await.expect("the same checkout");
    assert_eq!(again.external_id, session.external_id);
    assert_eq!(mock.count("POST", "/charges").await, 3);

    // Another operation of the same payment (a new idempotency key) is a new charge.
    let mut retry = req.clone();
    retry.idempotency_key = "pay:pay_timeout:checkout:1".into();
    let second = provider.create_checkout(&retry).await.expect("a new attempt");
    assert_ne!(second.external_id, session.external_id);
    assert_eq!(mock.charges_for_payment("pay_timeout").len(), 2);
    record(&mock, "post-lookup").await;
}

#[tokio::test]
async fn post_is_retried_only_when_the_connection_never_opened() {
    // A port nothing listens on: the request never leaves this machine.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut config = OmiseConfig::new(TEST_SECRET_KEY);
    config.api_base = format!("http://127.0.0.1:{port}");
    config.retry.initial_backoff = Duration::from_millis(5);
    config.retry.max_backoff = Duration::from_millis(10);
    let provider = provider_with(config);
    match provider
        .create_checkout(&checkout("pay_refused", thb(5_000)))
        .await
    {
        Err(ProviderError::Unavailable { message, .. }) => {
            assert!(message.contains("after 3 attempt"), "{message}")
        }
        other => panic!("connection refused gave {other:?}"),
    }
}

/// `POST /charges` answered with something that is not a charge (another object, or a charge
/// without a `chrg_` id) is an error, never a checkout (what cargo mutants found unchecked).
#[tokio::test]
async fn a_charge_answer_that_is_not_a_charge_is_an_error() {
    use payments_core::mock::Fault;
    use serde_json::json;
    use wiremock::ResponseTemplate;
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    for (n, answer) in [
        json!({"object": "refund", "id": "chrg_test_5x1753iuub61dfe41q4", "amount": 123_450, "currency": "thb",
               "status": "pending", "authorize_uri": "https://pay.example/a"}),
        json!({"object": "charge", "id": "rfnd_test_1", "amount": 123_450, "currency": "thb",
               "status": "pending", "authorize_uri": "https://pay.example/a"}),
    ]
    .into_iter()
    .enumerate()
    {
        mock.inject(
            "POST",
            "/charges",
            Fault::Reply(ResponseTemplate::new(200).set_body_json(answer)),
            1,
        );
        let err = provider
            .create_checkout(&checkout(&format!("pay_answer{n}"), thb(123_450)))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{n}: {err:?}");
    }
}
