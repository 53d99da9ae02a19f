//! Refund markers and `list_refunds` (Omise's list object, paged by offset), the refunded total
//! in `fetch_payment`, a lost refund answer, and refund states in `refund.*` webhooks.

use payments_core::{
    refund_marker, EventKind, KeyLifetime, MinorUnits, PaymentProvider, PaymentStatus, ProviderError,
    RefundRequest, RefundState, REFUND_MARKER_KEY,
};
use payments_omise::testing::MockOmise;
use serde_json::json;

use crate::common::{field, form, money, record, thb};

fn refund(id: &str, amount: Option<i64>, key: &str) -> RefundRequest {
    RefundRequest {
        external_payment_id: id.to_string(),
        amount: amount.map(thb),
        idempotency_key: key.to_string(),
    }
}

#[tokio::test]
async fn the_adapter_declares_lookup_and_takes_no_key() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let caps = provider.capabilities();
    assert!(caps.refund && caps.fetch_payment && caps.list_refunds);
    assert!(!caps.capture && !caps.expire_checkout);
    assert_eq!(provider.refund_key_lifetime(), KeyLifetime::NotTaken);
    assert_eq!(provider.min_checkout_lifetime_secs(), None);
}

/// Our marker goes into `metadata[refund_key]`; `list_refunds` lists every refund of the charge
/// (ours with the marker, a dashboard one without) in ISO minor units.
#[tokio::test]
async fn refunds_carry_our_marker_and_are_listed_with_it() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_list"));
    assert_eq!(provider.list_refunds(&id).await.unwrap(), vec![]);

    let request = refund(&id, Some(30_000), "pay:pay_list:refund:1");
    let made = provider.refund(&request).await.unwrap();
    let dashboard = mock.refund_at_omise(&id, 20_000).unwrap();
    let listed = provider.list_refunds(&id).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].refund_id, made.refund_id);
    assert_eq!(listed[0].amount, Some(MinorUnits(30_000)));
    assert_eq!(listed[0].status, "closed");
    let marker = refund_marker(&request.idempotency_key);
    assert_eq!(listed[0].marker.as_deref(), Some(marker.as_str()));
    assert_eq!(
        (
            listed[1].refund_id.as_str(),
            listed[1].amount,
            listed[1].marker.as_deref()
        ),
        (dashboard.as_str(), Some(MinorUnits(20_000)), None)
    );

    // JPY has no decimals at Omise either.
    let yen = mock.insert_charge(5_000, "JPY", "successful", None);
    mock.refund_at_omise(&yen, 1_200).unwrap();
    let listed = provider.list_refunds(&yen).await.unwrap();
    assert_eq!(listed[0].amount, Some(money(1_200, "JPY").amount));

    // Ids that are not Omise charge ids never reach the network.
    let before = mock.received_requests().await.len();
    for bad in ["", "cs_test_1", "chrg_../../account"] {
        let err = provider.list_refunds(bad).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::UnexpectedResponse { .. }),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(mock.received_requests().await.len(), before);

    let requests = mock.received_requests().await;
    let post = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == format!("/charges/{id}/refunds"))
        .expect("refund request");
    let sent = form(post);
    assert_eq!(
        field(&sent, &format!("metadata[{REFUND_MARKER_KEY}]")),
        Some(marker.as_str())
    );
    assert_eq!(
        field(&sent, "metadata[idempotency_key]"),
        Some("pay:pay_list:refund:1")
    );
    let list = requests
        .iter()
        .find(|r| r.method.as_str() == "GET" && r.url.path() == format!("/charges/{id}/refunds"))
        .expect("list request");
    assert_eq!(list.url.query(), Some("limit=100&offset=0&order=chronological"));
    record(&mock, "refund-list").await;
}

/// Omise's list object is paged: `offset` moves on by what was listed until `total`.
#[tokio::test]
async fn list_refunds_pages_by_offset() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(1_000_000, "THB", "successful", None);
    for _ in 0..130 {
        mock.refund_at_omise(&id, 100).unwrap();
    }
    let listed = provider.list_refunds(&id).await.unwrap();
    assert_eq!(listed.len(), 130);
    let ids: std::collections::BTreeSet<_> = listed.iter().map(|r| r.refund_id.clone()).collect();
    assert_eq!(ids.len(), 130, "every refund once");
    let path = format!("/charges/{id}/refunds");
    let queries: Vec<_> = (mock.received_requests().await.iter())
        .filter(|r| r.url.path() == path)
        .map(|r| r.url.query().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        queries,
        [
            "limit=100&offset=0&order=chronological",
            "limit=100&offset=100&order=chronological"
        ]
    );
    record(&mock, "refund-pages").await;
}

/// A refund whose answer is lost is not sent again (Omise takes no key); `list_refunds` finds it
/// by its marker, and Omise holds one refund.
#[tokio::test]
async fn a_lost_refund_answer_is_found_by_its_marker() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_lost"));
    mock.lose_next_refund_answer();
    let request = refund(&id, Some(40_000), "pay:pay_lost:refund:1");
    let err = provider.refund(&request).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert_eq!(mock.count("POST", &format!("/charges/{id}/refunds")).await, 1);
    let listed = provider.list_refunds(&id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].marker, Some(refund_marker(&request.idempotency_key)));
    assert_eq!(listed[0].amount, Some(MinorUnits(40_000)));
    assert_eq!(mock.refunds_of(&id).len(), 1);
    record(&mock, "refund-lost").await;
}

/// `fetch_payment` reports Omise's `refunded_amount` (lowered when a refund does not go through)
/// and no further ids.
#[tokio::test]
async fn fetch_payment_reports_the_refunded_total() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_total"));
    let snap = provider.fetch_payment(&id).await.unwrap();
    assert_eq!(
        (snap.refunded, snap.references.clone()),
        (Some(MinorUnits(0)), vec![])
    );
    let first = provider.refund(&refund(&id, Some(60_000), "k1")).await.unwrap();
    mock.refund_at_omise(&id, 40_000).unwrap();
    let snap = provider.fetch_payment(&id).await.unwrap();
    assert_eq!(
        (snap.status, snap.refunded),
        (PaymentStatus::Refunded, Some(MinorUnits(100_000)))
    );
    mock.set_refund_status(&id, &first.refund_id, "failed").unwrap();
    let snap = provider.fetch_payment(&id).await.unwrap();
    assert_eq!(
        (snap.status, snap.refunded),
        (PaymentStatus::Succeeded, Some(MinorUnits(40_000)))
    );
    // Back to closed: counted again.
    mock.set_refund_status(&id, &first.refund_id, "closed").unwrap();
    assert_eq!(mock.charge(&id).unwrap()["refunded_amount"], 100_000);
    record(&mock, "fetch-refunded").await;
}

/// The refund a `refund.*` webhook names is re-fetched: `pending` then `closed`; a voided
/// refund (carried out as a void of the charge) is done, not cancelled.
#[tokio::test]
async fn refund_webhooks_report_the_refunds_current_state() {
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let now = payments_core::unix_now();
    let id = mock.insert_charge(80_000, "THB", "successful", Some("pay_state"));
    let made = provider.refund(&refund(&id, Some(25_000), "k1")).await.unwrap();
    let state_of = |e: &payments_core::WebhookEvent| e.refund.as_ref().map(|r| r.state);

    mock.set_refund_status(&id, &made.refund_id, "pending").unwrap();
    let e = provider
        .parse_webhook(&mock.signed_refund_event(&id, &made.refund_id, now))
        .await
        .unwrap();
    assert_eq!(e.kind, EventKind::Refunded { amount: None });
    assert_eq!(state_of(&e), Some(RefundState::Pending));

    mock.set_refund_status(&id, &made.refund_id, "closed").unwrap();
    let e = provider
        .parse_webhook(&mock.signed_refund_event(&id, &made.refund_id, now))
        .await
        .unwrap();
    assert_eq!(state_of(&e), Some(RefundState::Succeeded));

    // `voided: true` is a refund carried out as a void: done, whatever the deprecated `status`
    // says (Refunds API: "Charges are voided if refund is processed before settlement time").
    let mut object = mock.refund(&id, &made.refund_id).unwrap();
    object["voided"] = json!(true);
    let parsed: payments_omise::transformers::OmiseRefund = serde_json::from_value(object.clone()).unwrap();
    assert_eq!(parsed.status_word(), "closed");
    object["status"] = json!("pending");
    let parsed: payments_omise::transformers::OmiseRefund = serde_json::from_value(object.clone()).unwrap();
    assert_eq!(
        parsed.status_word(),
        "closed",
        "a void is done even where status says pending"
    );
    object.as_object_mut().unwrap().remove("status");
    let parsed: payments_omise::transformers::OmiseRefund = serde_json::from_value(object.clone()).unwrap();
    assert_eq!(parsed.status_word(), "closed");
    object["voided"] = json!(false);
    let parsed: payments_omise::transformers::OmiseRefund = serde_json::from_value(object).unwrap();
    assert_eq!(parsed.status_word(), "pending", "no status: never taken for done");

    mock.set_refund_status(&id, &made.refund_id, "failed").unwrap();
    let e = provider
        .parse_webhook(&mock.signed_refund_event(&id, &made.refund_id, now))
        .await
        .unwrap();
    assert_eq!(state_of(&e), Some(RefundState::Failed));
    assert_eq!(e.refund.and_then(|r| r.amount), Some(MinorUnits(25_000)));
    assert_eq!(e.payment_ref.as_deref(), Some("pay_state"));
    record(&mock, "refund-states").await;
}

/// Omise's list answers are checked, not trusted: a page that is not a list, a page from another
/// offset, and a refund of another charge are errors; a refund with an empty status that was
/// voided counts as carried out, and an empty marker is no marker.
#[tokio::test]
async fn list_answers_are_checked() {
    use payments_core::mock::Fault;
    use wiremock::ResponseTemplate;
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_checked"));
    let path = format!("/charges/{id}/refunds");
    let refund_json = |charge: &str, status: &str, voided: bool, marker: &str| {
        json!({"object": "refund", "id": "rfnd_test_1", "amount": 1000, "currency": "thb",
               "charge": charge, "status": status, "voided": voided,
               "metadata": {REFUND_MARKER_KEY: marker}})
    };
    let page = |object: &str, offset: u64, data: serde_json::Value| {
        let total = data.as_array().map_or(0, Vec::len);
        Fault::Reply(ResponseTemplate::new(200).set_body_json(json!({
            "object": object, "offset": offset, "limit": 100, "total": total, "data": data})))
    };
    let fine = json!([refund_json(&id, "closed", false, "pay.x.refund.1")]);
    for (what, fault) in [
        ("not a list", page("charge", 0, fine.clone())),
        ("another offset", page("list", 5, fine.clone())),
        (
            "another charge's refund",
            page(
                "list",
                0,
                json!([refund_json("chrg_test_other", "closed", false, "m")]),
            ),
        ),
        (
            "not a refund",
            page(
                "list",
                0,
                json!([{"object": "charge", "id": "chrg_x", "amount": 1, "currency": "thb"}]),
            ),
        ),
    ] {
        mock.inject("GET", &path, fault, 1);
        let err = provider.list_refunds(&id).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::UnexpectedResponse { .. }),
            "{what}: {err:?}"
        );
    }
    mock.inject(
        "GET",
        &path,
        page("list", 0, json!([refund_json(&id, " ", true, " ")])),
        1,
    );
    let listed = provider.list_refunds(&id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].status, "closed",
        "a void without a status word was carried out"
    );
    assert_eq!(listed[0].marker, None, "an empty marker is none");
}

/// A refund that is not voided takes its `status`; without a status word (none, or a blank one)
/// it is listed `pending`, never taken for money returned.
#[tokio::test]
async fn a_refund_without_a_status_word_is_listed_pending() {
    use payments_core::mock::Fault;
    use wiremock::ResponseTemplate;
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_nostatus"));
    let path = format!("/charges/{id}/refunds");
    for status in [json!("closed"), json!(""), json!("  "), json!(null)] {
        let refund = json!({"object": "refund", "id": "rfnd_test_1", "amount": 1000,
            "currency": "thb", "charge": id, "status": status, "voided": false});
        let page = json!({"object": "list", "offset": 0, "limit": 100, "total": 1, "data": [refund]});
        mock.inject(
            "GET",
            &path,
            Fault::Reply(ResponseTemplate::new(200).set_body_json(page)),
            1,
        );
        let listed = provider.list_refunds(&id).await.unwrap();
        let expected = if status == "closed" { "closed" } else { "pending" };
        assert_eq!(listed[0].status, expected, "status {status}");
    }
}

/// A refund answered with something that is not a refund, or a refund without an id, is an
/// error, never taken for a refund made.
#[tokio::test]
async fn a_refund_answer_that_is_not_a_refund_is_an_error() {
    use payments_core::mock::Fault;
    use wiremock::ResponseTemplate;
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_answer"));
    for (n, answer) in [
        json!({"object": "charge", "id": "rfnd_test_1", "amount": 1000, "currency": "thb", "status": "closed"}),
        json!({"object": "refund", "id": "", "amount": 1000, "currency": "thb", "status": "closed"}),
    ]
    .into_iter()
    .enumerate()
    {
        mock.inject(
            "POST",
            &format!("/charges/{id}/refunds"),
            Fault::Reply(ResponseTemplate::new(200).set_body_json(answer)),
            1,
        );
        let err = provider
            .refund(&refund(&id, Some(1000), &format!("pay:pay_answer:refund:{n}")))
            .await
            .unwrap_err();
        assert!(matches!(err, ProviderError::UnexpectedResponse { .. }), "{n}: {err:?}");
    }
}

/// A refund event is judged on the refund as Omise answers it: one answered with another id,
/// or as a refund of another charge, is refused, never recorded against this charge.
#[tokio::test]
async fn a_refund_event_whose_refetch_names_another_refund_or_charge_is_refused() {
    use payments_core::mock::Fault;
    use wiremock::ResponseTemplate;
    let mock = MockOmise::start().await;
    let provider = mock.provider();
    let id = mock.insert_charge(100_000, "THB", "successful", Some("pay_foreign"));
    let made = provider
        .refund(&refund(&id, Some(1000), "pay:pay_foreign:refund:1"))
        .await
        .unwrap();
    for (what, answer) in [
        (
            "another refund id",
            json!({"object": "refund", "id": "rfnd_test_other", "amount": 1000, "currency": "thb",
                   "charge": id, "status": "closed"}),
        ),
        (
            "another charge",
            json!({"object": "refund", "id": made.refund_id, "amount": 1000, "currency": "thb",
                   "charge": "chrg_test_other", "status": "closed"}),
        ),
    ] {
        mock.inject(
            "GET",
            &format!("/charges/{id}/refunds/{}", made.refund_id),
            Fault::Reply(ResponseTemplate::new(200).set_body_json(answer)),
            1,
        );
        let hook = mock.signed_refund_event(&id, &made.refund_id, payments_core::unix_now());
        let err = provider.parse_webhook(&hook).await.unwrap_err();
        assert!(
            matches!(err, payments_core::WebhookError::Refused(_)),
            "{what}: {err:?}"
        );
    }
}
