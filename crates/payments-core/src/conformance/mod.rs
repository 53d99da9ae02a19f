//! The conformance suite every adapter must pass (feature `conformance`).
//!
//! An adapter crate implements [`AdapterFixture`] in its tests (the adapter pointed at its
//! provider mock, plus a handful of small hooks written from the provider's docs) and runs
//! [`run`], which returns a [`Report`]:
//!
//! ```ignore
//! #[tokio::test]
//! async fn passes_the_conformance_suite() {
//!     let fixture = MyFixture::start().await;
//!     let report = payments_core::conformance::run(&fixture).await;
//!     // Fails on any failed check, and when the skipped checks are not exactly these.
//!     report.assert_passed(&["signature.stale"]);
//! }
//! ```
//!
//! The suite owns its known answers: it chooses the amounts (a two-, a zero- and a
//! three-decimal currency among those the fixture supports), computes their wire forms itself,
//! and checks them twice, in what the provider mock received and in the parsed events. It
//! round-trips our payment id through every event kind the fixture declares, sends the same
//! checkout twice and once more after a lost answer, round-trips `fetch_payment` and `capture`
//! through every status the fixture declares, checks signatures (missing, wrong, tampered,
//! whitespace, stale, rotated) and feeds a bounded, deterministic set of mutated bodies and
//! headers that must never panic. A check whose hook the fixture does not provide is reported
//! as skipped, with the reason; `cargo test -- --nocapture` shows the whole report.

mod amounts;
mod checkout;
mod events;
mod evidence;
mod examples;
mod fixture;
mod hard;
mod published;
mod refunds;
mod report;
mod robustness;
mod signatures;
mod status;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;

pub use evidence::{
    Evidence, Expect, ExpectAmount, ExpectRefund, PublishedEvent, PublishedRequest, Served, SignatureCase,
    SignatureVectors,
};
pub use fixture::{AdapterFixture, EventSpec, Kind, Received, Secret, WireAmount};
pub use report::{CheckResult, Outcome, Report};

use crate::money::{Currency, Money};
use crate::provider::{idempotency_key, CheckoutRequest, CheckoutSession};
use crate::webhook::{WebhookEvent, WebhookRequest};
use amounts::Chosen;

/// Why a check did not pass.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Fail(String),
    Skip(String),
}

pub(crate) type Check = Result<(), Verdict>;

/// `return Err(Verdict::Fail(..))` unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::conformance::Verdict::Fail(format!($($msg)+)));
        }
    };
}
pub(crate) use ensure;

pub(crate) fn fail(msg: impl Into<String>) -> Verdict {
    Verdict::Fail(msg.into())
}

pub(crate) fn skip(msg: impl Into<String>) -> Verdict {
    Verdict::Skip(msg.into())
}

/// Runs `fut`, turning a panic into `Err(message)`.
pub(crate) async fn catch<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic".into());
                Poll::Ready(Err(msg))
            }
        }
    })
    .await
}

/// What every check shares: the fixture and the amounts chosen for it.
pub(crate) struct Cx<'a> {
    pub f: &'a dyn AdapterFixture,
    pub chosen: Vec<Chosen>,
    /// The fixture's evidence folder, read once for the run.
    pub evidence: Result<evidence::Evidence, Verdict>,
}

static SEQ: AtomicU64 = AtomicU64::new(1);

fn seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

impl Cx<'_> {
    /// The evidence read for this run, or why there is none (a failure or a skip).
    pub fn evidence(&self) -> Result<&evidence::Evidence, Verdict> {
        self.evidence.as_ref().map_err(Clone::clone)
    }

    /// A payment id no other check (or run in this process) uses.
    pub fn new_ref(&self, tag: &str) -> String {
        format!("pay_cfm_{tag}_{}_{}", std::process::id(), seq())
    }

    pub fn new_event_id(&self) -> String {
        format!("evt_cfm_{}_{}", std::process::id(), seq())
    }

    /// The amount of the first class the fixture supports (two-decimal when it can).
    pub fn primary(&self) -> Result<(&Chosen, Money), Verdict> {
        let c = self
            .chosen
            .first()
            .ok_or_else(|| skip("the fixture supports none of the suite's currencies"))?;
        Ok((c, money(c)?))
    }

    /// Starts a checkout of `amount` for a fresh payment id.
    pub async fn checkout(
        &self,
        tag: &str,
        amount: Money,
    ) -> Result<(CheckoutRequest, CheckoutSession), Verdict> {
        let req = checkout_request(&self.new_ref(tag), amount);
        let session = self
            .f
            .provider()
            .create_checkout(&req)
            .await
            .map_err(|e| fail(format!("create_checkout of {amount} failed: {e}")))?;
        Ok((req, session))
    }

    /// The fixture's genuine body for `kind` about `session` (a refund: the payment's first,
    /// of `refunded`).
    pub async fn body(
        &self,
        kind: Kind,
        req: &CheckoutRequest,
        session: &CheckoutSession,
        refunded: Option<Money>,
    ) -> Result<Vec<u8>, Verdict> {
        let spec = self.spec(kind, req, session, refunded);
        self.f
            .event_body(&spec)
            .await
            .ok_or_else(|| skip(format!("the fixture builds no {} event", kind.label())))
    }

    /// What the suite asks of the fixture for `kind`, with a fresh event id.
    pub fn spec<'s>(
        &self,
        kind: Kind,
        req: &'s CheckoutRequest,
        session: &'s CheckoutSession,
        refunded: Option<Money>,
    ) -> EventSpec<'s> {
        EventSpec {
            kind,
            request: req,
            session,
            amount: req.amount,
            refunded,
            this_refund: refunded,
            other_amount: None,
            event_id: self.new_event_id(),
            timestamp: self.f.now(),
        }
    }

    /// `body` parsed by the adapter, signed now; a refusal fails naming `what`.
    pub async fn parse(&self, what: &str, body: &[u8]) -> Result<WebhookEvent, Verdict> {
        self.f
            .provider()
            .parse_webhook(&self.signed(body))
            .await
            .map_err(|e| {
                fail(format!(
                    "a genuine, correctly signed {what} webhook was refused: {e}"
                ))
            })
    }

    /// `body` signed now with the current secret (unsigned for re-fetch providers).
    pub fn signed(&self, body: &[u8]) -> WebhookRequest {
        let now = self.f.now();
        let headers = self.f.sign(body, now, Secret::Current).unwrap_or_default();
        WebhookRequest::new(headers, body.to_vec(), now)
    }

    /// A genuine, correctly signed event of `kind`, parsed by the adapter.
    pub async fn event(
        &self,
        kind: Kind,
        req: &CheckoutRequest,
        session: &CheckoutSession,
        refunded: Option<Money>,
    ) -> Result<WebhookEvent, Verdict> {
        let body = self.body(kind, req, session, refunded).await?;
        self.parse(kind.label(), &body).await
    }

    /// A genuine body of the first kind the fixture builds, about a fresh checkout.
    pub async fn sample_body(&self) -> Result<Vec<u8>, Verdict> {
        let (_, amount) = self.primary()?;
        let (req, session) = self.checkout("sample", amount).await?;
        let kinds = self.f.event_kinds();
        let kind = kinds
            .first()
            .copied()
            .ok_or_else(|| skip("the fixture declares no event kind"))?;
        self.body(kind, &req, &session, refund_of(amount)).await
    }
}

/// The cumulative refunded amount the suite uses: two fifths of `amount`, in its own units.
pub(crate) fn refund_of(amount: Money) -> Option<Money> {
    Some(Money::new(amount.amount.get() * 2 / 5, amount.currency))
}

/// The chosen amount as `Money`, checking that the core's currency table agrees with the
/// suite's ISO 4217 decimals.
pub(crate) fn money(c: &Chosen) -> Result<Money, Verdict> {
    let currency = Currency::from_code(c.code).map_err(|e| fail(format!("{}: {e}", c.code)))?;
    ensure!(
        currency.exponent() == c.iso_decimals,
        "payments-core says {} has {} decimals, ISO 4217 says {}",
        c.code,
        currency.exponent(),
        c.iso_decimals
    );
    Ok(Money::new(c.minor, currency))
}

/// The checkout the suite asks for: `amount` for `payment_ref`.
pub fn checkout_request(payment_ref: &str, amount: Money) -> CheckoutRequest {
    CheckoutRequest {
        payment_ref: payment_ref.to_string(),
        amount,
        username: "alice".into(),
        receipt_id: 42,
        description: "HPC usage receipt #42".into(),
        success_url: format!("http://127.0.0.1:8000/payments/thanks?payment={payment_ref}"),
        cancel_url: "http://127.0.0.1:8000/me".into(),
        idempotency_key: idempotency_key(payment_ref, "checkout", 0),
        // An hour: the adapters that pass an expiry to their provider send it (and CI checks it).
        lifetime_secs: Some(3600),
        created_at: Some(crate::unix_now()),
    }
}

async fn check(report: &mut Report, name: String, fut: impl Future<Output = Check>) {
    let outcome = match catch(fut).await {
        Ok(Ok(())) => Outcome::Passed,
        Ok(Err(Verdict::Fail(why))) => Outcome::Failed(why),
        Ok(Err(Verdict::Skip(why))) => {
            eprintln!("conformance of {}: skipped {name}: {why}", report.provider);
            Outcome::Skipped(why)
        }
        Err(panic) => Outcome::Failed(format!("panicked: {panic}")),
    };
    report.results.push(CheckResult { name, outcome });
}

/// Runs every check against `f` and returns what each found; see [`Report::assert_passed`].
pub async fn run(f: &dyn AdapterFixture) -> Report {
    let currencies = f.currencies();
    let overrides = f.provider_decimals();
    let chosen: Vec<Chosen> = amounts::CLASSES
        .iter()
        .filter_map(|c| amounts::choose(c, &currencies, &overrides, f.wire_amount()))
        .collect();
    let cx = Cx {
        f,
        chosen,
        evidence: published::load(f),
    };
    let r = &mut Report {
        provider: f.provider().name().to_string(),
        results: Vec::new(),
    };

    check(r, "checkout.shape".into(), checkout::shape(&cx)).await;
    for class in &amounts::CLASSES {
        let c = cx.chosen.iter().find(|c| c.class == class.name).cloned();
        let name = class.name;
        check(
            r,
            format!("amounts.{name}.wire"),
            checkout::amount_on_wire(&cx, class, c.clone()),
        )
        .await;
        check(
            r,
            format!("amounts.{name}.offered"),
            checkout::amount_offered(&cx, class, c.clone()),
        )
        .await;
        check(
            r,
            format!("amounts.{name}.event"),
            events::amount_in_event(&cx, class, c),
        )
        .await;
    }
    check(
        r,
        "amounts.other_amount_refused".into(),
        checkout::other_amount_refused(&cx),
    )
    .await;
    check(
        r,
        "idempotency.same_request_twice".into(),
        checkout::same_request_twice(&cx),
    )
    .await;
    check(
        r,
        "idempotency.one_checkout_at_provider".into(),
        checkout::one_checkout_at_provider(&cx),
    )
    .await;
    check(r, "idempotency.lost_answer".into(), checkout::lost_answer(&cx)).await;
    for kind in Kind::ALL {
        check(r, format!("events.{}", kind.label()), events::kind(&cx, kind)).await;
    }
    for status in status::ALL {
        check(
            r,
            format!("fetch.{}", status::label(status)),
            status::fetch(&cx, status),
        )
        .await;
    }
    check(r, "capture.approved".into(), status::capture_approved(&cx)).await;
    check(
        r,
        "capture.not_approved".into(),
        status::capture_not_approved(&cx),
    )
    .await;
    check(
        r,
        "refunds.listed_with_marker".into(),
        refunds::listed_with_marker(&cx),
    )
    .await;
    check(r, "refunds.lost_answer".into(), refunds::lost_answer(&cx)).await;
    check(r, "refunds.same_key_twice".into(), refunds::same_key_twice(&cx)).await;
    for class in &amounts::CLASSES {
        let c = cx.chosen.iter().find(|c| c.class == class.name).cloned();
        check(
            r,
            format!("refunds.{}.wire", class.name),
            refunds::amount_on_wire(&cx, class, c),
        )
        .await;
    }
    check(r, "refunds.states".into(), refunds::states(&cx)).await;
    check(
        r,
        "refunds.two_partial_events".into(),
        refunds::two_partial_events(&cx),
    )
    .await;
    check(r, "events.header_id".into(), hard::header_id(&cx)).await;
    check(r, "events.distinct_ids".into(), events::distinct_ids(&cx)).await;
    check(
        r,
        "hard.authorized_not_captured".into(),
        hard::authorized_not_captured(&cx),
    )
    .await;
    check(r, "hard.amounts_differ".into(), hard::amounts_differ(&cx)).await;
    check(r, "evidence.kinds".into(), published::kinds(&cx)).await;
    check(r, "evidence.events".into(), published::events(&cx)).await;
    check(r, "evidence.signatures".into(), published::signatures(&cx)).await;
    check(r, "signature.missing".into(), signatures::missing(&cx)).await;
    check(r, "signature.wrong_secret".into(), signatures::wrong_secret(&cx)).await;
    check(r, "signature.tampered_body".into(), signatures::tampered(&cx)).await;
    check(r, "signature.whitespace".into(), signatures::whitespace(&cx)).await;
    check(r, "signature.stale".into(), signatures::stale(&cx)).await;
    check(r, "signature.rotated_secret".into(), signatures::rotated(&cx)).await;
    check(
        r,
        "robustness.malformed_bodies".into(),
        robustness::malformed(&cx),
    )
    .await;
    check(
        r,
        "robustness.mutated_bodies".into(),
        robustness::mutated_bodies(&cx),
    )
    .await;
    check(
        r,
        "robustness.mutated_headers".into(),
        robustness::mutated_headers(&cx),
    )
    .await;
    // Last: every request the run made, against the provider's example of that call.
    check(r, "evidence.requests".into(), examples::requests(&cx)).await;
    eprintln!("{}", r.summary());
    std::mem::take(r)
}

/// A THB 1,234.50 checkout for `payment_ref`.
pub fn sample_checkout_request(payment_ref: &str) -> CheckoutRequest {
    let thb = match Currency::from_code("THB") {
        Ok(c) => c,
        Err(e) => panic!("THB must be a known currency: {e}"),
    };
    CheckoutRequest {
        payment_ref: payment_ref.to_string(),
        amount: Money::new(123_450, thb),
        username: "alice".into(),
        receipt_id: 42,
        description: "HPC usage receipt #42".into(),
        success_url: "http://127.0.0.1:8000/payments/thanks?payment=".to_string() + payment_ref,
        cancel_url: "http://127.0.0.1:8000/me".into(),
        idempotency_key: idempotency_key(payment_ref, "checkout", 0),
        lifetime_secs: None,
        created_at: None,
    }
}
