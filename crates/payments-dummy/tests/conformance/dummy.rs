//! The dummy adapter through the conformance suite (v2, and v1 while it exists).

use payments_core::conformance::{self, AdapterFixture, EventSpec, Kind, Secret};
use payments_core::{async_trait, Currency, EventKind, Money, PaymentProvider};
use payments_dummy::{DummyProvider, SIGNATURE_HEADER};

struct DummyFixture {
    provider: DummyProvider,
}

impl DummyFixture {
    fn new() -> Self {
        DummyFixture {
            provider: DummyProvider::new("s3cret-new,s3cret-old", "http://127.0.0.1:8000").unwrap(),
        }
    }
}

fn thb(amount: i64) -> Money {
    Money::new(amount, Currency::from_code("THB").unwrap())
}

fn signer(secret: &str) -> DummyProvider {
    DummyProvider::new(secret, "http://127.0.0.1:8000").unwrap()
}

#[async_trait]
impl AdapterFixture for DummyFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    /// The dummy takes any ISO 4217 currency in ISO minor units.
    fn currencies(&self) -> Vec<&'static str> {
        vec!["USD", "JPY", "KWD"]
    }

    fn event_kinds(&self) -> Vec<Kind> {
        vec![Kind::Succeeded, Kind::Failed, Kind::Pending, Kind::Expired]
    }

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let event_type = match spec.kind {
            Kind::Succeeded => "payment.succeeded",
            Kind::Failed => "payment.failed",
            Kind::Pending => "payment.pending",
            Kind::Expired => "checkout.session.expired",
            _ => return None,
        };
        let req = self
            .provider
            .signed_webhook(
                &spec.event_id,
                event_type,
                &spec.request.payment_ref,
                spec.amount,
                spec.timestamp,
            )
            .ok()?;
        Some(req.body)
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        let with = match secret {
            Secret::Current => signer("s3cret-new"),
            Secret::Previous => signer("s3cret-old"),
            Secret::Wrong => signer("not-the-secret"),
        };
        with.sign(body, timestamp).ok()
    }

    fn signature_header(&self) -> Option<&'static str> {
        Some(SIGNATURE_HEADER)
    }

    fn stale_by(&self) -> Option<i64> {
        Some(301)
    }
}

/// What the dummy cannot be checked for: it talks to no provider (checkouts are local pages),
/// maps no refund, dispute or capture events, and has no optional operations.
const DUMMY_SKIPS: &[&str] = &[
    "amounts.two_decimal.wire",
    "amounts.zero_decimal.wire",
    "amounts.three_decimal.wire",
    "amounts.other_amount_refused",
    "idempotency.one_checkout_at_provider",
    "idempotency.lost_answer",
    "events.capture_required",
    "events.refunded",
    "events.disputed",
    "fetch.pending",
    "fetch.requires_capture",
    "fetch.succeeded",
    "fetch.failed",
    "fetch.expired",
    "fetch.canceled",
    "fetch.refunded",
    "capture.approved",
    "capture.not_approved",
];

#[tokio::test]
async fn passes_the_conformance_suite() {
    let report = conformance::run(&DummyFixture::new()).await;
    report.assert_passed(DUMMY_SKIPS);
    assert!(report.passed() >= 15, "{report}");
}

struct V1Fixture(DummyFixture);

impl conformance::Fixture for V1Fixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.0.provider
    }

    fn success_webhook(&self) -> (Vec<u8>, conformance::ExpectedEvent) {
        let req = self
            .0
            .provider
            .signed_webhook("evt_1", "payment.succeeded", "pay_abc", thb(123_450), 0)
            .unwrap();
        (
            req.body,
            conformance::ExpectedEvent {
                event_id: "evt_1".into(),
                kind: EventKind::PaymentSucceeded,
                external_payment_id: "dummy_pay_abc".into(),
                amount: thb(123_450),
            },
        )
    }

    fn sign(&self, body: &[u8], timestamp: i64, key: conformance::Key) -> Vec<(String, String)> {
        let secret = match key {
            conformance::Key::Correct => Secret::Current,
            conformance::Key::Wrong => Secret::Wrong,
        };
        self.0.sign(body, timestamp, secret).unwrap()
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
    }

    fn stale_by(&self) -> Option<i64> {
        Some(301)
    }
}

#[tokio::test]
async fn still_passes_suite_v1() {
    conformance::run_all(&V1Fixture(DummyFixture::new())).await;
}

#[test]
fn refuses_to_start_without_a_secret() {
    let err = DummyProvider::new(" , ", "http://x").unwrap_err();
    assert!(err.to_string().contains("PAYMENT_WEBHOOK_SECRET"), "{err}");
}
