//! The suite's strength, proven: the reference adapter passes it with nothing skipped, and
//! each of the bugs planted into it (one at a time) makes it fail, in the check named here.
//! `cargo test -p payments-dummy --test conformance planted -- --nocapture` prints the table.

use payments_core::conformance::{self, Outcome};

use crate::refpay::Bug;
use crate::refpay_mock::RefpayFixture;

/// The check that must catch each bug (others may catch it too).
fn expected_catcher(bug: Bug) -> &'static str {
    match bug {
        Bug::CheckoutSendsHundredth => "amounts.two_decimal.wire",
        Bug::WrongDecimalsBothSides => "amounts.zero_decimal.wire",
        Bug::AmountFromWrongObject => "amounts.two_decimal.event",
        Bug::NotCapturedIsSuccess => "fetch.requires_capture",
        Bug::NewCheckoutOnRetry => "idempotency.same_request_twice",
        Bug::FetchUnpaidIsSucceeded => "fetch.pending",
        Bug::PaymentRefDropped => "events.succeeded",
        Bug::ExpiredIsSuccess => "events.expired",
        Bug::AmountCheckRemoved => "amounts.other_amount_refused",
        Bug::AnySignatureAccepted => "signature.wrong_secret",
        Bug::SignatureOverTrimmedBody => "signature.whitespace",
        Bug::WebhookAmountHalved => "amounts.two_decimal.event",
        Bug::PanicsOnWrongType => "robustness.mutated_bodies",
        Bug::RefundMarkerNotStored => "refunds.listed_with_marker",
        Bug::RefundSendsHundredth => "refunds.two_decimal.wire",
        Bug::RefundNotIdempotent => "refunds.same_key_twice",
        Bug::SignatureHexNotBase64 => "evidence.signatures",
        Bug::WrongSignatureHeader => "evidence.signatures",
        Bug::EventIdFromBody => "events.header_id",
        Bug::RefundEventThisRefundAsTotal => "refunds.two_partial_events",
        Bug::CurrencyLowerCase => "evidence.requests",
        Bug::RefundStatusIgnored => "refunds.states",
    }
}

#[tokio::test]
async fn the_reference_adapter_passes_with_nothing_skipped() {
    let report = conformance::run(&RefpayFixture::start(None).await).await;
    report.assert_passed(&[]);
}

#[tokio::test]
async fn every_planted_bug_fails_the_suite() {
    let mut table = String::from("planted bug -> checks that failed\n");
    let mut reasons = String::from("what the expected check said\n");
    let mut missed = Vec::new();
    for bug in Bug::ALL {
        let report = conformance::run(&RefpayFixture::start(Some(bug)).await).await;
        let failed = report.failed_names();
        table.push_str(&format!(
            "  {:<45} -> {}\n",
            bug.describe(),
            if failed.is_empty() {
                "NOT CAUGHT".to_string()
            } else {
                failed.join(", ")
            }
        ));
        let why = report.results.iter().find_map(|r| match &r.outcome {
            Outcome::Failed(why) if r.name == expected_catcher(bug) => Some(why.clone()),
            _ => None,
        });
        reasons.push_str(&format!(
            "  {}: {} says: {}\n",
            bug.describe(),
            expected_catcher(bug),
            why.as_deref().unwrap_or("(passed)")
        ));
        if !failed.contains(&expected_catcher(bug)) {
            missed.push((bug, expected_catcher(bug), report.to_string()));
        }
    }
    eprintln!("{table}\n{reasons}");
    assert!(
        missed.is_empty(),
        "{table}\nbugs not caught by their check: {:#?}",
        missed
    );
}
