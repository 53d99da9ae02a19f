//! What an adapter's tests hand the suite: the adapter, its provider mock, and a handful of
//! small hooks written from the provider's documentation.

use std::path::PathBuf;

use async_trait::async_trait;

use super::evidence::{Served, SignatureCase};
use crate::money::Money;
use crate::provider::{CheckoutRequest, CheckoutSession, PaymentProvider, PaymentStatus};
use crate::webhook::RefundState;

/// One request as the provider mock received it (owned, so a fixture can hand over what its
/// mock recorded). With the `wiremock` feature, `Received::from(&wiremock::Request)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Upper-case (`POST`).
    pub method: String,
    pub path: String,
    /// Without the leading `?`; empty when there is none.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of a header, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Path, query and body as text (for searching what was sent).
    pub fn text(&self) -> String {
        format!(
            "{}?{}\n{}",
            self.path,
            self.query,
            String::from_utf8_lossy(&self.body)
        )
    }
}

#[cfg(feature = "wiremock")]
impl From<&wiremock::Request> for Received {
    fn from(r: &wiremock::Request) -> Self {
        Received {
            method: r.method.as_str().to_ascii_uppercase(),
            path: r.url.path().to_string(),
            query: r.url.query().unwrap_or("").to_string(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: r.body.clone(),
        }
    }
}

/// How the provider writes an amount on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireAmount {
    /// An integer count of the provider's minor units (`123456` for USD 1,234.56).
    MinorUnits,
    /// A decimal string in the currency's units with the provider's decimals (`"1234.56"`).
    Decimal,
}

/// Which secret a signature is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The secret the adapter signs with / checks first.
    Current,
    /// An older secret still configured during a rotation (must still verify).
    Previous,
    /// A secret the adapter does not know.
    Wrong,
}

/// The event kinds the suite can ask a fixture for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Succeeded,
    Failed,
    Pending,
    Expired,
    /// Approved, not yet captured: never a success.
    CaptureRequired,
    /// Refunded; the suite passes the cumulative refunded amount.
    Refunded,
    Disputed,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Succeeded,
        Kind::Failed,
        Kind::Pending,
        Kind::Expired,
        Kind::CaptureRequired,
        Kind::Refunded,
        Kind::Disputed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Succeeded => "succeeded",
            Kind::Failed => "failed",
            Kind::Pending => "pending",
            Kind::Expired => "expired",
            Kind::CaptureRequired => "capture_required",
            Kind::Refunded => "refunded",
            Kind::Disputed => "disputed",
        }
    }
}

/// What the suite asks a fixture's [`AdapterFixture::event_body`] to build: the provider's
/// genuine webhook body about one checkout.
#[derive(Debug, Clone)]
pub struct EventSpec<'a> {
    pub kind: Kind,
    /// The checkout as the suite sent it (our `payment_ref`, the amount).
    pub request: &'a CheckoutRequest,
    /// The checkout as the adapter reported it (the provider's id).
    pub session: &'a CheckoutSession,
    /// The amount of the payment (the same as `request.amount`).
    pub amount: Money,
    /// For [`Kind::Refunded`]: everything refunded so far, this refund included (the running
    /// total a provider states, e.g. Stripe's `amount_refunded`).
    pub refunded: Option<Money>,
    /// For [`Kind::Refunded`]: this refund's own amount (the last part of `refunded`). The suite
    /// sends two successive partial refunds, so the two differ: a body must carry each where
    /// the provider's payload does (a refund object's `amount` beside the charge's total).
    pub this_refund: Option<Money>,
    /// For the hard case of several amounts ([`AdapterFixture::second_amount`]): the other
    /// amount the payload holds (the link's, the order's, the subtotal), unlike the paid one.
    pub other_amount: Option<Money>,
    /// A fresh event id the fixture may use (`evt_cfm_7`).
    pub event_id: String,
    /// When the event is sent (unix seconds).
    pub timestamp: i64,
}

/// The hooks an adapter's tests implement. Required: [`provider`](Self::provider),
/// [`currencies`](Self::currencies), [`event_kinds`](Self::event_kinds),
/// [`event_body`](Self::event_body) and [`sign`](Self::sign); an adapter that talks to a
/// provider over HTTP adds [`received`](Self::received) and
/// [`is_checkout_create`](Self::is_checkout_create) (and [`wire_amount`](Self::wire_amount)
/// when the provider writes decimals). Every other hook has a default that makes the suite
/// report the checks it enables as skipped.
#[async_trait]
pub trait AdapterFixture: Send + Sync {
    /// The adapter under test, pointed at the fixture's mock.
    fn provider(&self) -> &dyn PaymentProvider;

    /// ISO 4217 codes of the currencies the adapter supports. The suite picks a two-decimal,
    /// a zero-decimal and a three-decimal one from these (each class it cannot find is skipped).
    fn currencies(&self) -> Vec<&'static str>;

    /// The provider's decimals where they differ from ISO 4217, written from the provider's
    /// docs (Stripe: `[("ISK", 2)]`). Fixture data: never the adapter's own table.
    fn provider_decimals(&self) -> Vec<(&'static str, u8)> {
        Vec::new()
    }

    /// How the provider writes amounts (default: integer minor units).
    fn wire_amount(&self) -> WireAmount {
        WireAmount::MinorUnits
    }

    /// Every request the provider mock received so far, in order; `None` (the default): the
    /// adapter talks to no provider (the wire checks are then skipped).
    async fn received(&self) -> Option<Vec<Received>> {
        None
    }

    /// Whether `request` asks the provider to create a checkout (`POST /v1/checkout/sessions`).
    fn is_checkout_create(&self, request: &Received) -> bool {
        let _ = request;
        false
    }

    /// The amount exactly as a checkout-create request carries it (`"123456"`, `"1234.56"`).
    /// `None` (the default): the suite searches the request for the expected wire form.
    fn amount_sent(&self, request: &Received) -> Option<String> {
        let _ = request;
        None
    }

    /// How many checkouts the provider mock holds for our payment id; `None`: unknown (the
    /// idempotency checks are then skipped).
    async fn checkouts_at_provider(&self, payment_ref: &str) -> Option<usize> {
        let _ = payment_ref;
        None
    }

    /// Arms the mock so that the next checkout-create takes effect but its answer is lost
    /// (e.g. a 500 or a dropped connection after the checkout was stored). `false`: cannot.
    async fn lose_next_checkout_answer(&self) -> bool {
        false
    }

    /// Arms the mock so that the next checkout-create, which asks for `asked`, creates (and
    /// answers with) another amount, the answer otherwise valid; the adapter must refuse that
    /// checkout. `false`: cannot.
    async fn answer_next_checkout_with_other_amount(&self, asked: Money) -> bool {
        let _ = asked;
        false
    }

    /// Whether `request` asks the provider to create a refund (`POST /v1/refunds`); `false` (the
    /// default): the refund wire checks are skipped.
    fn is_refund_create(&self, request: &Received) -> bool {
        let _ = request;
        false
    }

    /// How many refunds the provider mock holds for the payment behind `session` (whatever
    /// their state); `None`: unknown (the refund checks are then skipped).
    async fn refunds_at_provider(&self, session: &CheckoutSession) -> Option<usize> {
        let _ = session;
        None
    }

    /// Arms the mock so that the next refund-create takes effect but its answer is lost (a
    /// 502 after the refund was stored). `false`: cannot.
    async fn lose_next_refund_answer(&self) -> bool {
        false
    }

    /// Makes the mock forget every idempotency key it keeps, as the provider does once the
    /// adapter's declared key lifetime has passed. `false`: cannot.
    async fn forget_idempotency_keys(&self) -> bool {
        false
    }

    /// The event kinds the adapter maps.
    fn event_kinds(&self) -> Vec<Kind>;

    /// The provider's genuine webhook body for `spec` (updating the mock's state where the
    /// adapter re-fetches the payment); `None`: this kind cannot be built (skipped).
    async fn event_body(&self, spec: &EventSpec<'_>) -> Option<Vec<u8>>;

    /// The provider id an event of `kind` names (default: the checkout's id).
    fn event_external_id(&self, kind: Kind, session: &CheckoutSession) -> String {
        let _ = kind;
        session.external_id.clone()
    }

    /// Whether events of `kind` carry our payment id (default: all do).
    fn carries_payment_ref(&self, kind: Kind) -> bool {
        let _ = kind;
        true
    }

    /// The headers that sign `body` at `timestamp` with `secret` (plus any the provider always
    /// sends, such as `Content-Type`). `None`: the fixture has no such secret (no rotation
    /// configured, or a provider verified by re-fetch: then `Current` gives `None` too and the
    /// webhook is sent without signature headers).
    fn sign(&self, body: &[u8], timestamp: i64, secret: Secret) -> Option<Vec<(String, String)>>;

    /// The header whose absence must be refused as `MissingHeader`; `None` for providers
    /// verified by re-fetch.
    fn signature_header(&self) -> Option<&'static str> {
        None
    }

    /// Seconds in the past that put a signature outside the adapter's tolerance; `None` when
    /// the scheme has no signed timestamp.
    fn stale_by(&self) -> Option<i64> {
        None
    }

    /// The statuses `fetch_payment` can report, each of which [`set_status`](Self::set_status)
    /// can put a mock payment in.
    fn statuses(&self) -> Vec<PaymentStatus> {
        Vec::new()
    }

    /// Puts the mock's payment behind `session` in the provider state that means `status`
    /// (`RequiresCapture`: approved, not captured). `false`: cannot.
    async fn set_status(&self, session: &CheckoutSession, status: PaymentStatus) -> bool {
        let _ = (session, status);
        false
    }

    /// The variables that make the server use this adapter against the fixture's mock
    /// (`STRIPE_API_BASE=<mock>`, keys, webhook secrets; not `PAYMENT_PROVIDER`). The server's
    /// end-to-end payment test (tests/web/adapters.rs) runs for every fixture that gives them.
    fn server_vars(&self) -> Option<Vec<(&'static str, String)>> {
        None
    }

    /// The clock signatures are made with (unix seconds).
    fn now(&self) -> i64 {
        crate::unix_now()
    }

    /// The adapter crate's `evidence/` folder (published payloads, signature vectors, example
    /// requests): `Some(concat!(env!("CARGO_MANIFEST_DIR"), "/evidence").into())`. `None`: the
    /// evidence checks fail, unless [`no_evidence_because`](Self::no_evidence_because) says why.
    fn evidence_dir(&self) -> Option<PathBuf> {
        None
    }

    /// Why this adapter has no provider evidence (only an adapter that is its own provider,
    /// such as the dummy, has a reason); the evidence checks are then skipped with it.
    fn no_evidence_because(&self) -> Option<&'static str> {
        None
    }

    /// Makes the mock answer `served.method served.path` with its status and published body
    /// (an object the adapter re-fetches while handling a published event). `false`: cannot.
    async fn serve(&self, served: &Served) -> bool {
        let _ = served;
        false
    }

    /// The adapter configured to verify webhooks with `case.secret` (and, for a provider that
    /// verifies online, pointed at a mock that answers as the vector says). `None`: cannot
    /// (the signature-vector check then fails for signed webhooks).
    async fn verifier(&self, case: &SignatureCase) -> Option<Box<dyn PaymentProvider>> {
        let _ = case;
        None
    }

    /// The header that carries the event id, when the provider sends it there rather than in
    /// the body (`webhook-id`). `None` (the default): the id is in the body.
    fn event_id_header(&self) -> Option<&'static str> {
        None
    }

    /// The headers that sign `body` as the event `event_id` (for an
    /// [`event_id_header`](Self::event_id_header) provider whose signature covers the id).
    /// The default signs with [`sign`](Self::sign) and sets the header.
    fn sign_with_event_id(
        &self,
        body: &[u8],
        timestamp: i64,
        event_id: &str,
    ) -> Option<Vec<(String, String)>> {
        let header = self.event_id_header()?;
        let mut headers = self.sign(body, timestamp, Secret::Current).unwrap_or_default();
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(header));
        headers.push((header.to_string(), event_id.to_string()));
        Some(headers)
    }

    /// Puts the mock's refund `refund_id` of the payment behind `session` in the provider's
    /// state for `state` (its own words: Stripe `failed`, Omise `voided`...). `false`: cannot
    /// (the refund-state check is then skipped).
    async fn set_refund_state(&self, session: &CheckoutSession, refund_id: &str, state: RefundState) -> bool {
        let _ = (session, refund_id, state);
        false
    }

    /// Why the provider has no payment that is authorized but not captured (the hard case is
    /// then skipped with it). `None` (the default): [`event_body`](Self::event_body) must build
    /// a [`Kind::CaptureRequired`] body, declared or not, and the adapter must not take it as
    /// a success.
    fn no_authorization_because(&self) -> Option<&'static str> {
        None
    }

    /// Where the provider's payload holds a second amount besides the paid one (`"the
    /// session's amount_subtotal"`, `"the order's purchase unit"`). `Some`: the suite asks for a
    /// success body with [`EventSpec::other_amount`] set and expects the paid amount. `None`:
    /// one amount per payload (the hard case is skipped).
    fn second_amount(&self) -> Option<&'static str> {
        None
    }
}
