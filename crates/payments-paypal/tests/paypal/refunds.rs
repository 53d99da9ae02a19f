//! Refunds found again: our marker in `custom_id`, `list_refunds` from the order's
//! `purchase_units[].payments.refunds`, a lost answer settled by listing, and the capture ids and
//! refunded total every snapshot reports.

use payments_core::{
    idempotency_key, refund_marker, unix_now, EventKind, KeyLifetime, PaymentProvider, PaymentStatus,
    ProviderError, RefundRequest, RefundState,
};
use payments_paypal::testing::MockPayPal;
use serde_json::Value;

use crate::{approved_order, header, requests_to, thb};

fn request(order_id: &str, units: Option<i64>, n: u32) -> RefundRequest {
    RefundRequest {
        external_payment_id: order_id.to_string(),
        amount: units.map(thb),
        idempotency_key: idempotency_key("pay_listed", "refund", n),
    }
}

#[tokio::test]
async fn refunds_are_listed_with_their_marker_status_and_amount() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let order_id = approved_order(&mock, &provider, "pay_listed", thb(10_000)).await;
    let captured = provider
        .capture(&order_id, &idempotency_key("pay_listed", "capture", 0))
        .await
        .unwrap();
    let capture_id = mock.order(&order_id).unwrap().capture.unwrap().id;
    assert_eq!(
        captured.references,
        vec![capture_id.clone()],
        "the capture we made is reported"
    );
    assert_eq!(captured.refunded, None, "no refunds listed yet");
    assert!(provider.list_refunds(&order_id).await.unwrap().is_empty());

    let ours = provider
        .refund(&request(&order_id, Some(3_000), 1))
        .await
        .unwrap();
    let dashboard = mock.dashboard_refund(&order_id, 2_000, "PENDING").unwrap();
    let listed = provider.list_refunds(&order_id).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let marker = refund_marker(&idempotency_key("pay_listed", "refund", 1));
    assert_eq!(marker, "pay.pay_listed.refund.1");
    assert_eq!(listed[0].refund_id, ours.refund_id);
    assert_eq!(listed[0].marker.as_deref(), Some(marker.as_str()));
    assert_eq!(listed[0].amount, Some(thb(3_000).amount));
    assert_eq!(listed[0].status, "COMPLETED");
    assert_eq!(listed[1].refund_id, dashboard);
    assert_eq!(listed[1].marker, None, "a dashboard refund is not ours");
    assert_eq!(listed[1].status, "PENDING");
    // Only completed refunds count in the total.
    let snapshot = provider.fetch_payment(&order_id).await.unwrap();
    assert_eq!(snapshot.refunded, Some(thb(3_000).amount));
    assert_eq!(snapshot.status, PaymentStatus::Succeeded);

    assert!(mock.set_refund_status(&ours.refund_id, "CANCELLED"));
    assert!(mock.set_refund_status(&dashboard, "FAILED"));
    let listed = provider.list_refunds(&order_id).await.unwrap();
    let states: Vec<RefundState> = listed
        .iter()
        .map(|r| RefundState::from_provider(&r.status))
        .collect();
    assert_eq!(states, [RefundState::Canceled, RefundState::Failed]);
    let snapshot = provider.fetch_payment(&order_id).await.unwrap();
    assert_eq!(snapshot.refunded, Some(thb(0).amount));
    assert_eq!(snapshot.references, vec![capture_id]);
    mock.record_requests("refund-list").await;
}

#[tokio::test]
async fn a_capture_made_without_our_adapter_is_reported_with_its_refunds() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let order_id = approved_order(&mock, &provider, "pay_elsewhere", thb(5_000)).await;
    let capture_id = mock.capture_order(&order_id, "COMPLETED").unwrap();
    mock.dashboard_refund(&order_id, 5_000, "COMPLETED").unwrap();
    let snapshot = provider.fetch_payment(&order_id).await.unwrap();
    assert_eq!(snapshot.status, PaymentStatus::Refunded);
    assert_eq!(snapshot.references, vec![capture_id]);
    assert_eq!(snapshot.refunded, Some(thb(5_000).amount));
    assert_eq!(snapshot.amount, Some(thb(5_000)));
    mock.record_requests("refund-dashboard").await;
}

#[tokio::test]
async fn a_lost_refund_answer_is_found_by_listing_not_by_sending_again() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let order_id = approved_order(&mock, &provider, "pay_listed", thb(10_000)).await;
    let capture_id = mock.capture_order(&order_id, "COMPLETED").unwrap();
    mock.lose_next_refund();
    let lost = provider.refund(&request(&order_id, Some(4_000), 1)).await;
    assert!(matches!(lost, Err(ProviderError::Unavailable { .. })), "{lost:?}");
    let sent = requests_to(
        &mock,
        "POST",
        &format!("/v2/payments/captures/{capture_id}/refund"),
    )
    .await;
    assert_eq!(sent.len(), 3, "every attempt of the retry policy");
    for attempt in &sent {
        assert_eq!(header(attempt, "paypal-request-id"), "pay:pay_listed:refund:1");
        let body: Value = serde_json::from_slice(&attempt.body).unwrap();
        assert_eq!(body["custom_id"], "pay.pay_listed.refund.1");
    }
    assert_eq!(mock.refunds_of(&order_id).len(), 1, "made once");
    mock.forget_request_ids();
    let listed = provider.list_refunds(&order_id).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].marker.as_deref(), Some("pay.pay_listed.refund.1"));
    assert_eq!(listed[0].amount, Some(thb(4_000).amount));
    mock.record_requests("refund-lost").await;
}

#[tokio::test]
async fn a_refund_event_with_our_marker_names_the_capture_not_our_payment() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let order_id = approved_order(&mock, &provider, "pay_listed", thb(10_000)).await;
    let capture_id = mock.capture_order(&order_id, "COMPLETED").unwrap();
    provider
        .refund(&request(&order_id, Some(1_000), 1))
        .await
        .unwrap();
    let resource = mock.refunds().pop().unwrap();
    assert_eq!(resource["custom_id"], "pay.pay_listed.refund.1");
    let hook = mock.webhook("PAYMENT.CAPTURE.REFUNDED", "refund", resource, unix_now());
    let event = provider.parse_webhook(&hook).await.unwrap();
    assert_eq!(event.kind, EventKind::Refunded { amount: None });
    assert_eq!(event.payment_ref, None, "a refund marker is not our payment id");
    assert_eq!(event.references, vec![capture_id]);
    let refund = event.refund.expect("the refund itself");
    assert_eq!(
        (refund.amount, refund.state),
        (Some(thb(1_000).amount), RefundState::Succeeded)
    );
}

#[tokio::test]
async fn refund_lookup_is_declared_and_keys_live_45_days() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let caps = provider.capabilities();
    assert!(caps.list_refunds && caps.refund && caps.capture && !caps.expire_checkout);
    assert_eq!(provider.refund_key_lifetime(), KeyLifetime::Secs(45 * 86_400));
    let unknown = provider.list_refunds("5O190127TN364715T").await.unwrap_err();
    assert!(
        matches!(unknown, ProviderError::Api { status: 404, .. }),
        "{unknown:?}"
    );
    let too_long = RefundRequest {
        idempotency_key: "k".repeat(200),
        ..request("5O190127TN364715T", None, 0)
    };
    let before = mock.received().await.len();
    let refused = provider.refund(&too_long).await.unwrap_err();
    assert!(matches!(refused, ProviderError::Config(_)), "{refused:?}");
    assert_eq!(
        mock.received().await.len(),
        before,
        "a key that cannot be a custom_id is refused before any call"
    );
    mock.record_requests("refund-lookup").await;
}

/// A marker fills PayPal's `custom_id` up to its 127 characters; one more is refused before any
/// call.
#[tokio::test]
async fn a_marker_of_up_to_127_characters_is_sent_one_more_is_refused() {
    let mock = MockPayPal::start().await;
    let provider = mock.provider();
    let order_id = approved_order(&mock, &provider, "pay_long", thb(10_000)).await;
    provider
        .capture(&order_id, &idempotency_key("pay_long", "capture", 0))
        .await
        .unwrap();
    let refund = |key: String| RefundRequest {
        external_payment_id: order_id.clone(),
        amount: Some(thb(1_000)),
        idempotency_key: key,
    };
    let made = provider.refund(&refund("k".repeat(127))).await.unwrap();
    assert!(!made.refund_id.is_empty());
    let before = mock.received().await.len();
    let err = provider.refund(&refund("k".repeat(128))).await.unwrap_err();
    assert!(matches!(err, ProviderError::Config(_)), "{err:?}");
    assert_eq!(mock.received().await.len(), before, "refused before any call");
}
