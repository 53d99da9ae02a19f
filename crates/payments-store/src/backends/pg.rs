//! The operations compiled for PostgreSQL.
pub(crate) type Conn = diesel::PgConnection;
// The same operations compiled once per backend, on purpose.
#[allow(clippy::duplicate_mod)]
#[path = "../ops/mod.rs"]
pub(crate) mod ops;

/// Takes the payment row's lock (`SELECT ... FOR UPDATE`) for the rest of the transaction:
/// refunds of one payment are decided one at a time.
pub(crate) fn lock_payment(c: &mut Conn, payment_id: i64) -> Result<(), diesel::result::Error> {
    use crate::schema::payments;
    use diesel::prelude::*;
    payments::table
        .find(payment_id)
        .select(payments::id)
        .for_update()
        .first::<i64>(c)
        .optional()
        .map(|_| ())
}
