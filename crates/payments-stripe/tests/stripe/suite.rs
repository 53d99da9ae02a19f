//! The Stripe adapter through the conformance suite v2, with its fixture
//! ([`payments_stripe::testing::StripeFixture`], which also drives the server's end-to-end test).

use payments_core::conformance;
use payments_stripe::testing::StripeFixture;

/// Not checked for Stripe, each for a reason of Stripe's or of this adapter's flow:
/// - `events.capture_required`, `fetch.requires_capture`, `capture.approved`,
///   `capture.not_approved`: the adapter creates Checkout Sessions with automatic capture and
///   has no capture call, so none of its payments waits for a capture (an authorization
///   Checkout would leave uncaptured still must not be taken for a success:
///   `hard.authorized_not_captured` runs).
/// - `fetch.failed`, `fetch.canceled`: a Checkout Session is reported pending, succeeded,
///   expired or (its charge refunded in full) refunded; Stripe has no failed or canceled session
///   (a failed attempt leaves it open, a delayed method's failure is an event only).
/// - `events.header_id`: Stripe's event id is the body's `id`, sent in no header.
const STRIPE_SKIPS: &[&str] = &[
    "events.capture_required",
    "fetch.requires_capture",
    "fetch.failed",
    "fetch.canceled",
    "capture.approved",
    "capture.not_approved",
    "events.header_id",
];

#[tokio::test]
async fn passes_the_conformance_suite_v2() {
    let f = StripeFixture::start().await;
    let report = conformance::run(&f).await;
    report.assert_passed(STRIPE_SKIPS);
    let n = f
        .mock
        .record_requests("conformance-v2")
        .await
        .expect("record requests");
    assert!(n > 0);
}
