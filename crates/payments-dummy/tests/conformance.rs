use payments_core::conformance::{self, ExpectedEvent, Fixture, Key};
use payments_core::{Currency, EventKind, Money, PaymentProvider};
use payments_dummy::{DummyProvider, SIGNATURE_HEADER};

struct DummyFixture {
    provider: DummyProvider,
    wrong: DummyProvider,
}

impl DummyFixture {
    fn new() -> Self {
        DummyFixture {
            provider: DummyProvider::new("s3cret-new,s3cret-old", "http://127.0.0.1:8000").unwrap(),
            wrong: DummyProvider::new("not-the-secret", "http://127.0.0.1:8000").unwrap(),
        }
    }
}

fn thb(amount: i64) -> Money {
    Money::new(amount, Currency::from_code("THB").unwrap())
}

impl Fixture for DummyFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    fn success_webhook(&self) -> (Vec<u8>, ExpectedEvent) {
        let req = self
            .provider
            .signed_webhook("evt_1", "payment.succeeded", "pay_abc", thb(123_450), 0)
            .unwrap();
        (
            req.body,
            ExpectedEvent {
                event_id: "evt_1".into(),
                kind: EventKind::PaymentSucceeded,
                external_payment_id: "dummy_pay_abc".into(),
                amount: thb(123_450),
            },
        )
    }

    fn sign(&self, body: &[u8], timestamp: i64, key: Key) -> Vec<(String, String)> {
        match key {
            Key::Correct => self.provider.sign(body, timestamp).unwrap(),
            Key::Wrong => self.wrong.sign(body, timestamp).unwrap(),
        }
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
    }

    fn stale_by(&self) -> Option<i64> {
        Some(301)
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    conformance::run_all(&DummyFixture::new()).await;
}

#[tokio::test]
async fn the_old_secret_still_verifies_during_rotation() {
    let f = DummyFixture::new();
    let old = DummyProvider::new("s3cret-old", "http://x").unwrap();
    let req = old
        .signed_webhook("evt_2", "payment.failed", "pay_x", thb(100), 1000)
        .unwrap();
    let event = f.provider.parse_webhook(&req).await.unwrap();
    assert_eq!(event.kind, EventKind::PaymentFailed);
}

#[test]
fn refuses_to_start_without_a_secret() {
    let err = DummyProvider::new(" , ", "http://x").unwrap_err();
    assert!(err.to_string().contains("PAYMENT_WEBHOOK_SECRET"), "{err}");
}
