//! The dummy adapter through the conformance suite, with its
//! fixture ([`payments_dummy::testing::DummyFixture`], which also drives the server's
//! end-to-end test).

use payments_core::conformance;
use payments_dummy::testing::DummyFixture;
use payments_dummy::DummyProvider;

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
    // The dummy refunds in-process: there is no answer to lose, and no request on a wire.
    "refunds.lost_answer",
    "refunds.two_decimal.wire",
    "refunds.zero_decimal.wire",
    "refunds.three_decimal.wire",
    // Its refunds succeed at once: there is no other state to put them in.
    "refunds.states",
    // Its event ids are in the body; its payload holds one amount; it has no authorization step.
    "events.header_id",
    "hard.amounts_differ",
    "hard.authorized_not_captured",
    // The dummy is its own provider: no one else publishes its payloads.
    "evidence.kinds",
    "evidence.events",
    "evidence.signatures",
    "evidence.requests",
];

#[tokio::test]
async fn passes_the_conformance_suite() {
    let report = conformance::run(&DummyFixture::new()).await;
    report.assert_passed(DUMMY_SKIPS);
    assert!(report.passed() >= 15, "{report}");
}

#[test]
fn refuses_to_start_without_a_secret() {
    let err = DummyProvider::new(" , ", "http://x").unwrap_err();
    assert!(err.to_string().contains("PAYMENT_WEBHOOK_SECRET"), "{err}");
}
