#![doc = include_str!("../README.md")]

pub mod money;
pub mod provider;
pub mod retry;
pub mod signature;
pub mod webhook;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "conformance")]
pub mod oracle;

pub use money::{Currency, ExponentOverrides, MinorUnits, Money, MoneyError};
pub use provider::{
    idempotency_key, Capabilities, CheckoutRequest, CheckoutSession, PaymentProvider, PaymentSnapshot,
    PaymentStatus, ProviderError, RefundOutcome, RefundRequest,
};
pub use retry::RetryPolicy;
pub use signature::SignatureError;
pub use webhook::{EventKind, SignatureVerdict, WebhookError, WebhookEvent, WebhookRequest};

/// Re-exported so adapters implement the trait with the same macro version.
pub use async_trait::async_trait;

/// Current unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
