//! Reconciliation, the scheduled poll against the provider: finds the payments whose webhook
//! never came and settles them from what the provider says.
//!
//! One cycle ([`Reconciler::run_cycle`]) claims open payments at least `RECONCILE_AFTER_SECS`
//! old, a few at a time, with a row lease (`Store::claim_for_reconcile`: `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so several instances never work on the same payment at once), and for
//! each one:
//! - asks the active provider (`fetch_payment`, paced to `RECONCILE_RATE` per second per
//!   provider) when it can;
//! - a success is finalized through the store's one finalize path, with the same exact amount and
//!   currency check as a webhook (audited `payment.finalize`, actor and source `reconcile`); an
//!   approval that needs a capture is captured (same check first) and finalized from the capture;
//!   a failure, expiry or cancellation closes the payment as the provider says (`payment.close`);
//! - a payment still unpaid after `CHECKOUT_LIFETIME_SECS` is expired at the provider first
//!   where its API allows (Stripe), then here (`payment.close`, reason "checkout abandoned");
//!   one the provider reports still payable and cannot expire waits for the provider's own
//!   expiry; never one the provider could not be asked about, nor one
//!   it reports paid with another amount (that stays open and is audited as a mismatch on each
//!   check, for an operator);
//! - then the lease is given up and the payment is due again `RECONCILE_AFTER_SECS` after its
//!   look-up ended (not after the cycle began: a cycle paced to `RECONCILE_RATE` can take
//!   minutes, and two look-ups of one payment are never closer than `RECONCILE_AFTER_SECS`).
//!
//! A success (or a refund) found this way is finalized with what the provider's answer reveals:
//! its further ids (a PaymentIntent, a charge, a capture) and its refunded total. Then refunds
//! still in flight (`requested`, `pending`) are settled from the provider's refund list
//! ([`refunds`]).
//!
//! `web serve` runs a cycle every `RECONCILE_INTERVAL_SECS`; `web reconcile` runs one and exits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use payments_core::{PaymentSnapshot, PaymentStatus, ProviderError};
use payments_store::{FinalizeOutcome, NewAudit, PaymentRow, PaymentState};
use serde::Serialize;
use serde_json::json;

mod refunds;

use crate::settings::ReconcileSettings;
use crate::webhook::capture::{capture_payment, CaptureFailure};
use crate::{App, Error};

/// The audit actor, and the finalize `source`, of everything reconciliation does.
pub const ACTOR: &str = "reconcile";

/// How long a claim lasts per payment of a claimed chunk: enough for a look-up and a capture with
/// their retries. A crashed instance's claims lapse after this and another instance takes over.
const LEASE_SECS_PER_PAYMENT: i64 = 120;

/// What one cycle did (printed by `web reconcile`, logged by `web serve`).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct CycleReport {
    /// Payments claimed and examined.
    pub checked: usize,
    /// Look-ups at the provider.
    pub fetched: usize,
    /// Paid from the provider's success.
    pub finalized: usize,
    /// Captured and paid.
    pub captured: usize,
    /// Closed as the provider reported (failed, expired, canceled).
    pub closed: usize,
    /// Abandoned checkouts expired here.
    pub expired: usize,
    /// The provider reports another amount or currency: refused, audited, left open.
    pub mismatched: usize,
    /// Look-ups or captures that failed (tried again next time).
    pub errors: usize,
    /// Still open, nothing to do yet.
    pub still_open: usize,
    /// Payments whose in-flight refunds were compared with the provider's refund list.
    pub refunds_checked: usize,
    /// Refunds whose state changed (or that were found at the provider) that way.
    pub refunds_settled: usize,
}

impl std::fmt::Display for CycleReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} checked, {} looked up, {} finalized, {} captured, {} closed by the provider, \
             {} abandoned checkouts expired, {} amount mismatches, {} errors, {} still open, \
             {} payments' refunds checked, {} refunds settled",
            self.checked,
            self.fetched,
            self.finalized,
            self.captured,
            self.closed,
            self.expired,
            self.mismatched,
            self.errors,
            self.still_open,
            self.refunds_checked,
            self.refunds_settled
        )
    }
}

/// Unix seconds now, for when a look-up ended: the wall clock rounded up, or a test's own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock in unix seconds, rounded up (a look-up that ended at 10.2 s counts as 11 s,
/// so that the next one, `RECONCILE_AFTER_SECS` later, is never early by a fraction).
pub fn unix_now_ceil() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX / 4);
    secs + i64::from(since.subsec_nanos() > 0)
}

/// One reconciling instance: its owner id for row leases, its per-provider pacing and the clock
/// that says when each look-up ended.
pub struct Reconciler {
    owner: String,
    settings: ReconcileSettings,
    pacers: tokio::sync::Mutex<HashMap<String, tokio::time::Interval>>,
    clock: Clock,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("owner", &self.owner)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What the provider's answer led to.
enum Settled {
    /// Nothing more to do with this payment now.
    Done,
    /// Still open at the provider: expire it if it was abandoned.
    Open,
}

impl Reconciler {
    /// A reconciler with a fresh owner id (process id and a random part).
    pub fn new(settings: ReconcileSettings) -> Result<Reconciler, Error> {
        let owner = format!("{}-{}", std::process::id(), crate::random_token(6)?);
        Ok(Reconciler {
            owner,
            settings,
            pacers: tokio::sync::Mutex::default(),
            clock: Arc::new(unix_now_ceil),
        })
    }

    /// The same reconciler reading the time a look-up ended from `clock` (tests drive it).
    pub fn with_clock(mut self, clock: Clock) -> Reconciler {
        self.clock = clock;
        self
    }

    /// The id this instance's leases carry (`payments.reconcile_owner`).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Waits for the next look-up slot of `provider` (at most `RECONCILE_RATE` a second).
    async fn pace(&self, provider: &str) {
        let mut pacers = self.pacers.lock().await;
        let rate = self.settings.rate_per_sec.max(1);
        let interval = pacers.entry(provider.to_string()).or_insert_with(|| {
            let mut i = tokio::time::interval(Duration::from_secs(1) / rate);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        interval.tick().await;
    }

    /// One cycle as of `now` (unix seconds, its start): every due open payment once. Each is
    /// due again `RECONCILE_AFTER_SECS` after its own look-up ended (the clock's time, never
    /// before `now`), however long the cycle took to reach it.
    pub async fn run_cycle(&self, app: &App, now: i64) -> Result<CycleReport, Error> {
        let mut report = CycleReport::default();
        let after = i64::try_from(self.settings.after_secs).unwrap_or(i64::MAX / 4);
        let chunk = i64::from(self.settings.rate_per_sec.max(1));
        let lease_until = now + LEASE_SECS_PER_PAYMENT * (chunk + 1);
        loop {
            let owner = self.owner.clone();
            let claimed = app
                .db(move |s| s.claim_for_reconcile(&owner, now, now - after, lease_until, chunk))
                .await?;
            if claimed.is_empty() {
                break;
            }
            for payment in claimed {
                report.checked += 1;
                self.reconcile_one(app, &payment, now, &mut report).await;
                let next_check = (self.clock)().max(now).saturating_add(after);
                let (owner, id) = (self.owner.clone(), payment.id);
                app.db(move |s| s.release_reconcile(id, &owner, next_check))
                    .await?;
            }
        }
        self.follow_refunds(app, now - after, &mut report).await?;
        Ok(report)
    }

    async fn reconcile_one(&self, app: &App, payment: &PaymentRow, now: i64, report: &mut CycleReport) {
        // Its own provider, enabled or retired; one this server no longer has cannot be asked,
        // so nothing is decided for it here (it may have been paid there).
        let Ok(provider) = app.provider(&payment.provider).cloned() else {
            report.still_open += 1;
            tracing::warn!(payment = %payment.public_id, provider = %payment.provider, "reconcile: the payment's provider is not configured here; left open");
            return;
        };
        let lifetime = i64::try_from(self.settings.checkout_lifetime_secs).unwrap_or(i64::MAX / 4);
        let abandoned = now - payment.created_at >= lifetime;
        let external_id = payment
            .external_id
            .clone()
            .filter(|_| provider.capabilities().fetch_payment);
        let mut open_there = false;
        if let Some(external_id) = external_id {
            self.pace(provider.name()).await;
            report.fetched += 1;
            match provider.fetch_payment(&external_id).await {
                Ok(snapshot) => match self.settle(app, payment, snapshot, report).await {
                    Settled::Done => return,
                    Settled::Open => open_there = true,
                },
                Err(ProviderError::NotSupported { .. }) => {}
                Err(e) => {
                    // Never expire what the provider could not be asked about: it may be paid.
                    report.errors += 1;
                    tracing::warn!(payment = %payment.public_id, error = %e, "reconcile: could not look the payment up; trying again later");
                    audit(app, payment, json!({"result": "error", "error": e.to_string()})).await;
                    return;
                }
            }
        }
        if !abandoned {
            report.still_open += 1;
            return;
        }
        // Expired at the provider first, where its API allows: never expire here a checkout the
        // payer can still pay there. A checkout paid meanwhile comes back paid and is finalized.
        let can_expire = provider.capabilities().expire_checkout;
        if open_there && !can_expire {
            // The provider says it can still be paid and cannot be told otherwise: wait for its
            // own expiry (a later look-up closes it), never expire it here first.
            report.still_open += 1;
            return;
        }
        if can_expire {
            let Some(external_id) = payment.external_id.clone() else {
                report.still_open += 1;
                return;
            };
            self.pace(provider.name()).await;
            match provider.expire_checkout(&external_id).await {
                Ok(snapshot) if snapshot.status != PaymentStatus::Expired => {
                    if let Settled::Done = self.settle(app, payment, snapshot, report).await {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(payment = %payment.public_id, error = %e, "reconcile: could not expire the checkout at the provider; trying again later");
                    audit(
                        app,
                        payment,
                        json!({"result": "error", "step": "expire", "error": e.to_string()}),
                    )
                    .await;
                    return;
                }
            }
        }
        let (public_id, lifetime_secs) = (payment.public_id.clone(), self.settings.checkout_lifetime_secs);
        let reason = format!("checkout abandoned: not paid within CHECKOUT_LIFETIME_SECS={lifetime_secs}");
        match app
            .db(move |s| s.close_payment(&public_id, PaymentState::Expired, ACTOR, &reason))
            .await
        {
            Ok(true) => {
                report.expired += 1;
                tracing::info!(payment = %payment.public_id, "reconcile: abandoned checkout expired");
            }
            Ok(false) => {}
            Err(e) => {
                report.errors += 1;
                tracing::warn!(payment = %payment.public_id, error = %e, "reconcile: could not expire the checkout");
            }
        }
    }

    /// Acts on what the provider says about an open payment.
    async fn settle(
        &self,
        app: &App,
        payment: &PaymentRow,
        snapshot: PaymentSnapshot,
        report: &mut CycleReport,
    ) -> Settled {
        let public_id = payment.public_id.clone();
        let expected = payment.amount().ok();
        match snapshot.status {
            PaymentStatus::Pending => Settled::Open,
            // An approval is captured only for exactly what we asked; otherwise the finalize
            // below refuses it (and audits the mismatch) without capturing anything.
            PaymentStatus::RequiresCapture if snapshot.amount.is_some() && snapshot.amount == expected => {
                match capture_payment(app, payment, None, Some((ACTOR, ACTOR))).await {
                    Ok(outcome) => {
                        self.count_finalize(&outcome, payment, report, true);
                        Settled::Done
                    }
                    Err(CaptureFailure::Pending) => {
                        report.still_open += 1;
                        Settled::Done
                    }
                    Err(CaptureFailure::Declined(reason)) => {
                        report.closed += 1;
                        tracing::info!(payment = %payment.public_id, reason, "reconcile: capture declined; payment closed");
                        Settled::Done
                    }
                    Err(CaptureFailure::Retry(reason)) => {
                        report.errors += 1;
                        tracing::warn!(payment = %payment.public_id, reason, "reconcile: capture failed; trying again later");
                        Settled::Done
                    }
                }
            }
            // Refunded at the provider while open here (its success webhook was lost): finalized
            // like a success, and the provider's refunded total comes with it.
            PaymentStatus::Succeeded | PaymentStatus::RequiresCapture | PaymentStatus::Refunded => {
                match app
                    .db(move |s| s.finalize_from_provider(None, &public_id, &snapshot, ACTOR, ACTOR))
                    .await
                {
                    Ok(outcome) => self.count_finalize(&outcome, payment, report, false),
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(payment = %payment.public_id, error = %e, "reconcile: could not finalize");
                    }
                }
                Settled::Done
            }
            status @ (PaymentStatus::Failed | PaymentStatus::Expired | PaymentStatus::Canceled) => {
                let new_state = match status {
                    PaymentStatus::Failed => PaymentState::Failed,
                    PaymentStatus::Expired => PaymentState::Expired,
                    _ => PaymentState::Canceled,
                };
                let reason = format!("the provider reports the payment {}", new_state.as_str());
                match app
                    .db(move |s| s.close_payment(&public_id, new_state, ACTOR, &reason))
                    .await
                {
                    Ok(closed) => {
                        report.closed += usize::from(closed);
                        tracing::info!(payment = %payment.public_id, state = new_state.as_str(), "reconcile: payment closed as the provider reports");
                    }
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(payment = %payment.public_id, error = %e, "reconcile: could not close");
                    }
                }
                Settled::Done
            }
        }
    }

    fn count_finalize(
        &self,
        outcome: &FinalizeOutcome,
        payment: &PaymentRow,
        report: &mut CycleReport,
        captured: bool,
    ) {
        match outcome {
            FinalizeOutcome::Finalized { .. } if captured => report.captured += 1,
            FinalizeOutcome::Finalized { .. } => report.finalized += 1,
            FinalizeOutcome::Mismatch { expected, got, .. } => {
                report.mismatched += 1;
                tracing::warn!(
                    payment = %payment.public_id,
                    expected = %expected,
                    got = %got.map_or("nothing".to_string(), |m| m.to_string()),
                    "reconcile: the provider reports another amount; refused, left open for an operator"
                );
            }
            FinalizeOutcome::ReceiptNotPayable { receipt_status, .. } => {
                tracing::warn!(payment = %payment.public_id, receipt_status, "reconcile: paid at the provider but the receipt is not payable; needs a refund");
            }
            FinalizeOutcome::AlreadyFinalized { .. } | FinalizeOutcome::UnknownPayment => {}
        }
        if matches!(outcome, FinalizeOutcome::Finalized { .. }) {
            tracing::info!(payment = %payment.public_id, captured, "reconcile: payment finalized from the provider's status");
        }
    }
}

/// A `payment.reconcile` audit entry (look-up errors, states that need an operator).
async fn audit(app: &App, payment: &PaymentRow, detail: serde_json::Value) {
    let entry = NewAudit::new(
        ACTOR,
        "payment.reconcile",
        format!("payment {}", payment.public_id),
        detail,
    )
    .receipt(payment.receipt_id)
    .payment(payment.id);
    if let Err(e) = app.db(move |s| s.append_audit(&entry)).await {
        tracing::error!(error = %e, "could not audit a reconciliation step");
    }
}

/// The background task of `web serve`: a cycle every `RECONCILE_INTERVAL_SECS` (the first at
/// start-up); a failed cycle is logged and the next one tries again.
pub async fn run_forever(app: App) {
    let settings = app.settings().reconcile;
    if settings.interval_secs == 0 {
        return;
    }
    let reconciler = match Reconciler::new(settings) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reconciliation cannot start");
            return;
        }
    };
    tracing::info!(
        owner = reconciler.owner(),
        interval_secs = settings.interval_secs,
        after_secs = settings.after_secs,
        checkout_lifetime_secs = settings.checkout_lifetime_secs,
        rate_per_sec = settings.rate_per_sec,
        "reconciliation runs in the background"
    );
    let mut tick = tokio::time::interval(Duration::from_secs(settings.interval_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match reconciler.run_cycle(&app, payments_core::unix_now()).await {
            Ok(report) if report.errors > 0 => tracing::warn!(%report, "reconcile cycle"),
            Ok(report) if report.checked > 0 => tracing::info!(%report, "reconcile cycle"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reconcile cycle failed; the next one tries again"),
        }
    }
}
