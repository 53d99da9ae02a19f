//! The Omise adapter through the conformance suite v2, against `MockOmise`. Written from
//! Omise's docs: amounts in the currency's smallest unit (ISO 4217), `metadata[payment_id]`
//! echoed on the charge, events verified by signature and then by re-fetching the charge.

use payments_core::conformance::{self, AdapterFixture, EventSpec, Kind, Received, Secret};
use payments_core::mock::Fault;
use payments_core::{async_trait, CheckoutSession, PaymentProvider, PaymentStatus};
use payments_omise::testing::{
    sign_headers, MockOmise, TEST_OLD_WEBHOOK_SECRET, TEST_WEBHOOK_SECRET, WRONG_WEBHOOK_SECRET,
};
use payments_omise::{OmiseProvider, SIGNATURE_HEADER};

use crate::common::provider_with;

struct OmiseSuite {
    mock: MockOmise,
    provider: OmiseProvider,
    tolerance: i64,
}

impl OmiseSuite {
    async fn start() -> Self {
        let mock = MockOmise::start().await;
        let mut config = mock.config();
        config.webhook_secrets = vec![TEST_WEBHOOK_SECRET.into(), TEST_OLD_WEBHOOK_SECRET.into()];
        let tolerance = config.webhook_tolerance_secs;
        OmiseSuite {
            provider: provider_with(config),
            mock,
            tolerance,
        }
    }
}

fn status_name(status: PaymentStatus) -> Option<&'static str> {
    Some(match status {
        PaymentStatus::Pending => "pending",
        PaymentStatus::Succeeded => "successful",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Expired => "expired",
        PaymentStatus::Canceled => "reversed",
        _ => return None,
    })
}

#[async_trait]
impl AdapterFixture for OmiseSuite {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    /// Omise takes no three-decimal currency.
    fn currencies(&self) -> Vec<&'static str> {
        vec!["THB", "USD", "JPY"]
    }

    async fn received(&self) -> Option<Vec<Received>> {
        let requests = self.mock.received_requests().await;
        Some(requests.iter().map(Received::from).collect())
    }

    fn is_checkout_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path == "/charges"
    }

    fn amount_sent(&self, r: &Received) -> Option<String> {
        url::form_urlencoded::parse(&r.body)
            .find(|(k, _)| k == "amount")
            .map(|(_, v)| v.into_owned())
    }

    async fn checkouts_at_provider(&self, payment_ref: &str) -> Option<usize> {
        Some(self.mock.charges_for_payment(payment_ref).len())
    }

    async fn lose_next_checkout_answer(&self) -> bool {
        self.mock.inject("POST", "/charges", Fault::LostAnswer, 1);
        true
    }

    fn event_kinds(&self) -> Vec<Kind> {
        vec![Kind::Succeeded, Kind::Failed, Kind::Pending, Kind::Expired]
    }

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let id = &spec.session.external_id;
        let (key, status) = match spec.kind {
            Kind::Succeeded => ("charge.complete", "successful"),
            Kind::Failed => ("charge.complete", "failed"),
            Kind::Pending => ("charge.complete", "pending"),
            Kind::Expired => ("charge.expire", "expired"),
            _ => return None,
        };
        self.mock.charge(id)?;
        self.mock.set_charge_status(id, status);
        // The re-fetched charge is the truth: it holds the amount the suite names.
        self.mock.set_charge_amount(id, spec.amount.amount.get());
        Some(self.mock.charge_event(key, id).1)
    }

    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>> {
        let s = match secret {
            Secret::Current => TEST_WEBHOOK_SECRET,
            Secret::Previous => TEST_OLD_WEBHOOK_SECRET,
            Secret::Wrong => WRONG_WEBHOOK_SECRET,
        };
        Some(sign_headers(s, timestamp, body))
    }

    fn signature_header(&self) -> Option<&'static str> {
        Some(SIGNATURE_HEADER)
    }

    fn stale_by(&self) -> Option<i64> {
        Some(self.tolerance + 1)
    }

    fn statuses(&self) -> Vec<PaymentStatus> {
        vec![
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
            PaymentStatus::Canceled,
        ]
    }

    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        match (status_name(status), self.mock.charge(&session.external_id)) {
            (Some(name), Some(_)) => {
                self.mock.set_charge_status(&session.external_id, name);
                true
            }
            _ => false,
        }
    }
}

/// Not checked for Omise: no three-decimal currency, the mock cannot create another amount than
/// asked, refund events need a
/// stored refund (covered by `webhooks.rs`), no disputes or capture in this adapter.
const OMISE_SKIPS: &[&str] = &[
    "amounts.three_decimal.wire",
    "amounts.three_decimal.event",
    "amounts.other_amount_refused",
    "events.capture_required",
    "events.refunded",
    "events.disputed",
    "fetch.requires_capture",
    "fetch.refunded",
    "capture.approved",
    "capture.not_approved",
];

#[tokio::test]
async fn conformance_suite_v2() {
    let f = OmiseSuite::start().await;
    let report = conformance::run(&f).await;
    eprintln!("{report}");
    let n = f
        .mock
        .record_requests("conformance-v2")
        .await
        .expect("record requests");
    assert!(n > 0);
    assert_eq!(report.skipped_names(), OMISE_SKIPS, "{report}");
    // Known failures the suite finds: Omise documents no idempotency key and the adapter does
    // not yet look up the charge by our payment id before sending the same request again, so
    // the same checkout twice, or again after a lost answer, makes two charges (issue 10,
    // item 2's look-up-before-resend fixes it). When it passes,
    // replace this with `report.assert_passed(OMISE_SKIPS)`.
    assert_eq!(
        report.failed_names(),
        [
            "idempotency.same_request_twice",
            "idempotency.one_checkout_at_provider",
            "idempotency.lost_answer"
        ],
        "{report}"
    );
}
