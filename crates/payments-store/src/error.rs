//! The store's typed errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// A row of an import that cannot be stored, by its position in the input (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    pub index: usize,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] DieselError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("{} row(s) rejected, nothing was imported", .0.len())]
    Rejected(Vec<RowProblem>),
    /// An import that found problems or only checked the file: its transaction was rolled back
    /// (internal to `Store::import_usage_lines`, which returns the outcome).
    #[error("nothing was imported ({} problems)", .0.problem_count)]
    ImportNotKept(Box<crate::models::ImportOutcome>),
    #[error("receipt {id} is {status} and cannot be paid")]
    ReceiptNotPayable { id: i64, status: String },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("invalid DATABASE_URL: {0}")]
    BadUrl(String),
    #[error(
        "DATABASE_URL uses {backend}, but this binary was built without it \
         (rebuild with `--features {feature}`)"
    )]
    BackendNotCompiled {
        backend: &'static str,
        feature: &'static str,
    },
    #[error("database migrations failed: {0}")]
    Migration(String),
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl StoreError {
    /// The database could not be reached or was busy: worth retrying later (HTTP 503).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(DieselError::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    DatabaseErrorKind::ClosedConnection
                        | DatabaseErrorKind::UnableToSendCommand
                        | DatabaseErrorKind::SerializationFailure
                ) || info.message().contains("database is locked")
                    || info.message().contains("could not serialize")
                    || info.message().contains("deadlock detected")
            }
            _ => false,
        }
    }

    /// The database itself could not be reached (no connection, or the connection was lost):
    /// nothing else sent to it now can succeed either. A lock or a serialization failure is
    /// transient but not this.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(DieselError::DatabaseError(kind, _)) => matches!(
                kind,
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand
            ),
            _ => false,
        }
    }

    pub(crate) fn unique_violation(e: &DieselError) -> bool {
        matches!(
            e,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
        )
    }
}
