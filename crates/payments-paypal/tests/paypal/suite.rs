//! The PayPal adapter through the conformance suite v2, with its fixture
//! ([`payments_paypal::testing::PayPalFixture`], which also drives the server's end-to-end test).

use payments_core::conformance;
use payments_paypal::testing::PayPalFixture;

/// Not checked for PayPal: no three-decimal currency; the mock cannot count orders, lose an
/// answer after the effect or create another amount yet (the mock kit will); no shared secret
/// to rotate and no signed timestamp the adapter checks (PayPal verifies); disputes are
/// acknowledged without amount or ids, so none is declared; a PayPal order never expires by
/// itself (a voided one is `Canceled`).
const PAYPAL_SKIPS: &[&str] = &[
    "amounts.three_decimal.wire",
    "refunds.three_decimal.wire",
    "amounts.three_decimal.event",
    "amounts.other_amount_refused",
    "idempotency.one_checkout_at_provider",
    "idempotency.lost_answer",
    "events.disputed",
    "fetch.expired",
    "signature.stale",
    "signature.rotated_secret",
];

#[tokio::test]
async fn passes_the_conformance_suite_v2() {
    let f = PayPalFixture::start().await;
    let report = conformance::run(&f).await;
    assert!(f.mock.record_requests("conformance-v2").await > 0);
    report.assert_passed(PAYPAL_SKIPS);
    // The signed, tampered and wrong-key deliveries really went to PayPal's verify API.
    let verifies = crate::requests_to(&f.mock, "POST", "/v1/notifications/verify-webhook-signature").await;
    assert!(verifies.len() >= 3, "{} verify calls", verifies.len());
}
