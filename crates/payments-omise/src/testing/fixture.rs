//! Omise's fixture for the conformance suite v2, against [`MockOmise`]. Written from Omise's
//! docs: amounts in the currency's smallest unit (ISO 4217), `metadata[payment_id]` echoed on
//! the charge, events verified by signature and then by re-fetching the charge.

use std::path::PathBuf;

use payments_core::conformance::{AdapterFixture, EventSpec, Kind, Received, Secret, Served, SignatureCase};
use payments_core::mock::Fault;
use payments_core::{async_trait, CheckoutSession, Money, PaymentProvider, PaymentStatus, RefundState};
use serde_json::json;

use crate::testing::{
    sign_headers, MockOmise, TEST_OLD_WEBHOOK_SECRET, TEST_SECRET_KEY, TEST_WEBHOOK_SECRET,
    WRONG_WEBHOOK_SECRET,
};
use crate::{OmiseProvider, SIGNATURE_HEADER};

/// The conformance suite's fixture for Omise (also drives the server's end-to-end test): the
/// adapter against [`MockOmise`], with a current and a previous webhook secret.
pub struct OmiseFixture {
    pub mock: MockOmise,
    pub provider: OmiseProvider,
    tolerance: i64,
}

impl OmiseFixture {
    /// Starts the mock and an adapter pointed at it.
    pub async fn start() -> Self {
        let mock = MockOmise::start().await;
        let mut config = mock.config();
        config.webhook_secrets = vec![TEST_WEBHOOK_SECRET.into(), TEST_OLD_WEBHOOK_SECRET.into()];
        let tolerance = config.webhook_tolerance_secs;
        OmiseFixture {
            provider: OmiseProvider::new(config).expect("valid config"),
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
impl AdapterFixture for OmiseFixture {
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

    fn is_refund_create(&self, r: &Received) -> bool {
        r.method == "POST" && r.path.starts_with("/charges/") && r.path.ends_with("/refunds")
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

    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        self.mock.charge(&session.external_id)?;
        Some(self.mock.refunds_of(&session.external_id).len())
    }

    /// Omise takes no idempotency key: the refund is stored, its 502 is not retried.
    async fn lose_next_refund_answer(&self) -> bool {
        self.mock.lose_next_refund_answer();
        true
    }

    async fn forget_idempotency_keys(&self) -> bool {
        self.mock.forget_idempotency_keys();
        true
    }

    /// Omise's units are ISO minor units for every currency it takes.
    async fn answer_next_checkout_with_other_amount(&self, asked: Money) -> bool {
        self.mock.answer_next_charge_with_amount(asked.amount.get() + 100);
        true
    }

    async fn lose_next_checkout_answer(&self) -> bool {
        self.mock.inject("POST", "/charges", Fault::LostAnswer, 1);
        true
    }

    /// Omise's `charge.*` events by status, `refund.create` and `dispute.create`. Not
    /// `CaptureRequired`: this adapter never captures, so an authorized charge awaiting capture
    /// is pending (the hard case `hard.authorized_not_captured` still sends one).
    fn event_kinds(&self) -> Vec<Kind> {
        vec![
            Kind::Succeeded,
            Kind::Failed,
            Kind::Pending,
            Kind::Expired,
            Kind::Refunded,
            Kind::Disputed,
        ]
    }

    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>> {
        let id = &spec.session.external_id;
        self.mock.charge(id)?;
        // The re-fetched charge is the truth: it holds the amount the suite names.
        self.mock.set_charge_amount(id, spec.amount.amount.get());
        match spec.kind {
            Kind::Refunded => {
                // Omise announces each refund on its own (`refund.create`, data = the refund
                // object with this refund's `amount`); the charge's `refunded_amount` holds the
                // running total (everything refunded so far, this refund included).
                let total = spec.refunded?.amount.get();
                self.mock.set_charge_status(id, "successful");
                let already = self.mock.charge(id)?["refunded_amount"].as_i64().unwrap_or(0);
                let this = spec.this_refund.map_or(total - already, |m| m.amount.get());
                let refund = self.mock.refund_at_omise(id, this)?;
                Some(self.mock.refund_event(id, &refund).1)
            }
            Kind::Disputed => {
                // `dispute.create`, data = the dispute object naming the charge (the disputed
                // amount may differ from the charge's).
                self.mock.set_charge_status(id, "successful");
                let dispute = self.mock.open_dispute(id, spec.amount.amount.get());
                Some(self.mock.dispute_event(&dispute).1)
            }
            Kind::CaptureRequired => {
                // A charge created with `capture=false`: authorized, not captured, `pending`
                // (omise-swift's published evnt_test_5frvn3j37jpy45e37ol).
                self.mock.set_charge_status(id, "pending");
                self.mock.update_charge(id, |c| {
                    for (k, v) in [
                        ("capture", json!(false)),
                        ("authorized", json!(true)),
                        ("capturable", json!(true)),
                        ("reversible", json!(true)),
                        ("paid", json!(false)),
                    ] {
                        c[k] = v;
                    }
                });
                Some(self.mock.charge_event("charge.create", id).1)
            }
            kind => {
                let (key, status) = match kind {
                    Kind::Succeeded => ("charge.complete", "successful"),
                    Kind::Failed => ("charge.complete", "failed"),
                    Kind::Pending => ("charge.create", "pending"),
                    Kind::Expired => ("charge.expire", "expired"),
                    _ => return None,
                };
                self.mock.set_charge_status(id, status);
                if let Some(other) = spec.other_amount {
                    // Omise's second amount: `net`, what remains after Omise's fee.
                    let net = other.amount.get();
                    let fee = spec.amount.amount.get() - net;
                    self.mock.update_charge(id, |c| {
                        c["net"] = json!(net);
                        c["fee"] = json!(fee);
                    });
                }
                Some(self.mock.charge_event(key, id).1)
            }
        }
    }

    fn second_amount(&self) -> Option<&'static str> {
        Some("the charge's `net` (the amount after Omise's fee, Charges API), in the event and the re-fetched charge")
    }

    fn evidence_dir(&self) -> Option<PathBuf> {
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/evidence").into())
    }

    async fn serve(&self, served: &Served) -> bool {
        self.mock
            .serve(&served.method, &served.path, served.status, &served.body);
        true
    }

    /// The adapter against the same mock, verifying with the vector's secret only.
    async fn verifier(&self, case: &SignatureCase) -> Option<Box<dyn PaymentProvider>> {
        let mut config = self.mock.config();
        config.webhook_secrets = vec![case.secret.clone()];
        config.webhook_tolerance_secs = self.tolerance;
        Some(Box::new(OmiseProvider::new(config).ok()?))
    }

    /// Omise publishes two refund statuses only, `pending` and `closed` (omise-swift
    /// `Refund.Status`, every published refund fixture; the Refunds API lists `status` without
    /// values, and `voided` means the refund was carried out as a void: money returned). It has
    /// no failed or cancelled refund, and the suite's refund-state check needs a failed one:
    /// nothing is set, so the check is skipped (the pending/closed/voided reading is unit-tested
    /// in tests/omise/refunds.rs).
    /// Omise's two refund statuses (omise-go `RefundClosed`, omise-swift `Refund.Status`):
    /// `pending`, and `closed` once done. It has no failed or cancelled refund.
    async fn set_refund_state(&self, session: &CheckoutSession, refund_id: &str, state: RefundState) -> bool {
        let status = match state {
            RefundState::Pending => "pending",
            RefundState::Succeeded => "closed",
            RefundState::Failed | RefundState::Canceled => return false,
        };
        self.mock
            .set_refund_status(&session.external_id, refund_id, status)
            .is_some()
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
            PaymentStatus::Refunded,
        ]
    }

    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        let id = &session.external_id;
        if status == PaymentStatus::Refunded {
            // Omise has no refunded status: a successful charge whose `refunded_amount` is its
            // whole `amount`.
            let Some(charge) = self.mock.charge(id) else {
                return false;
            };
            self.mock.set_charge_status(id, "successful");
            self.mock
                .update_charge(id, |c| c["refunded_amount"] = charge["amount"].clone());
            return true;
        }
        match (status_name(status), self.mock.charge(&session.external_id)) {
            (Some(name), Some(_)) => {
                self.mock.set_charge_status(&session.external_id, name);
                true
            }
            _ => false,
        }
    }

    /// The mock's `OMISE_*` variables, with the fixture's current and previous webhook secrets.
    fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
        Some(vec![
            ("OMISE_SECRET_KEY", TEST_SECRET_KEY.into()),
            ("OMISE_API_BASE", self.mock.uri()),
            (
                "OMISE_WEBHOOK_SECRET",
                format!("{TEST_WEBHOOK_SECRET},{TEST_OLD_WEBHOOK_SECRET}"),
            ),
        ])
    }
}
