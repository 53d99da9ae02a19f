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
