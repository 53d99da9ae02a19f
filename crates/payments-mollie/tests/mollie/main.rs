//! The shared conformance suite (v2) against the mock of Mollie's API, plus the adapter's own
//! checks on Mollie's published payloads. `cargo test -p payments-mollie -- --nocapture` prints
//! the suite's report.

use payments_core::conformance::{self, AdapterFixture, EventSpec, Kind, Received, Secret, WireAmount};
use payments_core::{async_trait, CheckoutSession, PaymentProvider, PaymentStatus};
use payments_mollie::testing::{MockMollie, API_KEY};
use payments_mollie::{MollieConfig, MollieProvider};

mod published;

struct MollieFixture {
    provider: MollieProvider,
    mock: MockMollie,
}

impl MollieFixture {
    async fn start() -> Self {
        let mock = MockMollie::start().await;
        let mut config =
            MollieConfig::new(API_KEY, "http://127.0.0.1:8000/payments/webhook").expect("config");
        config.api_base = mock.uri();
        MollieFixture {
            provider: MollieProvider::new(config).expect("provider"),
            mock,
        }
    }
}

fn mollie_status(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Pending => "open",
        PaymentStatus::RequiresCapture => "authorized",
        PaymentStatus::Succeeded => "paid",
        PaymentStatus::Failed => "failed",
        PaymentStatus::Expired => "expired",
        PaymentStatus::Canceled => "canceled",
        PaymentStatus::Refunded => "paid",
    }
}

#[async_trait]
impl AdapterFixture for MollieFixture {
    fn provider(&self) -> &dyn PaymentProvider {
        &self.provider
    }

    /// docs/providers/mollie.md: two decimals, JPY and ISK none, no three-decimal currency.
    fn currencies(&self) -> Vec<&'static str> {
        vec!["EUR", "JPY", "ISK"]
    }

    fn wire_amount(&self) -> WireAmount {
        WireAmount::Decimal
    }

    async fn received(&self) -> Option<Vec<Received>> {
        Some(
            self.mock
                .mock
                .received()
                .await
                .iter()
                .map(Received::from)
                .collect(),
        )
    }

    fn is_checkout_create(&self, request: &Received) -> bool {
        request.method == "POST" && request.path == "/v2/payments"
    }

    fn amount_sent(&self, request: &Received) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
        Some(body["amount"]["value"].as_str()?.to_string())
    }

    async fn checkouts_at_provider(&self, payment_ref: &str) -> Option<usize> {
        Some(self.mock.payments_for(payment_ref).len())
    }

    async fn lose_next_checkout_answer(&self) -> bool {
        self.mock.lose_next_create();
        true
    }

    async fn answer_next_checkout_with_other_amount(&self) -> bool {
        let mut state = self.mock.mock.state();
        state.next_amount = Some(payments_core::Money::new(
            1,
            payments_core::Currency::from_code("EUR").unwrap(),
        ));
        true
    }

    fn event_kinds(&self) -> Vec<Kind> {
        vec![
            Kind::Succeeded,
            Kind::Failed,
            Kind::Pending,
            Kind::Expired,
            Kind::CaptureRequired,
            Kind::Refunded,
            Kind::Disputed,
        ]
    }

    /// Mollie's webhook names only the payment: the mock's payment is put in the state the
    /// event stands for, and the body is `id=tr_...`.
    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let id = &spec.session.external_id;
        let status = match spec.kind {
            Kind::Succeeded | Kind::Refunded | Kind::Disputed => "paid",
            Kind::Failed => "failed",
            Kind::Pending => "pending",
            Kind::Expired => "expired",
            Kind::CaptureRequired => "authorized",
        };
        self.mock.set_status(id, status);
        self.mock
            .mock
            .state()
            .payments
            .iter_mut()
            .filter(|p| p.id == *id)
            .for_each(|p| {
                p.refunded = spec.refunded.map_or(0, |m| m.amount.0);
                p.charged_back = if spec.kind == Kind::Disputed {
                    spec.amount.amount.0
                } else {
                    0
                };
            });
        Some(MockMollie::webhook_body(id))
    }

    /// Mollie signs nothing: the webhook is verified by fetching the payment.
    fn sign(&self, _body: &[u8], _timestamp: i64, _secret: Secret) -> Option<Vec<(String, String)>> {
        None
    }

    fn statuses(&self) -> Vec<PaymentStatus> {
        use PaymentStatus::*;
        vec![
            Pending,
            RequiresCapture,
            Succeeded,
            Failed,
            Expired,
            Canceled,
            Refunded,
        ]
    }

    /// A fully refunded payment stays `paid` at Mollie, with `amountRefunded` equal to its amount.
    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        let id = &session.external_id;
        self.mock.set_status(id, mollie_status(status));
        let mut state = self.mock.mock.state();
        for p in state.payments.iter_mut().filter(|p| p.id == *id) {
            p.refunded = if status == PaymentStatus::Refunded {
                p.amount.amount.0
            } else {
                0
            };
        }
        true
    }
}

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
