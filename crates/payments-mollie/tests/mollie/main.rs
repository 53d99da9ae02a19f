//! The shared conformance suite (v2) against the mock of Mollie's API, plus the adapter's own
//! checks on Mollie's published payloads. `cargo test -p payments-mollie -- --nocapture` prints
//! the suite's report.

use payments_core::conformance;
use payments_mollie::testing::MollieFixture;

mod published;
mod refunds;

#[tokio::test]
async fn passes_the_conformance_suite() {
    let fixture = MollieFixture::start().await;
    let report = conformance::run(&fixture).await;
    println!("{}", report.summary());
    fixture
        .mock
        .mock
        .record("conformance")
        .await
        .expect("record for the oracle");
    // Mollie has no three-decimal currency, no capture in this flow, and signs no webhook
    // (each one is verified by fetching the payment).
    report.assert_passed(&[
        "amounts.three_decimal.wire",
        "refunds.three_decimal.wire",
        "amounts.three_decimal.event",
        "capture.approved",
        "capture.not_approved",
        "signature.missing",
        "signature.wrong_secret",
        "signature.tampered_body",
        "signature.whitespace",
        "signature.stale",
        "signature.rotated_secret",
        "robustness.mutated_headers",
    ]);
}
