//! Row leases for reconciliation: an instance claims open payments before asking the provider
//! about them, so that several instances on one database never work on the same payment at once.
//!
//! The claim is one statement: `UPDATE payments SET reconcile_owner = …, reconcile_lease_until = …
//! WHERE id IN (SELECT id … LIMIT n FOR UPDATE SKIP LOCKED) RETURNING id` on PostgreSQL (a row
//! another instance is claiming right now is skipped, not waited for; one it claimed before has
//! a lease in the future and is not selected), and the same statement without the locking clause
//! inside SQLite's `BEGIN IMMEDIATE` (writers are serialized, so the select and the update are
//! atomic).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::models::{PaymentRow, PaymentState};
use crate::schema::payments;
use crate::{DbPool, Store, StoreError};

#[derive(diesel::QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The claim statement; `lock` is `FOR UPDATE SKIP LOCKED` on PostgreSQL, empty on SQLite.
/// Binds: owner, lease_until, created_before, now, limit.
fn claim_sql(lock: &str, placeholders: [&str; 5]) -> String {
    let [owner, until, before, now, limit] = placeholders;
    let open = PaymentState::OPEN
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "UPDATE payments SET reconcile_owner = {owner}, reconcile_lease_until = {until} \
         WHERE id IN (SELECT id FROM payments \
           WHERE status IN ({open}) AND created_at <= {before} \
             AND (reconcile_lease_until IS NULL OR reconcile_lease_until <= {now}) \
           ORDER BY created_at, id LIMIT {limit} {lock}) \
         RETURNING id"
    )
}

impl Store {
    /// Claims up to `limit` open payments created at or before `created_before` that no other
    /// instance holds (no lease, or one that lapsed by `now`), for `owner` until `lease_until`;
    /// returns them oldest first. Nothing is audited: a claim changes no payment.
    pub fn claim_for_reconcile(
        &self,
        owner: &str,
        now: i64,
        created_before: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<PaymentRow>, StoreError> {
        // The same claim on both backends: the placeholders and PostgreSQL's row locks differ.
        macro_rules! claim {
            ($c:expr, $sql:expr) => {{
                let ids: Vec<ClaimedId> = diesel::sql_query($sql)
                    .bind::<Text, _>(owner)
                    .bind::<BigInt, _>(lease_until)
                    .bind::<BigInt, _>(created_before)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(limit)
                    .load($c)?;
                let ids: Vec<i64> = ids.into_iter().map(|r| r.id).collect();
                Ok(payments::table
                    .filter(payments::id.eq_any(ids))
                    .order((payments::created_at, payments::id))
                    .select(PaymentRow::as_select())
                    .load($c)?)
            }};
        }
        match &self.pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(pool) => {
                let mut conn = pool.get()?;
                conn.immediate_transaction(|c| claim!(c, claim_sql("", ["?", "?", "?", "?", "?"])))
            }
            #[cfg(feature = "postgres")]
            DbPool::Pg(pool) => {
                let mut conn = pool.get()?;
                diesel::Connection::transaction(&mut *conn, |c| {
                    claim!(
                        c,
                        claim_sql("FOR UPDATE SKIP LOCKED", ["$1", "$2", "$3", "$4", "$5"])
                    )
                })
            }
        }
    }

    /// Gives up `owner`'s claim on a payment; it is due again at `next_check` (a check that left
    /// it open waits this long before the next). False when `owner` no longer held it.
    pub fn release_reconcile(
        &self,
        payment_id: i64,
        owner: &str,
        next_check: i64,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |c| {
            let n = diesel::update(
                payments::table
                    .find(payment_id)
                    .filter(payments::reconcile_owner.eq(owner)),
            )
            .set((
                payments::reconcile_owner.eq(None::<String>),
                payments::reconcile_lease_until.eq(Some(next_check)),
            ))
            .execute(c)?;
            Ok(n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_claim_names_only_open_states_and_locks_only_on_postgres() {
        let pg = super::claim_sql("FOR UPDATE SKIP LOCKED", ["$1", "$2", "$3", "$4", "$5"]);
        assert!(pg.contains("'created', 'pending', 'requires_capture'"), "{pg}");
        assert!(pg.contains("LIMIT $5 FOR UPDATE SKIP LOCKED)"), "{pg}");
        let lite = super::claim_sql("", ["?", "?", "?", "?", "?"]);
        assert!(!lite.contains("FOR UPDATE"), "{lite}");
    }
}
