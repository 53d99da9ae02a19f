//! What the application's flows can fail with. `bins/web` turns each into an HTTP answer in one
//! place; the command line prints it.

use payments_core::ProviderError;
use payments_store::StoreError;

/// A flow's failure, naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is well formed but cannot be done in the current state (a payment made
    /// through another provider, a refund with nothing to send).
    #[error("{0}")]
    Conflict(String),
    /// The input is unusable (a bad import file, a bad name or password); the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the payment provider failed: {0}")]
    Provider(#[from] ProviderError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }
}
