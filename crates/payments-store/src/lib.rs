#![doc = include_str!("../README.md")]

pub mod availability;
pub mod batch;
#[cfg(feature = "sqlite")]
pub mod checkpoint;
pub mod connection;
pub mod error;
mod ids;
pub mod models;
pub mod outcomes;
mod prepared;
pub mod schema;
#[cfg(feature = "test-support")]
pub mod testing;

#[cfg(feature = "sqlite")]
#[path = "backends/sqlite.rs"]
mod sqlite;

#[cfg(feature = "postgres")]
#[path = "backends/pg.rs"]
mod pg;

pub use connection::{parse_url, redact, DbPool, Durability, PoolOptions, Target, DEFAULT_DATABASE_URL};
pub use error::{RowProblem, StoreError};
pub use models::*;

/// How many of the newest entries the audit log's text search looks through (see
/// `Store::audit_page`).
pub const AUDIT_SEARCH_WINDOW: i64 = 5_000;
/// With a provider or search filter, receipt totals are added up over at most this many
/// receipts (`Store::receipt_totals`).
pub const RECEIPT_TOTALS_BOUND: i64 = 2_000;
pub use outcomes::*;

use payments_core::Money;

/// Runs `$body` with `ops` bound to the backend's operations and `$c` to a pooled connection,
/// inside one write transaction (`BEGIN IMMEDIATE` on SQLite, so writers queue on the busy
/// timeout instead of failing on a lock upgrade).
macro_rules! write_tx {
    (@in $store:expr, $subjournal_in_memory:expr, |$c:ident| $body:expr) => {
        match &$store.pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(pool) => {
                #[allow(unused_imports)]
                use crate::sqlite::ops;
                use diesel::connection::SimpleConnection;
                let mut conn = pool.get()?;
                if $subjournal_in_memory {
                    conn.batch_execute("PRAGMA temp_store = MEMORY")?;
                }
                let written = conn.immediate_transaction(|$c| $body);
                // What was written stays written (and is answered so) even if this fails.
                if $subjournal_in_memory {
                    if let Err(e) = conn.batch_execute("PRAGMA temp_store = DEFAULT") {
                        tracing::warn!(error = %e, "a pooled SQLite connection keeps its temporary storage in memory");
                    }
                }
                written
            }
            #[cfg(feature = "postgres")]
            DbPool::Pg(pool) => {
                #[allow(unused_imports)]
                use crate::pg::ops;
                let mut conn = pool.get()?;
                diesel::Connection::transaction(&mut *conn, |$c| $body)
            }
        }
    };
    // The webhook writer's batches (one savepoint per event). On SQLite the transaction keeps its
    // savepoints' journal (the sub-journal: the pages each savepoint may have to restore) in
    // memory: by default SQLite spills it past 64 KiB to a temporary file, created, written and
    // deleted again in every batch, which cost the single writer about an eighth of its time.
    // The sub-journal holds at most the pages one batch changes (bounded by the batch's size);
    // the connection goes back to the default (temporary files on disk, for large sorts and
    // temporary tables) before it returns to the pool.
    (batch $store:expr, |$c:ident| $body:expr) => {
        write_tx!(@in $store, true, |$c| $body)
    };
    ($store:expr, |$c:ident| $body:expr) => {
        write_tx!(@in $store, false, |$c| $body)
    };
}

/// Like `write_tx!` for reads (no transaction).
macro_rules! read {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store.pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(pool) => {
                #[allow(unused_imports)]
                use crate::sqlite::ops;
                let mut conn = pool.get()?;
                let $c = &mut *conn;
                $body
            }
            #[cfg(feature = "postgres")]
            DbPool::Pg(pool) => {
                #[allow(unused_imports)]
                use crate::pg::ops;
                let mut conn = pool.get()?;
                let $c = &mut *conn;
                $body
            }
        }
    };
}

// Row leases for reconciliation (uses the macros above).
mod reconcile;

/// The application's database: every method is one transaction (or one read).
#[derive(Debug)]
pub struct Store {
    pool: DbPool,
    durability: Durability,
    /// Where [`Store::probe`] connects (its `Debug` hides the URL: it may hold a password).
    target: HiddenTarget,
    /// SQLite: checkpoints the WAL off the commit path (see [`checkpoint`]).
    #[cfg(feature = "sqlite")]
    _checkpointer: Option<checkpoint::Checkpointer>,
    /// Webhook batches written set-based, and tried but undone (see [`Store::set_based_batches`]).
    set_based: SetBasedCounts,
}

#[derive(Debug, Default)]
struct SetBasedCounts {
    written: std::sync::atomic::AtomicU64,
    undone: std::sync::atomic::AtomicU64,
}

struct HiddenTarget(Target);

impl std::fmt::Debug for HiddenTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Target::Sqlite(path) => write!(f, "Sqlite({path:?})"),
            Target::Postgres(url) => write!(f, "Postgres({:?})", redact(url)),
        }
    }
}

#[cfg(feature = "sqlite")]
#[derive(diesel::QueryableByName)]
struct SqliteSynchronous {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    synchronous: i32,
}

#[cfg(feature = "postgres")]
#[derive(diesel::QueryableByName)]
struct PgSynchronousCommit {
    #[diesel(sql_type = diesel::sql_types::Text)]
    synchronous_commit: String,
}

impl Store {
    /// Opens the database named by `url` (see [`parse_url`]) and applies pending migrations.
    pub fn open(url: &str, options: &PoolOptions) -> Result<Store, StoreError> {
        let pool = connection::open(url, options)?;
        let target = parse_url(url)?;
        #[cfg(feature = "sqlite")]
        let checkpointer = match &target {
            Target::Sqlite(path) => Some(checkpoint::Checkpointer::start(
                path,
                connection::sqlite_synchronous(options.durability),
            )?),
            Target::Postgres(_) => None,
        };
        Ok(Store {
            pool,
            durability: options.durability,
            target: HiddenTarget(target),
            #[cfg(feature = "sqlite")]
            _checkpointer: checkpointer,
            set_based: SetBasedCounts::default(),
        })
    }

    /// How many webhook batches this store wrote set-based, one statement per kind of write for
    /// the whole batch (batches of nothing but plain payment successes, see
    /// [`Store::handle_verified_events`]); the others were written event by event.
    pub fn set_based_batches(&self) -> u64 {
        self.set_based.written.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many webhook batches were tried set-based and undone, because what they read first
    /// was out of date by the time they wrote (another writer, a change meanwhile): those were
    /// then written event by event.
    pub fn set_based_batches_undone(&self) -> u64 {
        self.set_based.undone.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the pool was opened with.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The commit-durability setting as `connections` pooled connections, checked out at the
    /// same time (so they are distinct connections), each report it: SQLite's `PRAGMA
    /// synchronous` (`off`, `normal`, `full`, `extra`) or PostgreSQL's `synchronous_commit`.
    pub fn durability_in_force(&self, connections: usize) -> Result<Vec<String>, StoreError> {
        use diesel::RunQueryDsl;
        match &self.pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(pool) => {
                let mut held = (0..connections.max(1))
                    .map(|_| pool.get())
                    .collect::<Result<Vec<_>, _>>()?;
                held.iter_mut()
                    .map(|conn| {
                        let row: SqliteSynchronous =
                            diesel::sql_query("PRAGMA synchronous").get_result(&mut **conn)?;
                        Ok(match row.synchronous {
                            0 => "off".to_string(),
                            1 => "normal".to_string(),
                            2 => "full".to_string(),
                            3 => "extra".to_string(),
                            n => n.to_string(),
                        })
                    })
                    .collect()
            }
            #[cfg(feature = "postgres")]
            DbPool::Pg(pool) => {
                let mut held = (0..connections.max(1))
                    .map(|_| pool.get())
                    .collect::<Result<Vec<_>, _>>()?;
                held.iter_mut()
                    .map(|conn| {
                        let row: PgSynchronousCommit =
                            diesel::sql_query("SHOW synchronous_commit").get_result(&mut **conn)?;
                        Ok(row.synchronous_commit)
                    })
                    .collect()
            }
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            DbPool::Pg(_) => "postgres",
        }
    }

    /// A round trip to the database.
    pub fn ping(&self) -> Result<(), StoreError> {
        use diesel::RunQueryDsl;
        read!(self, |c| diesel::sql_query("SELECT 1")
            .execute(c)
            .map(|_| ())
            .map_err(StoreError::from))
    }

    /// A round trip that waits at most `timeout` for a pooled connection (health checks answer
    /// quickly while the database is down instead of waiting for the pool's own timeout).
    pub fn ping_within(&self, timeout: std::time::Duration) -> Result<(), StoreError> {
        use diesel::RunQueryDsl;
        let select = diesel::sql_query("SELECT 1");
        match &self.pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(pool) => select.execute(&mut *pool.get_timeout(timeout)?)?,
            #[cfg(feature = "postgres")]
            DbPool::Pg(pool) => select.execute(&mut *pool.get_timeout(timeout)?)?,
        };
        Ok(())
    }

    /// A connection of its own (not from the pool) for telling whether the database answers
    /// (see [`availability`]); it connects on its first ping.
    pub fn probe(&self) -> availability::Probe {
        availability::Probe::new(self.target.0.clone())
    }

    /// The pool's open and idle connections.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = match &self.pool {
            #[cfg(feature = "sqlite")]
            DbPool::Sqlite(pool) => pool.state(),
            #[cfg(feature = "postgres")]
            DbPool::Pg(pool) => pool.state(),
        };
        (state.connections, state.idle_connections)
    }

    // ---- users

    pub fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<UserRow, StoreError> {
        write_tx!(self, |c| {
            let user = ops::users::create(c, username, password_hash, role)?;
            ops::audit::append(
                c,
                &NewAudit::new(
                    "system",
                    "user.create",
                    format!("user {username}"),
                    serde_json::json!({"role": role.as_str()}),
                ),
            )?;
            Ok(user)
        })
    }

    pub fn user_by_username(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        read!(self, |c| ops::users::by_username(c, username))
    }

    pub fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, StoreError> {
        read!(self, |c| ops::users::by_id(c, id))
    }

    pub fn count_users(&self) -> Result<i64, StoreError> {
        read!(self, |c| ops::users::count(c))
    }

    /// Sets a user's password and ends all of their sessions, in one transaction; audited.
    pub fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        actor: &str,
    ) -> Result<usize, StoreError> {
        write_tx!(self, |c| {
            let user = ops::users::by_username(c, username)?
                .ok_or_else(|| StoreError::NotFound(format!("user {username:?}")))?;
            ops::users::set_password(c, user.id, password_hash)?;
            let ended = ops::sessions::delete_for_user(c, user.id)?;
            ops::audit::append(
                c,
                &NewAudit::new(
                    actor,
                    "user.password",
                    format!("user {username}"),
                    serde_json::json!({"sessions_ended": ended}),
                ),
            )?;
            Ok(ended)
        })
    }

    // ---- sessions

    pub fn session_create(&self, row: &SessionRow) -> Result<(), StoreError> {
        write_tx!(self, |c| ops::sessions::create(c, row))
    }

    pub fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        read!(self, |c| ops::sessions::get(c, id_hash))
    }

    /// Replaces a session's values; false when it no longer exists.
    pub fn session_update(&self, id_hash: &str, state: &str, now: i64) -> Result<bool, StoreError> {
        write_tx!(self, |c| ops::sessions::update(c, id_hash, state, now))
    }

    pub fn session_touch(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        write_tx!(self, |c| ops::sessions::touch(c, id_hash, now))
    }

    pub fn session_delete(&self, id_hash: &str) -> Result<usize, StoreError> {
        write_tx!(self, |c| ops::sessions::delete(c, id_hash))
    }

    /// Ends every session of a user (an administrator's action); audited with `actor`.
    pub fn end_sessions(&self, username: &str, actor: &str) -> Result<usize, StoreError> {
        write_tx!(self, |c| {
            let user = ops::users::by_username(c, username)?
                .ok_or_else(|| StoreError::NotFound(format!("user {username:?}")))?;
            let ended = ops::sessions::delete_for_user(c, user.id)?;
            ops::audit::append(
                c,
                &NewAudit::new(
                    actor,
                    "user.sessions_ended",
                    format!("user {username}"),
                    serde_json::json!({"sessions_ended": ended}),
                ),
            )?;
            Ok(ended)
        })
    }

    /// Deletes sessions past their absolute end or idle since before `seen_before`.
    pub fn delete_stale_sessions(&self, now: i64, seen_before: i64) -> Result<usize, StoreError> {
        write_tx!(self, |c| ops::sessions::delete_stale(c, now, seen_before))
    }

    // ---- usage and receipts

    /// All rows or none: the rows in one transaction, or nothing with every problem (index =
    /// position in `rows`).
    pub fn import_usage(&self, rows: &[NewUsage], actor: &str) -> Result<usize, StoreError> {
        let mut lines = rows.iter().enumerate().map(|(i, row)| {
            Ok(ImportLine {
                line: i as u64,
                row: row.clone(),
            })
        });
        let outcome = self.import_usage_lines(&mut lines, actor, false, &mut |_| {})?;
        if outcome.committed {
            return Ok(outcome.imported as usize);
        }
        Err(StoreError::Rejected(
            outcome
                .problems
                .iter()
                .map(|p| {
                    let (line, message) = p
                        .strip_prefix("line ")
                        .and_then(|rest| rest.split_once(": "))
                        .unwrap_or(("0", p));
                    RowProblem {
                        index: line.parse().unwrap_or(0),
                        message: message.to_string(),
                    }
                })
                .collect(),
        ))
    }

    /// Imports `lines` in one transaction, streamed in chunks (memory does not grow with the
    /// file): kept only when no line has a problem and `dry_run` is false (then audited as
    /// `usage.import`); otherwise rolled back, with the problems (the first 100 and a count).
    /// `progress` gets the rows read so far, after each chunk.
    pub fn import_usage_lines(
        &self,
        lines: &mut dyn Iterator<Item = Result<ImportLine, (u64, String)>>,
        actor: &str,
        dry_run: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportOutcome, StoreError> {
        let result = write_tx!(self, |c| {
            let mut outcome = ImportOutcome::default();
            ops::usage::import_lines(c, lines, &mut outcome, progress)?;
            if outcome.problem_count > 0 || dry_run {
                return Err(StoreError::ImportNotKept(Box::new(outcome)));
            }
            outcome.committed = true;
            ops::audit::append(
                c,
                &NewAudit::new(
                    actor,
                    "usage.import",
                    format!("{} records", outcome.imported),
                    serde_json::json!({"records": outcome.imported}),
                ),
            )?;
            Ok(outcome)
        });
        match result {
            Err(StoreError::ImportNotKept(outcome)) => Ok(*outcome),
            other => other,
        }
    }

    /// A page of `user_id`'s unbilled records that ended in `[since, until)` (either end open),
    /// in date order, from `cursor`, at most `limit` (keyset paging on an index).
    pub fn unbilled_page(
        &self,
        user_id: i64,
        since: Option<i64>,
        until: Option<i64>,
        cursor: UsageCursor,
        limit: i64,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let range = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        read!(self, |c| ops::usage::unbilled_page(
            c, user_id, range, cursor, limit
        ))
    }

    /// `(currency, total minor units, records)` of `user_id`'s unbilled records in `[since,
    /// until)`, one entry per currency: from the sums kept per user and UTC day when the bounds
    /// are whole days (or open), whatever the number of records.
    pub fn unbilled_totals(
        &self,
        user_id: i64,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let range = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        read!(self, |c| ops::usage::unbilled_totals(c, user_id, range))
    }

    /// [`Store::unbilled_totals`] counted from the records themselves, whatever their number (to
    /// check the kept sums against).
    pub fn unbilled_totals_counted(
        &self,
        user_id: i64,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let range = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        read!(self, |c| ops::usage::unbilled_totals_counted(c, user_id, range))
    }

    /// `user_id`'s newest billed records that ended in `[since, until)`, at most `limit`.
    pub fn billed_recent(
        &self,
        user_id: i64,
        since: Option<i64>,
        until: Option<i64>,
        limit: i64,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let range = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        read!(self, |c| ops::usage::billed_recent(c, user_id, range, limit))
    }

    /// `user_id`'s newest receipts (at most `limit`) and their number.
    pub fn receipts_for_user_newest(
        &self,
        user_id: i64,
        limit: i64,
    ) -> Result<(Vec<ReceiptRow>, i64), StoreError> {
        read!(self, |c| ops::receipts::for_user_newest(c, user_id, limit))
    }

    pub fn usage_for_user(&self, user_id: i64) -> Result<Vec<UsageRow>, StoreError> {
        read!(self, |c| ops::usage::for_user(c, user_id))
    }

    /// A page of a receipt's lines in receipt order after line `after`, and the number of its
    /// lines.
    pub fn receipt_lines(
        &self,
        receipt_id: i64,
        after: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<UsageRow>, i64), StoreError> {
        read!(self, |c| ops::usage::receipt_lines(c, receipt_id, after, limit))
    }

    /// The page of [`Store::receipt_lines`] without the number of lines (for a reader going
    /// through all of them, who asks [`Store::receipt_line_count`] once).
    pub fn receipt_lines_after(
        &self,
        receipt_id: i64,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<UsageRow>, StoreError> {
        read!(self, |c| ops::usage::receipt_lines_after(
            c, receipt_id, after, limit
        ))
    }

    /// How many lines receipt `receipt_id` has.
    pub fn receipt_line_count(&self, receipt_id: i64) -> Result<i64, StoreError> {
        read!(self, |c| ops::usage::receipt_line_count(c, receipt_id))
    }

    pub fn usage_for_receipt(&self, receipt_id: i64) -> Result<Vec<UsageRow>, StoreError> {
        read!(self, |c| ops::usage::for_receipt(c, receipt_id))
    }

    pub fn create_receipt_from_usage(
        &self,
        user_id: i64,
        record_ids: &[i64],
        actor: &str,
    ) -> Result<ReceiptRow, StoreError> {
        write_tx!(self, |c| {
            let receipt = ops::receipts::create_from_usage(c, user_id, record_ids)?;
            ops::audit::append(
                c,
                &NewAudit::new(
                    actor,
                    "receipt.create",
                    format!("receipt {}", receipt.id),
                    serde_json::json!({"records": record_ids.len(), "total": receipt.total()?.to_string()}),
                )
                .receipt(receipt.id),
            )?;
            Ok(receipt)
        })
    }

    /// Bills every unbilled record of `user_id` that ended in `[since, until)` on one new
    /// receipt (audited `receipt.create`); returns it and how many records it holds.
    pub fn create_receipt_for_unbilled(
        &self,
        user_id: i64,
        since: Option<i64>,
        until: Option<i64>,
        actor: &str,
    ) -> Result<(ReceiptRow, i64), StoreError> {
        write_tx!(self, |c| {
            let (receipt, records) = ops::receipts::create_for_unbilled(c, user_id, since, until)?;
            ops::audit::append(
                c,
                &NewAudit::new(
                    actor,
                    "receipt.create",
                    format!("receipt {}", receipt.id),
                    serde_json::json!({"records": records, "total": receipt.total()?.to_string(), "all_unbilled": true}),
                )
                .receipt(receipt.id),
            )?;
            Ok((receipt, records))
        })
    }

    /// Voids unpaid receipt `id` (its usage is unbilled again), audited `receipt.void` with
    /// `reason`; returns the receipt and how many usage records were freed.
    pub fn void_receipt(
        &self,
        id: i64,
        reason: &str,
        actor: &str,
    ) -> Result<(ReceiptRow, usize), StoreError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid(
                "give a reason for voiding the receipt".into(),
            ));
        }
        if reason.chars().count() > 500 {
            return Err(StoreError::Invalid(
                "the reason is longer than 500 characters".into(),
            ));
        }
        write_tx!(self, |c| {
            let (receipt, freed) = ops::receipts::void(c, id)?;
            ops::audit::append(
                c,
                &NewAudit::new(
                    actor,
                    "receipt.void",
                    format!("receipt {id}"),
                    serde_json::json!({"reason": reason, "records_unbilled": freed, "total": receipt.total()?.to_string()}),
                )
                .receipt(id),
            )?;
            Ok((receipt, freed))
        })
    }

    /// Paid, refunded, refund count, dispute and provider ids of each of `receipt_ids` that has
    /// a payment (any number of ids).
    pub fn receipt_money(
        &self,
        receipt_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, ReceiptMoney>, StoreError> {
        read!(self, |c| ops::receipts::money(c, receipt_ids))
    }

    pub fn receipt(&self, id: i64) -> Result<Option<ReceiptRow>, StoreError> {
        read!(self, |c| ops::receipts::by_id(c, id))
    }

    pub fn receipts_for_user(&self, user_id: i64) -> Result<Vec<ReceiptRow>, StoreError> {
        read!(self, |c| ops::receipts::for_user(c, user_id))
    }

    pub fn all_receipts(&self, limit: i64, offset: i64) -> Result<Vec<(ReceiptRow, String)>, StoreError> {
        read!(self, |c| ops::receipts::all(c, limit, offset))
    }

    /// Per currency, over the receipts matching `filter`: how many, and what they billed,
    /// received and had refunded, in minor units. Read from the sums kept by the database for
    /// any filter of user, status and whole days, whatever the number of receipts; with a
    /// provider or a search, added up when at most [`RECEIPT_TOTALS_BOUND`] receipts match and
    /// `None` beyond.
    pub fn receipt_totals(&self, filter: &ReceiptFilter) -> Result<Option<Vec<CurrencyTotal>>, StoreError> {
        read!(self, |c| ops::receipts::totals(c, filter))
    }

    /// The same totals added up from the receipts themselves, whatever their number (to check
    /// the kept sums against).
    pub fn receipt_totals_added_up(&self, filter: &ReceiptFilter) -> Result<Vec<CurrencyTotal>, StoreError> {
        read!(self, |c| ops::receipts::added_up(c, filter))
    }

    /// Folds the changes PostgreSQL's triggers left pending into the receipts' sums (every few
    /// seconds, by the server; the totals are right without it, only slower to add up while
    /// many changes are pending). A no-op on SQLite. How many sums it changed.
    pub fn fold_receipt_sums(&self) -> Result<usize, StoreError> {
        if self.backend() == "sqlite" {
            return Ok(0);
        }
        write_tx!(self, |c| ops::fold_receipt_sums(c))
    }

    /// At most `limit` receipts matching `filter` from `cursor`, newest first: keyset paging
    /// through any number of receipts.
    pub fn receipts_page(
        &self,
        filter: &ReceiptFilter,
        cursor: IdCursor,
        limit: i64,
    ) -> Result<Vec<(ReceiptRow, String)>, StoreError> {
        read!(self, |c| ops::receipts::matching(c, filter, cursor, limit))
    }

    // ---- payments

    /// Opens (or reuses) the payment intent of an unpaid receipt.
    pub fn create_payment_for_receipt(
        &self,
        receipt_id: i64,
        provider: &str,
    ) -> Result<IntentOutcome, StoreError> {
        write_tx!(self, |c| ops::payments::create_for_receipt(
            c, receipt_id, provider
        ))
    }

    /// Stores the provider's checkout and audits `payment.intent`.
    pub fn attach_provider_checkout(
        &self,
        payment_id: i64,
        external_id: &str,
        checkout_url: &str,
        actor: &str,
    ) -> Result<PaymentRow, StoreError> {
        write_tx!(self, |c| ops::payments::attach_checkout(
            c,
            payment_id,
            external_id,
            checkout_url,
            actor
        ))
    }

    /// For benchmarks and tests: for each of `records` (usage record ids of `user_id`), a
    /// receipt, its intent for `provider` and the checkout `external_ids[i]` attached, exactly as
    /// the one-at-a-time calls do it (the same operations, audited the same), but all in one
    /// transaction. Returns (receipt id, payment public id) per record.
    #[cfg(feature = "test-support")]
    pub fn open_checkouts_for_tests(
        &self,
        user_id: i64,
        records: &[i64],
        provider: &str,
        external_ids: &[String],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        write_tx!(self, |c| {
            records
                .iter()
                .zip(external_ids)
                .map(|(record, external_id)| {
                    let receipt = ops::receipts::create_from_usage(c, user_id, &[*record])?;
                    let intent = ops::payments::create_for_receipt(c, receipt.id, provider)?;
                    let payment = ops::payments::attach_checkout(
                        c,
                        intent.payment().id,
                        external_id,
                        "http://127.0.0.1:9/checkout",
                        "test",
                    )?;
                    Ok((receipt.id, payment.public_id))
                })
                .collect()
        })
    }

    pub fn payment_by_public_id(&self, public_id: &str) -> Result<Option<PaymentRow>, StoreError> {
        read!(self, |c| ops::payments::by_public_id(c, public_id))
    }

    /// Stores the outcome of an event processed outside `handle_verified_event` (after a
    /// capture); `None` does nothing.
    pub fn set_event_outcome(
        &self,
        event_row_id: Option<i64>,
        outcome: &str,
        processed: bool,
    ) -> Result<(), StoreError> {
        let Some(row) = event_row_id else {
            return Ok(());
        };
        write_tx!(self, |c| ops::events::set_outcome_only(
            c, row, outcome, processed
        ))
    }

    /// The provider ids a payment is known by (checkout, payment intent, charge, ...).
    pub fn payment_references(&self, payment_id: i64) -> Result<Vec<String>, StoreError> {
        read!(self, |c| ops::payments::references_of(c, payment_id))
    }

    /// The providers stored payments were made through (each once).
    pub fn payment_providers(&self) -> Result<Vec<String>, StoreError> {
        read!(self, |c| ops::receipts::payment_providers(c))
    }

    pub fn payments_for_receipt(&self, receipt_id: i64) -> Result<Vec<PaymentRow>, StoreError> {
        read!(self, |c| ops::payments::for_receipt(c, receipt_id))
    }

    /// Records a verified webhook event (idempotently) and acts on it in one transaction: if
    /// anything fails, nothing is recorded and a redelivery is processed from scratch. (The same
    /// code path as a batch of one in [`Store::handle_verified_events`].)
    pub fn handle_verified_event(&self, event: &VerifiedEvent) -> Result<EventOutcome, StoreError> {
        let mut outcomes = self.handle_verified_events(std::slice::from_ref(event))?;
        outcomes
            .pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("a batch of one event gave no outcome".into())))
    }

    /// Group commit: records and acts on every event in ONE transaction (one commit, one sync),
    /// each event inside its own savepoint, so that an event that fails (a database error)
    /// changes nothing while the others are kept. Returns each event's own outcome, in order.
    /// The outer error means the transaction itself failed (could not begin or commit): then
    /// nothing of the batch was written.
    ///
    /// A batch of nothing but first deliveries of payment successes, each for its own open
    /// payment with its exact amount, is written set-based instead: one statement per kind of
    /// write for the whole batch, with the same rows, outcomes and audit entries (see
    /// [`Store::set_based_batches`]); if what it read first turned out to be out of date, that is
    /// undone and the batch goes event by event.
    pub fn handle_verified_events(
        &self,
        events: &[VerifiedEvent],
    ) -> Result<Vec<Result<EventOutcome, StoreError>>, StoreError> {
        // The audit rows of the events whose savepoint was kept are written together at the end
        // (one round trip, still inside the transaction): an event whose savepoint was rolled
        // back leaves no audit row. If that insert fails (one event's audit row is refused),
        // nothing was committed and the batch is written once more with each event's audit rows
        // inside its own savepoint, so that only the event at fault fails.
        self.apply_events(events, true)
            .or_else(|_| self.apply_events(events, false))
    }

    fn apply_events(
        &self,
        events: &[VerifiedEvent],
        defer_audit: bool,
    ) -> Result<Vec<Result<EventOutcome, StoreError>>, StoreError> {
        write_tx!(batch self, |c| {
            use diesel::connection::SimpleConnection;
            // What the batch's success events need is read first, once for all of them
            // (see `ops::ingest`).
            let pre = ops::ingest::Prefetched::load(c, events)?;
            // A batch of nothing but plain successes: one statement per kind of write for all
            // of it (see `ops::set_based`). Not when each event's audit entries must be written
            // in its own savepoint (the second attempt, after the audit insert failed).
            if defer_audit {
                let mut audits = Vec::new();
                match ops::set_based::apply_successes(c, events, &pre, &mut audits)? {
                    ops::set_based::SetBased::Written(outcomes) => {
                        ops::audit::append_all(c, &audits)?;
                        self.set_based.written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return Ok(outcomes.into_iter().map(Ok).collect());
                    }
                    ops::set_based::SetBased::Undone => {
                        self.set_based.undone.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    ops::set_based::SetBased::NotApplicable => {}
                }
            }
            // Each event in a savepoint of its own, kept by hand rather than by nesting diesel
            // transactions: releasing one event's savepoint and taking the next one's is a single
            // round trip, and after the last event the commit releases it. A failed event is
            // rolled back to its savepoint, which stays in place for the next event.
            c.batch_execute("SAVEPOINT batch_event")?;
            let mut audits = Vec::new();
            let mut outcomes = Vec::with_capacity(events.len());
            for (i, ev) in events.iter().enumerate() {
                let mut own = Vec::new();
                let outcome = match ops::ingest::apply_success(c, ev, &pre, &mut own) {
                    Ok(ops::ingest::Batched::Handled(outcome)) => Ok(outcome),
                    Ok(ops::ingest::Batched::PerEvent) => ops::payments::apply_event(c, ev, &mut own),
                    Ok(ops::ingest::Batched::StoredMeanwhile) => {
                        c.batch_execute("ROLLBACK TO SAVEPOINT batch_event")?;
                        own.clear();
                        ops::payments::apply_event(c, ev, &mut own)
                    }
                    Err(e) => Err(e),
                }
                .and_then(|outcome| {
                    if !defer_audit {
                        ops::audit::append_all(c, &own)?;
                    }
                    Ok(outcome)
                });
                let last = i + 1 == events.len();
                match &outcome {
                    Ok(_) => {
                        if defer_audit {
                            audits.append(&mut own);
                        }
                        if !last {
                            c.batch_execute("RELEASE SAVEPOINT batch_event; SAVEPOINT batch_event")?;
                        }
                    }
                    Err(_) => c.batch_execute("ROLLBACK TO SAVEPOINT batch_event")?,
                }
                outcomes.push(outcome);
            }
            ops::audit::append_all(c, &audits)?;
            Ok(outcomes)
        })
    }

    /// Only records the event (inserted / reprocess / duplicate), for callers that act later.
    pub fn record_webhook_event(&self, event: &VerifiedEvent) -> Result<RecordOutcome, StoreError> {
        write_tx!(self, |c| ops::events::record(c, event))
    }

    /// Flips payment and receipt to paid when `amount` matches exactly, in one transaction.
    /// `source` says what proved the payment (a webhook, a capture) for the audit log.
    pub fn finalize_success_if_amount_matches(
        &self,
        public_id: &str,
        amount: Option<Money>,
        actor: &str,
        source: &str,
    ) -> Result<FinalizeOutcome, StoreError> {
        write_tx!(self, |c| {
            let payment = ops::payments::by_public_id(c, public_id)?;
            let mut audits = Vec::new();
            let outcome = ops::payments::finalize_success(c, payment, amount, actor, source, &mut audits)?;
            ops::audit::append_all(c, &audits)?;
            Ok(outcome)
        })
    }

    /// Finishes a `CaptureRequired` event after the provider's capture: finalizes from the
    /// captured amount and marks the event processed, in one transaction.
    pub fn complete_capture(
        &self,
        event_row_id: Option<i64>,
        public_id: &str,
        captured: Option<Money>,
        actor: &str,
        source: &str,
    ) -> Result<FinalizeOutcome, StoreError> {
        write_tx!(self, |c| {
            let payment = ops::payments::by_public_id(c, public_id)?;
            let payment_id = payment.as_ref().map(|p| p.id);
            let mut audits = Vec::new();
            let outcome = ops::payments::finalize_success(c, payment, captured, actor, source, &mut audits)?;
            if let Some(row) = event_row_id {
                ops::events::set_outcome(c, row, payment_id, outcome.label(), true)?;
            }
            ops::audit::append_all(c, &audits)?;
            Ok(outcome)
        })
    }

    /// Finalizes a payment from what the provider answered (a look-up at reconciliation, a
    /// capture the server made), in one transaction: the provider ids the answer reveals are
    /// remembered (so that later events naming only them are matched), the exact amount and
    /// currency are checked as for a webhook, and a payment finalized now takes the provider's
    /// refunded total (refunds made at the provider before we saw the payment succeed).
    pub fn finalize_from_provider(
        &self,
        event_row_id: Option<i64>,
        public_id: &str,
        snapshot: &payments_core::PaymentSnapshot,
        actor: &str,
        source: &str,
    ) -> Result<FinalizeOutcome, StoreError> {
        write_tx!(self, |c| {
            let payment = ops::payments::by_public_id(c, public_id)?;
            if let Some(p) = &payment {
                ops::payments::remember_references(c, p, snapshot.references.iter().map(String::as_str))?;
            }
            let payment_id = payment.as_ref().map(|p| p.id);
            let mut audits = Vec::new();
            let outcome =
                ops::payments::finalize_success(c, payment, snapshot.amount, actor, source, &mut audits)?;
            if let Some(row) = event_row_id {
                ops::events::set_outcome(c, row, payment_id, outcome.label(), true)?;
            }
            ops::audit::append_all(c, &audits)?;
            if let (FinalizeOutcome::Finalized { payment_id, .. }, Some(total)) =
                (&outcome, snapshot.refunded)
            {
                if total.get() > 0 {
                    ops::refunds::apply_total(c, *payment_id, total.get(), actor)?;
                }
            }
            Ok(outcome)
        })
    }

    /// Marks an open payment failed/expired/canceled (e.g. the payer cancelled, a capture was
    /// declined). A succeeded payment is never changed.
    pub fn close_payment(
        &self,
        public_id: &str,
        state: PaymentState,
        actor: &str,
        reason: &str,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |c| ops::payments::close(c, public_id, state, actor, reason))
    }

    // ---- refunds and disputes

    /// Stores a refund of `amount_minor` (the payment's currency) as `requested`, with its
    /// deterministic idempotency key, BEFORE the provider is called; audited. Refused, with
    /// nothing stored, when the payment is not paid or the amount is more than what remains
    /// (decided under the payment's lock, so concurrent requests never over-refund).
    pub fn request_refund(
        &self,
        payment_public_id: &str,
        amount_minor: i64,
        reason: &str,
        actor: &str,
    ) -> Result<RefundRow, StoreError> {
        write_tx!(self, |c| ops::refunds::request(
            c,
            payment_public_id,
            amount_minor,
            reason,
            "",
            actor,
            None
        ))
        .map(|r| r.row().clone())
    }

    /// [`Store::request_refund`] from a confirmation page whose random `token` it carries: the
    /// first request with the token stores the refund, every later one (also at the same time,
    /// from another browser) gets that refund back as [`RefundRequested::Repeated`].
    /// `payer_note` is what the payer is told (the reason is for admins only).
    pub fn request_refund_once(
        &self,
        payment_public_id: &str,
        amount_minor: i64,
        reason: &str,
        payer_note: &str,
        actor: &str,
        token: &str,
    ) -> Result<RefundRequested, StoreError> {
        write_tx!(self, |c| ops::refunds::request(
            c,
            payment_public_id,
            amount_minor,
            reason,
            payer_note,
            actor,
            Some(token)
        ))
    }

    /// Brings our refunds of a payment in line with `listed`, the provider's list of them
    /// (`PaymentProvider::list_refunds`), and settles the payment and receipt; audited.
    pub fn sync_refunds(
        &self,
        payment_id: i64,
        listed: &[payments_core::ProviderRefund],
        actor: &str,
    ) -> Result<RefundSync, StoreError> {
        write_tx!(self, |c| ops::refunds::sync(c, payment_id, listed, actor))
    }

    /// The admin's record of the outcome of a refund the provider cannot be asked about.
    pub fn record_refund_outcome(
        &self,
        refund_id: i64,
        succeeded: bool,
        note: &str,
        actor: &str,
    ) -> Result<RefundRow, StoreError> {
        write_tx!(self, |c| ops::refunds::manual_outcome(
            c, refund_id, succeeded, note, actor
        ))
    }

    /// Refunds in flight not updated since `before` (unix seconds), oldest first.
    pub fn open_refunds(&self, before: i64, limit: i64) -> Result<Vec<RefundRow>, StoreError> {
        read!(self, |c| ops::refunds::open_refunds(c, before, limit))
    }

    /// Stores the provider's answer to a requested refund and settles the payment and receipt
    /// (`partially_refunded` / `refunded`); audited.
    pub fn record_refund_answer(
        &self,
        refund_id: i64,
        answer: &RefundAnswer,
        actor: &str,
    ) -> Result<RefundRow, StoreError> {
        write_tx!(self, |c| ops::refunds::record_answer(c, refund_id, answer, actor))
    }

    /// Remembers provider ids of our payment `public_id` (made through `provider`), learned by
    /// asking the provider; false when there is no such payment of that provider.
    pub fn learn_references(
        &self,
        public_id: &str,
        provider: &str,
        references: &[String],
    ) -> Result<bool, StoreError> {
        write_tx!(self, |c| {
            let Some(p) = ops::payments::by_public_id(c, public_id)?.filter(|p| p.provider == provider)
            else {
                return Ok(false);
            };
            ops::payments::remember_references(c, &p, references.iter().map(String::as_str))?;
            Ok(true)
        })
    }

    /// The payment an event names (by any provider id of it, else by our id echoed in metadata).
    pub fn payment_for_event(
        &self,
        provider: &str,
        external_id: Option<&str>,
        references: &[String],
        payment_ref: Option<&str>,
    ) -> Result<Option<PaymentRow>, StoreError> {
        read!(self, |c| ops::payments::lookup(
            c,
            provider,
            external_id,
            references,
            payment_ref
        ))
    }

    pub fn payment_by_id(&self, id: i64) -> Result<Option<PaymentRow>, StoreError> {
        read!(self, |c| ops::refunds::payment(c, id))
    }

    pub fn refund(&self, id: i64) -> Result<Option<RefundRow>, StoreError> {
        read!(self, |c| ops::refunds::by_id(c, id))
    }

    /// The refund a confirmation page with this token made, if any.
    pub fn refund_by_request_token(&self, token: &str) -> Result<Option<RefundRow>, StoreError> {
        read!(self, |c| ops::refunds::by_request_token(c, token))
    }

    /// Every refund of every payment of a receipt, oldest first.
    pub fn refunds_for_receipt(&self, receipt_id: i64) -> Result<Vec<RefundRow>, StoreError> {
        read!(self, |c| ops::refunds::for_receipt(c, receipt_id))
    }

    /// What the payer is told about each of a receipt's refunds that has a note: `(refund id,
    /// note)`.
    pub fn refund_notes_for_receipt(&self, receipt_id: i64) -> Result<Vec<(i64, String)>, StoreError> {
        read!(self, |c| ops::refunds::notes_for_receipt(c, receipt_id))
    }

    pub fn disputes_for_receipt(&self, receipt_id: i64) -> Result<Vec<DisputeRow>, StoreError> {
        read!(self, |c| ops::refunds::disputes_for_receipt(c, receipt_id))
    }

    /// Which of `receipt_ids` received a second payment.
    pub fn receipts_paid_twice(&self, receipt_ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        read!(self, |c| ops::payments::paid_twice(c, receipt_ids))
    }

    /// Which of `receipt_ids` have a dispute.
    pub fn disputed_receipts(&self, receipt_ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        read!(self, |c| ops::refunds::disputed_receipts(c, receipt_ids))
    }

    // ---- audit

    pub fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError> {
        write_tx!(self, |c| ops::audit::append(c, entry))
    }

    pub fn audit_log(&self, query: &AuditQuery) -> Result<(Vec<AuditRow>, i64), StoreError> {
        read!(self, |c| ops::audit::list(c, query))
    }

    /// A page of the audit log narrowed by `query` and `more`, newest first (by time, then id),
    /// from `cursor` (keyset: no offset, no count of the whole log); with a text, the search
    /// looks through the newest [`AUDIT_SEARCH_WINDOW`] entries from the range's end (or the
    /// position), and says so (`true`).
    pub fn audit_page(
        &self,
        query: &AuditQuery,
        more: &AuditSearch,
        cursor: IdCursor,
        limit: i64,
    ) -> Result<(Vec<AuditRow>, bool), StoreError> {
        read!(self, |c| ops::audit::search_page(c, query, more, cursor, limit))
    }
}
