//! The conformance suite's fixture for Mollie, against [`MockMollie`] (also drives the server's
//! end-to-end test). Refunded amounts are put at the mock as dashboard refunds, so that the
//! payment's `amountRefunded` and its refund list always agree.

use std::path::PathBuf;

use payments_core::conformance::{
    AdapterFixture, EventSpec, Kind, Received, Secret, Served, SignatureCase, WireAmount,
};
use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus, RefundState};

use super::{MockMollie, API_KEY};
use crate::MollieProvider;

/// The conformance suite's fixture for Mollie (also drives the server's end-to-end test).
pub struct MollieFixture {
    pub provider: MollieProvider,
    pub mock: MockMollie,
}

impl MollieFixture {
    pub async fn start() -> Self {
        let mock = MockMollie::start().await;
        MollieFixture {
            provider: MollieProvider::new(mock.config()).expect("provider"),
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

    fn is_refund_create(&self, request: &Received) -> bool {
        request.method == "POST"
            && request.path.starts_with("/v2/payments/")
            && request.path.ends_with("/refunds")
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

    async fn answer_next_checkout_with_other_amount(&self, asked: Money) -> bool {
        let other = Money::new(asked.amount.0 / 100 + 1, asked.currency);
        self.mock.answer_next_create_with(other);
        true
    }

    /// Every kind: Mollie's fetched payment tells each of them apart.
    fn event_kinds(&self) -> Vec<Kind> {
        Kind::ALL.to_vec()
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
        // `amountRefunded` is the running total; the refund list ends with this refund's own
        // amount (the webhook itself names neither: the payment states only the total).
        let total = spec.refunded.map_or(0, |m| m.amount.0);
        let last = spec.this_refund.map_or(total, |m| m.amount.0);
        self.mock.set_refunds(id, total, last);
        // The second amount a payment holds: `settlementAmount`.
        self.mock.set_settlement(id, spec.other_amount);
        self.mock
            .mock
            .state()
            .payments
            .iter_mut()
            .filter(|p| p.id == *id)
            .for_each(|p| {
                p.charged_back = if spec.kind == Kind::Disputed {
                    spec.amount.amount.0
                } else {
                    0
                };
            });
        Some(MockMollie::webhook_body(id))
    }

    /// Where a Mollie payment holds another amount than the one paid.
    fn second_amount(&self) -> Option<&'static str> {
        Some("the payment's settlementAmount (\"the approximate amount that will be settled to your account\")")
    }

    fn evidence_dir(&self) -> Option<PathBuf> {
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/evidence").into())
    }

    /// The published payment is answered as it is, on this fixture's mock.
    async fn serve(&self, served: &Served) -> bool {
        self.mock
            .serve(&served.method, &served.path, served.status, &served.body);
        true
    }

    /// Mollie's classic webhook has no secret to configure (it is verified by fetching the
    /// payment): the adapter against this fixture's mock, which answers what was served.
    async fn verifier(&self, _case: &SignatureCase) -> Option<Box<dyn PaymentProvider>> {
        let provider = MollieProvider::new(self.mock.config()).ok()?;
        Some(Box::new(provider))
    }

    /// Mollie's refund statuses (https://docs.mollie.com/payments/refunds): `pending` ("ready to
    /// be sent to the bank"), `refunded`, `failed`, `canceled`.
    async fn set_refund_state(
        &self,
        _session: &CheckoutSession,
        refund_id: &str,
        state: RefundState,
    ) -> bool {
        let status = match state {
            RefundState::Pending => "pending",
            RefundState::Succeeded => "refunded",
            RefundState::Failed => "failed",
            RefundState::Canceled => "canceled",
        };
        self.mock.move_refund(refund_id, status)
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
    fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
        Some(vec![
            ("MOLLIE_API_KEY", API_KEY.into()),
            ("MOLLIE_API_BASE", self.mock.uri()),
        ])
    }

    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        let id = &session.external_id;
        self.mock.set_status(id, mollie_status(status));
        let amount = self.mock.update(id, |p| p.amount.amount.0);
        let refunded = if status == PaymentStatus::Refunded {
            amount
        } else {
            0
        };
        self.mock.set_refunded_total(id, refunded);
        true
    }

    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        Some(self.mock.refunds_of(&session.external_id).len())
    }

    async fn lose_next_refund_answer(&self) -> bool {
        self.mock.lose_next_refund();
        true
    }

    async fn forget_idempotency_keys(&self) -> bool {
        self.mock.forget_idempotency_keys();
        true
    }
}
