//! The adapter on Mollie's own published payloads (docs/providers/mollie-examples/, from Mollie's
//! official clients), served by a loopback mock exactly as published.

use payments_core::mock::{Method, ProviderMock, Reply};
use payments_core::{EventKind, PaymentProvider, ProviderError, WebhookError, WebhookRequest};
use payments_mollie::testing::API_KEY;
use payments_mollie::{MollieConfig, MollieProvider};

const PAID: &str = include_str!("../../../../docs/providers/mollie-examples/sdk-node-payment-paid.json");
const CANCELED: &str =
    include_str!("../../../../docs/providers/mollie-examples/sdk-python-payment-canceled.json");
const UNAUTHORIZED: &str =
    include_str!("../../../../docs/providers/mollie-examples/error-401-unauthorized-sdk.json");

async fn published() -> (ProviderMock<()>, MollieProvider) {
    let json = |text: &str| serde_json::from_str(text).expect("published JSON");
    let (paid, canceled, refused) = (json(PAID), json(CANCELED), json(UNAUTHORIZED));
    let mock = ProviderMock::builder("mollie", ())
        .route(Method::GET, "/v2/payments/tr_44aKxzEbr8", move |_, _| {
            Reply::json(200, &paid)
        })
        .route(Method::GET, "/v2/payments/tr_7UhSN1zuXS", move |_, _| {
            Reply::json(200, &canceled)
        })
        .route(Method::GET, "/v2/payments/tr_refused", move |_, _| {
            Reply::json(401, &refused)
        })
        .start()
        .await;
    let base = mock.uri();
    let lookup = |name: &str| match name {
        "MOLLIE_API_KEY" => Some(API_KEY.to_string()),
        "MOLLIE_API_BASE" => Some(base.clone()),
        "SITE_BASE_URL" => Some("http://127.0.0.1:8000".to_string()),
        _ => None,
    };
    (
        mock,
        MollieProvider::new(MollieConfig::from_lookup(&lookup).unwrap()).unwrap(),
    )
}

fn webhook(body: &str) -> WebhookRequest {
    let headers = vec![("content-type".into(), "application/x-www-form-urlencoded".into())];
    WebhookRequest::new(headers, body.as_bytes().to_vec(), payments_core::unix_now())
}

#[tokio::test]
async fn a_published_paid_payment_is_a_success_of_its_exact_amount() {
    let (_mock, mollie) = published().await;
    let event = mollie.parse_webhook(&webhook("id=tr_44aKxzEbr8")).await.unwrap();
    assert_eq!(event.kind, EventKind::PaymentSucceeded);
    assert_eq!(event.amount.unwrap().to_string(), "EUR 20.00");
    assert_eq!(event.amount.unwrap().amount.0, 2000);
    assert_eq!(event.external_payment_id.as_deref(), Some("tr_44aKxzEbr8"));
    assert_eq!(event.event_id, "tr_44aKxzEbr8:paid:r0.00:c0");
    assert_eq!(
        event.payment_ref, None,
        "the published payment carries another shop's metadata"
    );
    assert_eq!(
        event.signature,
        payments_core::SignatureVerdict::verified("api-refetch")
    );
}

#[tokio::test]
async fn a_published_canceled_payment_is_a_failure() {
    let (_mock, mollie) = published().await;
    let event = mollie.parse_webhook(&webhook("id=tr_7UhSN1zuXS")).await.unwrap();
    assert_eq!(event.kind, EventKind::PaymentFailed);
    assert_eq!(event.amount.unwrap().amount.0, 1000);
}

#[tokio::test]
async fn mollies_published_auth_error_is_named() {
    let (_mock, mollie) = published().await;
    match mollie.fetch_payment("tr_refused").await {
        Err(ProviderError::Api {
            status: 401,
            code,
            message,
            ..
        }) => {
            assert_eq!(code.as_deref(), Some("Unauthorized Request"));
            assert!(message.contains("failed to authenticate"), "{message}");
        }
        other => panic!("expected Mollie's 401, got {other:?}"),
    }
    let refused = mollie.parse_webhook(&webhook("id=tr_refused")).await.unwrap_err();
    assert!(matches!(refused, WebhookError::Upstream(_)), "{refused:?}");
}

#[tokio::test]
async fn a_body_that_is_not_mollies_is_refused_without_a_call() {
    let (mock, mollie) = published().await;
    for body in [
        "",
        "id=",
        "id=re_123",
        "id=tr_44aKxzEbr8&status=paid",
        "id=tr_../x",
        "{\"id\":\"tr_1\"}",
    ] {
        let error = mollie.parse_webhook(&webhook(body)).await.unwrap_err();
        assert!(
            matches!(error, WebhookError::MalformedPayload(_)),
            "{body:?}: {error:?}"
        );
    }
    assert!(
        mock.received().await.is_empty(),
        "no refused body may reach Mollie"
    );
}
