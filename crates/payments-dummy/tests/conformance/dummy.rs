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

/// `from_lookup` with these variables (and `SITE_BASE_URL`).
fn from_vars(vars: &[(&str, &str)]) -> Result<DummyProvider, payments_core::ProviderError> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("SITE_BASE_URL".to_string(), "http://127.0.0.1:8000".to_string())])
        .collect();
    let lookup = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    <DummyProvider as payments_core::Adapter>::from_lookup(&lookup)
}

#[test]
fn debug_output_names_the_provider_and_never_its_secrets() {
    let provider =
        DummyProvider::new("whsec-current-7f3a, whsec-previous-91bc", "http://shop.test/").unwrap();
    for shown in [format!("{provider:?}"), format!("{provider:#?}")] {
        assert!(shown.contains("DummyProvider"), "{shown}");
        assert!(shown.contains("http://shop.test"), "{shown}");
        for secret in ["whsec-current-7f3a", "whsec-previous-91bc", "7f3a", "91bc"] {
            assert!(!shown.contains(secret), "the secret {secret} is in {shown}");
        }
    }
}

#[tokio::test]
async fn without_an_api_there_is_no_fetch_or_capture() {
    use payments_core::{PaymentProvider, ProviderError};
    // Unset, empty or blank `DUMMY_API_URL`: the dummy runs without an API.
    for api_url in [None, Some(""), Some("   ")] {
        let vars: Vec<(&str, &str)> = api_url.map(|u| ("DUMMY_API_URL", u)).into_iter().collect();
        let provider = from_vars(&[&[("PAYMENT_WEBHOOK_SECRET", "s3cret")][..], &vars].concat())
            .unwrap_or_else(|e| panic!("DUMMY_API_URL={api_url:?}: {e}"));
        let caps = provider.capabilities();
        assert!(!caps.fetch_payment && !caps.capture, "{api_url:?}: {caps:?}");
        assert!(caps.refund && caps.list_refunds, "{caps:?}");
        let fetched = provider.fetch_payment("dummy_pay_1").await;
        assert!(
            matches!(
                fetched,
                Err(ProviderError::NotSupported {
                    operation: "fetch_payment",
                    ..
                })
            ),
            "{fetched:?}"
        );
        let captured = provider.capture("dummy_pay_1", "key-1").await;
        assert!(
            matches!(
                captured,
                Err(ProviderError::NotSupported {
                    operation: "capture",
                    ..
                })
            ),
            "{captured:?}"
        );
    }
}

#[cfg(not(feature = "api"))]
#[test]
fn an_api_url_without_the_api_feature_is_a_configuration_error() {
    let err = from_vars(&[
        ("PAYMENT_WEBHOOK_SECRET", "s3cret"),
        ("DUMMY_API_URL", "http://127.0.0.1:1"),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("`api` feature"), "{err}");
}

#[cfg(feature = "api")]
mod api {
    use super::from_vars;
    use payments_core::{Currency, Money, PaymentProvider, PaymentStatus, ProviderError};
    use payments_dummy::api::ApiPayment;
    use payments_dummy::testing::DummyBank;
    use payments_dummy::DummyProvider;

    fn usd(units: i64) -> Money {
        Money::new(units, Currency::from_code("USD").unwrap())
    }

    /// The dummy configured through `DUMMY_API_URL` (with blanks around it) to talk to a bank.
    async fn with_bank() -> (DummyBank, DummyProvider) {
        let bank = DummyBank::start().await;
        let url = format!("  {}  ", bank.uri());
        let provider = from_vars(&[("PAYMENT_WEBHOOK_SECRET", "s3cret"), ("DUMMY_API_URL", &url)]).unwrap();
        (bank, provider)
    }

    #[tokio::test]
    async fn with_an_api_url_payments_are_looked_up_at_the_api() {
        let (bank, provider) = with_bank().await;
        let caps = provider.capabilities();
        assert!(caps.fetch_payment && caps.capture, "{caps:?}");
        bank.set("pay_1", "succeeded", usd(1_250));
        let snapshot = provider.fetch_payment("dummy_pay_1").await.unwrap();
        assert_eq!(snapshot.external_id, "dummy_pay_1");
        assert_eq!(snapshot.status, PaymentStatus::Succeeded);
        assert_eq!(snapshot.amount, Some(usd(1_250)));
        assert_eq!(snapshot.payment_ref.as_deref(), Some("pay_1"));
        assert_eq!(bank.fetches("pay_1"), 1);
    }

    #[tokio::test]
    async fn every_api_status_is_ours_and_an_unknown_one_is_pending() {
        let (bank, provider) = with_bank().await;
        let cases = [
            ("pending", PaymentStatus::Pending),
            ("requires_capture", PaymentStatus::RequiresCapture),
            ("succeeded", PaymentStatus::Succeeded),
            ("failed", PaymentStatus::Failed),
            ("expired", PaymentStatus::Expired),
            ("canceled", PaymentStatus::Canceled),
            ("refunded", PaymentStatus::Refunded),
            // Never a success (nor anything final) for what the API does not define.
            ("paid", PaymentStatus::Pending),
            ("SUCCEEDED", PaymentStatus::Pending),
            ("cancelled", PaymentStatus::Pending),
            ("", PaymentStatus::Pending),
        ];
        for (status, ours) in cases {
            bank.set("pay_s", status, usd(500));
            let snapshot = provider.fetch_payment("dummy_pay_s").await.unwrap();
            assert_eq!(snapshot.status, ours, "the API's {status:?}");
        }
    }

    #[tokio::test]
    async fn an_api_payment_without_our_reference_has_none() {
        let (bank, provider) = with_bank().await;
        bank.mock.state().payments.insert(
            "dummy_anon".into(),
            ApiPayment {
                id: "dummy_anon".into(),
                status: "succeeded".into(),
                amount: 100,
                currency: "USD".into(),
                payment_ref: String::new(),
            },
        );
        let snapshot = provider.fetch_payment("dummy_anon").await.unwrap();
        assert_eq!(snapshot.payment_ref, None);
        bank.set("x", "pending", usd(1));
        let snapshot = provider.fetch_payment("dummy_x").await.unwrap();
        assert_eq!(snapshot.payment_ref.as_deref(), Some("x"));
    }

    #[tokio::test]
    async fn capture_goes_through_the_api() {
        let (bank, provider) = with_bank().await;
        bank.set("pay_c", "requires_capture", usd(900));
        let captured = provider.capture("dummy_pay_c", "capture-key-1").await.unwrap();
        assert_eq!(captured.status, PaymentStatus::Succeeded);
        assert_eq!(bank.captures("pay_c"), 1);
        assert_eq!(bank.status("pay_c").as_deref(), Some("succeeded"));
    }

    #[test]
    fn an_api_url_that_is_not_absolute_http_is_a_configuration_error() {
        for url in ["ftp://bank.test", "bank.test", "http://", "https:///v1"] {
            let err = from_vars(&[("PAYMENT_WEBHOOK_SECRET", "s3cret"), ("DUMMY_API_URL", url)]);
            assert!(
                matches!(&err, Err(ProviderError::Config(why)) if why.contains("DUMMY_API_URL")),
                "{url}: {err:?}"
            );
        }
    }
}
