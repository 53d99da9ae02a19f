//! The bug report's `Stripe-Signature` headers through the adapter (`parse_webhook`), each read as
//! Stripe's official libraries read it. The full table of cases, with the libraries' own webhook
//! tests, is in `crates/payments-core/tests/signatures.rs`.

use payments_core::signature::SignatureError;
use payments_core::{Currency, EventKind, Money, PaymentProvider, WebhookError, WebhookRequest};
use payments_stripe::{testing, StripeConfig, StripeProvider, SIGNATURE_HEADER};

const SECRET: &str = "whsec_test_secret";
const T: i64 = 1_700_000_000;

async fn parse(header: &str, body: &[u8], received_at: i64) -> Result<EventKind, WebhookError> {
    let provider = StripeProvider::new(StripeConfig::new("sk_test_headers", SECRET).unwrap()).unwrap();
    let req = WebhookRequest::new(
        vec![(SIGNATURE_HEADER.into(), header.into())],
        body.to_vec(),
        received_at,
    );
    provider.parse_webhook(&req).await.map(|e| e.kind)
}

#[tokio::test]
async fn stripe_signature_headers_are_read_as_the_official_libraries_read_them() {
    let amount = Money::new(123_450, Currency::from_code("THB").unwrap());
    let body = testing::checkout_completed_body("cs_test_hdr", "pay_hdr", amount, T);
    let good = testing::sign_webhook(SECRET, &body, T);
    let sig = good.split_once(",v1=").unwrap().1.to_string();
    let accepted = [
        // Every library's `generate_header` form.
        good.clone(),
        // Trailing comma: stripe-python `_get_timestamp_and_signatures`, stripe-node `parseHeader`
        // and stripe-ruby skip the empty item (stripe-go alone refuses).
        format!("{good},"),
        // Unknown bare items: skipped by the same three (stripe-go alone refuses).
        format!("{good},flag"),
        format!("flag,{good}"),
        // stripe-python test_header_contains_valid_signature / stripe-node "at least one valid
        // signature": an unreadable v1 beside the good one.
        format!("{good},v1=bad_signature"),
    ];
    for header in &accepted {
        assert_eq!(
            parse(header, &body, T).await.ok(),
            Some(EventKind::PaymentSucceeded),
            "{header:?}"
        );
    }

    // Our clock 30 s behind Stripe's: the libraries check only the age, and so the signed time
    // 30 s in our future is accepted; up to the whole 300 s tolerance too, one second more is not
    // (ours alone: the libraries would accept it).
    for behind in [30, 300] {
        assert_eq!(
            parse(&good, &body, T - behind).await.ok(),
            Some(EventKind::PaymentSucceeded),
            "{behind} s behind"
        );
    }
    assert!(matches!(
        parse(&good, &body, T - 301).await,
        Err(WebhookError::Signature(SignatureError::OutsideTolerance {
            age: -301,
            ..
        }))
    ));

    // A space after the comma: " v1" is not v1 for stripe-python, stripe-node and stripe-go.
    match parse(&format!("t={T}, v1={sig}"), &body, T).await {
        Err(WebhookError::Signature(SignatureError::MalformedHeader { reason, .. })) => {
            assert!(reason.contains("\" v1\" has spaces around it"), "{reason}")
        }
        other => panic!("space after the comma: {other:?}"),
    }
    // Upper-case hex: stripe-python, stripe-node and stripe-ruby compare the text.
    assert!(matches!(
        parse(&format!("t={T},v1={}", sig.to_uppercase()), &body, T).await,
        Err(WebhookError::Signature(SignatureError::Mismatch))
    ));
}
