//! The shared conformance suite, with a webhook secret configured and the mock behind the
//! adapter (signed events are re-fetched from the mock).

use payments_core::conformance::{self, ExpectedEvent, Fixture, Key};
use payments_core::{EventKind, PaymentProvider};
use payments_omise::testing::{sign_headers, MockOmise, TEST_WEBHOOK_SECRET, WRONG_WEBHOOK_SECRET};
use payments_omise::{OmiseProvider, SIGNATURE_HEADER};

use crate::common::{record, thb};

struct OmiseFixture {
    mock: MockOmise,
    provider: OmiseProvider,
    charge_id: String,
}

impl OmiseFixture {
    async fn start() -> Self {
        let mock = MockOmise::start().await;
        let provider = mock.provider();
        assert!(provider.verifies_signatures());
        // A charge the payer has paid, as Omise would report it.
        let charge_id = mock.insert_charge(123_450, "THB", "successful", Some("pay_conformance_1"));
        OmiseFixture {
            mock,
            provider,
            charge_id,
        }
    }
}

impl Fixture for OmiseFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    fn success_webhook(&self) -> (Vec<u8>, ExpectedEvent) {
        let (event_id, body) = self.mock.charge_event("charge.complete", &self.charge_id);
        (
            body,
            ExpectedEvent {
                event_id,
                kind: EventKind::PaymentSucceeded,
                external_payment_id: self.charge_id.clone(),
                amount: thb(123_450),
            },
        )
    }

    fn sign(&self, body: &[u8], timestamp: i64, key: Key) -> Vec<(String, String)> {
        let secret = match key {
            Key::Correct => TEST_WEBHOOK_SECRET,
            Key::Wrong => WRONG_WEBHOOK_SECRET,
        };
        sign_headers(secret, timestamp, body)
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
    }

    fn stale_by(&self) -> Option<i64> {
        Some(self.provider.config().webhook_tolerance_secs + 1)
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    let f = OmiseFixture::start().await;
    conformance::run_all(&f).await;
    // The suite created charges at the mock and re-fetched the paid one.
    assert!(f.mock.count("POST", "/charges").await >= 1);
    assert!(
        f.mock.count("GET", "/search").await >= 1,
        "each create looks its charge up first"
    );
    assert!(f.mock.count("GET", &format!("/charges/{}", f.charge_id)).await >= 1);
    assert!(record(&f.mock, "conformance").await > 0);
}
