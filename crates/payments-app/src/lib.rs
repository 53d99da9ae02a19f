#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod audit;
pub mod checkout;
mod error;
pub mod format;
mod handle;
pub mod logging;
pub mod logsafe;
pub mod metrics;
pub mod period;
pub mod provider;
pub mod receipts;
pub mod reconcile;
pub mod refunds;
pub mod settings;
pub mod usage;
pub mod webhook;

pub use error::Error;
pub use handle::App;
pub use provider::{ActiveProvider, Providers};
pub use settings::{IngestSettings, ReconcileSettings, Settings};

/// `bytes` random bytes from the operating system, as lowercase hex (session keys, CSRF tokens,
/// passwords of demo accounts, reconciliation owner ids).
pub fn random_token(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(Error::internal)?;
    Ok(hex::encode(buf))
}
