//! Suite v1 (kept so existing callers compile; new adapters use [`super::run`] with an
//! [`super::AdapterFixture`]): one genuine success webhook and its signature checks. It trusts
//! the fixture's expected amounts and never looks at what reached the provider, so it misses
//! most amount, idempotency and mapping bugs.
//!
//! Every check panics with a message naming the broken rule, like `assert!`.

use crate::money::{Currency, Money};
use crate::provider::{idempotency_key, CheckoutRequest, PaymentProvider};
use crate::signature::SignatureError;
use crate::webhook::{EventKind, WebhookError, WebhookRequest};

/// Which secret a fixture signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The secret the provider under test is configured with.
    Correct,
    /// Any other secret.
    Wrong,
}

/// What a genuine success webhook must be normalized to.
#[derive(Debug, Clone)]
pub struct ExpectedEvent {
    pub event_id: String,
    pub kind: EventKind,
    pub external_payment_id: String,
    pub amount: Money,
}

/// What an adapter's tests provide to the suite.
pub trait Fixture: Send + Sync {
    /// The adapter under test, configured with the fixture's secret (and mock server).
    fn provider(&self) -> &dyn PaymentProvider;

    /// A checkout the adapter accepts.
    fn checkout_request(&self) -> CheckoutRequest {
        sample_checkout_request("pay_conformance_1")
    }

    /// The raw body of a genuine "payment succeeded" webhook, and what it must map to.
    fn success_webhook(&self) -> (Vec<u8>, ExpectedEvent);

    /// Headers that sign `body` at `timestamp` with the right or a wrong secret.
    fn sign(&self, body: &[u8], timestamp: i64, key: Key) -> Vec<(String, String)>;

    /// The header whose absence must be reported as `MissingHeader`.
    fn signature_header(&self) -> &'static str;

    /// Seconds in the past that put a signature outside the adapter's tolerance, or `None` when
    /// the provider's scheme carries no timestamp the adapter checks (the check then says so).
    fn stale_by(&self) -> Option<i64>;

    /// The clock the fixture signs with (unix seconds).
    fn now(&self) -> i64 {
        crate::unix_now()
    }
}

/// A THB 1,234.50 checkout for `payment_ref`.
pub fn sample_checkout_request(payment_ref: &str) -> CheckoutRequest {
    let thb = match Currency::from_code("THB") {
        Ok(c) => c,
        Err(e) => panic!("THB must be a known currency: {e}"),
    };
    CheckoutRequest {
        payment_ref: payment_ref.to_string(),
        amount: Money::new(123_450, thb),
        username: "alice".into(),
        receipt_id: 42,
        description: "HPC usage receipt #42".into(),
        success_url: "http://127.0.0.1:8000/payments/thanks?payment=".to_string() + payment_ref,
        cancel_url: "http://127.0.0.1:8000/me".into(),
        idempotency_key: idempotency_key(payment_ref, "checkout", 0),
        lifetime_secs: None,
    }
}

fn request(f: &dyn Fixture, body: &[u8], signed_at: i64, key: Key, received_at: i64) -> WebhookRequest {
    WebhookRequest::new(f.sign(body, signed_at, key), body.to_vec(), received_at)
}

/// A checkout has a non-empty provider id, an absolute http(s) URL, and echoes our key.
pub async fn checkout_has_id_and_absolute_url(f: &dyn Fixture) {
    let req = f.checkout_request();
    let session = match f.provider().create_checkout(&req).await {
        Ok(s) => s,
        Err(e) => panic!("create_checkout failed: {e}"),
    };
    assert!(!session.external_id.trim().is_empty(), "checkout id is empty");
    let url = match url::Url::parse(&session.redirect_url) {
        Ok(u) => u,
        Err(e) => panic!("redirect URL {:?} is not absolute: {e}", session.redirect_url),
    };
    assert!(
        matches!(url.scheme(), "http" | "https") && url.host().is_some(),
        "redirect URL {:?} is not an absolute http(s) URL",
        session.redirect_url
    );
    assert_eq!(
        session.idempotency_key, req.idempotency_key,
        "the session must report the idempotency key that was used"
    );
}

/// The same payment gives the same idempotency key; another payment another key.
pub async fn idempotency_key_is_deterministic(f: &dyn Fixture) {
    let req = f.checkout_request();
    let first = f.provider().create_checkout(&req).await;
    let second = f.provider().create_checkout(&req).await;
    match (first, second) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                a.idempotency_key, b.idempotency_key,
                "same payment, different keys"
            );
            assert_eq!(a.idempotency_key, req.idempotency_key);
        }
        (a, b) => panic!("create_checkout failed: {a:?} / {b:?}"),
    }
    let mut other = req.clone();
    other.payment_ref.push_str("_other");
    other.idempotency_key = idempotency_key(&other.payment_ref, "checkout", 0);
    assert_ne!(other.idempotency_key, req.idempotency_key);
}

/// A correctly signed success webhook verifies and maps to the expected kind, ids and amount.
pub async fn signed_webhook_verifies(f: &dyn Fixture) {
    let (body, expected) = f.success_webhook();
    let now = f.now();
    let event = match f
        .provider()
        .parse_webhook(&request(f, &body, now, Key::Correct, now))
        .await
    {
        Ok(e) => e,
        Err(e) => panic!("a correctly signed webhook was refused: {e}"),
    };
    assert!(event.signature.is_verified(), "verdict {:?}", event.signature);
    assert_eq!(event.provider, f.provider().name());
    assert_eq!(event.event_id, expected.event_id, "event id");
    assert_eq!(event.kind, expected.kind, "event kind");
    assert_eq!(
        event.external_payment_id.as_deref(),
        Some(expected.external_payment_id.as_str()),
        "external payment id"
    );
    assert_eq!(event.amount, Some(expected.amount), "amount and currency");
}

async fn expect_error(f: &dyn Fixture, what: &str, req: WebhookRequest) -> WebhookError {
    match f.provider().parse_webhook(&req).await {
        Ok(e) => panic!("{what} was accepted as {:?}", e.kind),
        Err(e) => e,
    }
}

/// A body changed after signing is refused as a signature mismatch.
pub async fn tampered_body_is_rejected(f: &dyn Fixture) {
    let (body, _) = f.success_webhook();
    let now = f.now();
    let mut req = request(f, &body, now, Key::Correct, now);
    req.body.extend_from_slice(b" ");
    let err = expect_error(f, "a tampered body", req).await;
    assert_eq!(
        err,
        WebhookError::Signature(SignatureError::Mismatch),
        "tampered body"
    );
}

/// A signature made with another secret is refused as a signature mismatch.
pub async fn wrong_secret_is_rejected(f: &dyn Fixture) {
    let (body, _) = f.success_webhook();
    let now = f.now();
    let err = expect_error(f, "a wrong secret", request(f, &body, now, Key::Wrong, now)).await;
    assert_eq!(
        err,
        WebhookError::Signature(SignatureError::Mismatch),
        "wrong secret"
    );
}

/// A signature older than the tolerance is refused as such.
pub async fn stale_timestamp_is_rejected(f: &dyn Fixture) {
    let Some(stale_by) = f.stale_by() else {
        eprintln!(
            "conformance: {} has no signed timestamp; stale check skipped",
            f.provider().name()
        );
        return;
    };
    let (body, _) = f.success_webhook();
    let now = f.now();
    let err = expect_error(
        f,
        "a stale signature",
        request(f, &body, now - stale_by, Key::Correct, now),
    )
    .await;
    assert!(
        matches!(
            err,
            WebhookError::Signature(SignatureError::OutsideTolerance { .. })
        ),
        "stale timestamp gave {err:?}"
    );
}

/// A request without the signature header is refused as `MissingHeader`.
pub async fn missing_header_is_rejected(f: &dyn Fixture) {
    let (body, _) = f.success_webhook();
    let now = f.now();
    let header = f.signature_header();
    let headers = f
        .sign(&body, now, Key::Correct)
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(header))
        .collect();
    let err = expect_error(
        f,
        "a request without signature",
        WebhookRequest::new(headers, body, now),
    )
    .await;
    assert!(
        matches!(err, WebhookError::Signature(SignatureError::MissingHeader(h)) if h.eq_ignore_ascii_case(header)),
        "missing {header} gave {err:?}"
    );
}

/// A correctly signed body that is not a valid event is refused as `MalformedPayload`.
pub async fn malformed_body_is_rejected(f: &dyn Fixture) {
    let now = f.now();
    for body in [&b"{not json"[..], b"[]", b"{}", b"null"] {
        let err = expect_error(f, "a malformed body", request(f, body, now, Key::Correct, now)).await;
        assert!(
            matches!(err, WebhookError::MalformedPayload(_)),
            "malformed body {:?} gave {err:?}",
            String::from_utf8_lossy(body)
        );
    }
}

/// Garbage headers and bodies give errors, never panics.
pub async fn garbage_never_panics(f: &dyn Fixture) {
    let now = f.now();
    let header = f.signature_header().to_string();
    let bodies: [&[u8]; 4] = [
        b"",
        b"\xff\xfe\x00",
        b"{\"id\":1e999}",
        b"{\"data\":{\"object\":null}}",
    ];
    let values = [
        "",
        ",,,",
        "t=,v1=",
        "t=abc,v1=zz",
        "v1,",
        "\u{0}",
        "t=99999999999999999999999,v1=00",
    ];
    for body in bodies {
        for value in values {
            let req = WebhookRequest::new(vec![(header.clone(), value.to_string())], body.to_vec(), now);
            assert!(
                f.provider().parse_webhook(&req).await.is_err(),
                "garbage was accepted: header {value:?}, body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

/// Every check above, in order.
pub async fn run_all(f: &dyn Fixture) {
    checkout_has_id_and_absolute_url(f).await;
    idempotency_key_is_deterministic(f).await;
    signed_webhook_verifies(f).await;
    tampered_body_is_rejected(f).await;
    wrong_secret_is_rejected(f).await;
    stale_timestamp_is_rejected(f).await;
    missing_header_is_rejected(f).await;
    malformed_body_is_rejected(f).await;
    garbage_never_panics(f).await;
}
