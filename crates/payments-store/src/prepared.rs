//! The webhook hot path's updates, as statements each connection prepares once.
//!
//! Diesel never keeps an `UPDATE` prepared: its update statement marks itself unsafe to cache
//! (its `SET` list can vary), so PostgreSQL parsed and planned every payment, receipt and event
//! update again, and SQLite compiled it again. These statements have one fixed text and bind
//! every value, so diesel's statement cache keeps them (keyed by type) and a connection prepares
//! each once. Written once for both backends (the placeholders are diesel's).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

/// Declares a statement type: a fixed SQL text, its binds in order, prepared once per
/// connection (a static query id, and nothing that marks it unsafe to cache).
macro_rules! statement {
    (
        $(#[$doc:meta])*
        $name:ident<$lt:lifetime> { $($field:ident: $ty:ty),* $(,)? }
        sql: [$($part:expr => $bind:ident: $st:ty),* $(,)?] $tail:expr
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $name<$lt> {
            $(pub(crate) $field: $ty,)*
        }

        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl<DB> QueryFragment<DB> for $name<'_>
        where
            DB: Backend + HasSqlType<BigInt> + HasSqlType<Text>,
            i64: ToSql<BigInt, DB>,
            Option<i64>: ToSql<Nullable<BigInt>, DB>,
            str: ToSql<Text, DB>,
        {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
                $(
                    out.push_sql($part);
                    out.push_bind_param::<$st, _>(self.$bind)?;
                )*
                out.push_sql($tail);
                Ok(())
            }
        }

        impl<Conn> RunQueryDsl<Conn> for $name<'_> {}
    };
}

statement! {
    /// Marks a payment `status` unless it already `is` that (the row lock taken here decides a
    /// race between two writers of the same payment).
    SetPaymentStatus<'a> { id: &'a i64, status: &'a str, unless: &'a str, now: &'a i64 }
    sql: [
        "UPDATE payments SET status = " => status: Text,
        ", updated_at = " => now: BigInt,
        " WHERE id = " => id: BigInt,
        " AND status <> " => unless: Text,
    ] ""
}

statement! {
    /// Moves a payment that is still open (one of the three `open` statuses) to `status`;
    /// changes nothing once it succeeded or was closed, whatever was read before.
    MoveOpenPayment<'a> { id: &'a i64, status: &'a str, now: &'a i64, open_1: &'a str, open_2: &'a str, open_3: &'a str }
    sql: [
        "UPDATE payments SET status = " => status: Text,
        ", updated_at = " => now: BigInt,
        " WHERE id = " => id: BigInt,
        " AND status IN (" => open_1: Text,
        ", " => open_2: Text,
        ", " => open_3: Text,
    ] ")"
}

statement! {
    /// Moves a receipt from `from` to `to` (paid), stamping `paid_at`; changes nothing when the
    /// receipt is no longer `from`.
    PayReceipt<'a> { id: &'a i64, from: &'a str, to: &'a str, paid_at: &'a i64 }
    sql: [
        "UPDATE receipts SET status = " => to: Text,
        ", paid_at = " => paid_at: BigInt,
        " WHERE id = " => id: BigInt,
        " AND status = " => from: Text,
    ] ""
}

statement! {
    /// Stores what processing an event did (`processed_at` NULL keeps it open for a redelivery).
    SetEventOutcome<'a> { id: &'a i64, payment_id: &'a Option<i64>, outcome: &'a str, processed_at: &'a Option<i64> }
    sql: [
        "UPDATE payment_events SET payment_id = " => payment_id: Nullable<BigInt>,
        ", outcome = " => outcome: Text,
        ", processed_at = " => processed_at: Nullable<BigInt>,
        " WHERE id = " => id: BigInt,
    ] ""
}

/// Wraps a query so that it is planned at every execution, with its actual values, instead of
/// being kept prepared.
///
/// For look-ups by a list of values (`= ANY($1)` on PostgreSQL): PostgreSQL keeps the generic
/// plan of a prepared statement for the connection's life, and one made while a table was
/// nearly empty reads the whole table (a sequential scan), for every call, long after the table
/// grew. Measured: the batch's look-up of its stored events took 3.4 ms per call instead of
/// 0.07 ms once 10,000 events were stored. A plan made per call sees the table's current size and
/// the list's length, and uses the index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlannedPerCall<Q>(pub(crate) Q);

impl<Q> QueryId for PlannedPerCall<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for PlannedPerCall<Q> {
    type SqlType = Q::SqlType;
}

impl<DB: Backend, Q: QueryFragment<DB>> QueryFragment<DB> for PlannedPerCall<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        self.0.walk_ast(out)
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for PlannedPerCall<Q> {}
