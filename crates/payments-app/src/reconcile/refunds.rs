//! Reconciliation of refunds: those still in flight (`requested`, `pending`) are settled from
//! the provider's refund list, a payment at a time (paced like the look-ups of payments). This
//! is also what settles the refund rows of providers that report only totals (Mollie).
//!
//! Nothing is ever sent again from here: a refund the provider does not list stays `requested`
//! for the admin to retry (which asks again first) or to record.

use std::collections::BTreeSet;

use super::{CycleReport, Reconciler, ACTOR};
use crate::{refunds, App, Error};

/// How many in-flight refunds one cycle looks at, at most.
const REFUNDS_PER_CYCLE: i64 = 200;

impl Reconciler {
    /// Settles the refunds in flight not updated since `before` from the provider's refund list.
    pub(super) async fn follow_refunds(
        &self,
        app: &App,
        before: i64,
        report: &mut CycleReport,
    ) -> Result<(), Error> {
        let listing = |name: &str| app.provider(name).is_ok_and(|p| p.capabilities().list_refunds);
        if !app.providers().all().any(|p| listing(p.provider.name())) {
            return Ok(());
        }
        let open = app.db(move |s| s.open_refunds(before, REFUNDS_PER_CYCLE)).await?;
        // Each payment's refunds from its own provider, paced per provider.
        let payments: BTreeSet<i64> = open
            .iter()
            .filter(|r| listing(&r.provider))
            .map(|r| r.payment_id)
            .collect();
        for id in payments {
            let Some(payment) = app.db(move |s| s.payment_by_id(id)).await? else {
                continue;
            };
            self.pace(&payment.provider).await;
            report.refunds_checked += 1;
            match refunds::sync_payment(app, &payment, ACTOR).await {
                Ok(sync) => {
                    report.refunds_settled += sync.changed.len() + sync.added;
                    if !sync.changed.is_empty() || sync.added > 0 {
                        tracing::info!(payment = %payment.public_id, changed = ?sync.changed, added = sync.added, "reconcile: refunds settled from the provider's list");
                    }
                }
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(payment = %payment.public_id, error = %e, "reconcile: could not list the payment's refunds; trying again later");
                }
            }
        }
        Ok(())
    }
}
