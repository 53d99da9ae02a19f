//! The dummy adapter through the conformance suite (v2, and v1 while it exists), with its
//! fixture ([`payments_dummy::testing::DummyFixture`], which also drives the server's
//! end-to-end test).

use payments_core::conformance::{self, AdapterFixture, Secret};
use payments_core::{Currency, EventKind, Money, PaymentProvider};
use payments_dummy::testing::DummyFixture;
use payments_dummy::{DummyProvider, SIGNATURE_HEADER};

fn thb(amount: i64) -> Money {
    Money::new(amount, Currency::from_code("THB").unwrap())
}

/// What the dummy cannot be checked for: it talks to no provider (checkouts are local pages),
/// maps no capture events, and has no capture or fetch.
const DUMMY_SKIPS: &[&str] = &[
    "amounts.two_decimal.wire",
    "amounts.zero_decimal.wire",
    "amounts.three_decimal.wire",
    "amounts.other_amount_refused",
    "idempotency.one_checkout_at_provider",
    "idempotency.lost_answer",
    "events.capture_required",
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
