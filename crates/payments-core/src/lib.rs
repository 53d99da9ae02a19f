#![doc = include_str!("../README.md")]

pub mod adapter;
pub mod amounts;
pub mod config;
pub mod money;
pub mod provider;
pub mod retry;
pub mod signature;
pub mod text;
pub mod webhook;
pub mod wire;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "mock")]
pub mod mock;
#[cfg(feature = "conformance")]
pub mod oracle;
#[cfg(feature = "conformance")]
pub mod vectors;

pub use adapter::Adapter;
pub use amounts::AmountRules;
pub use money::{Currency, ExponentOverrides, MinorUnits, Money, MoneyError};
pub use provider::{
    check_checkout, idempotency_key, refund_marker, Capabilities, CheckoutRequest, CheckoutSession,
    KeyLifetime, PaymentProvider, PaymentSnapshot, PaymentStatus, ProviderError, ProviderRefund,
    RefundOutcome, RefundRequest, REFUND_MARKER_KEY,
};
pub use retry::RetryPolicy;
pub use signature::SignatureError;
pub use text::{refuse_nul, NulText};
pub use webhook::{
    EventKind, RefundReport, RefundState, SignatureVerdict, WebhookError, WebhookEvent, WebhookRequest,
};

/// Re-exported so adapters implement the trait with the same macro version.
pub use async_trait::async_trait;

/// Current unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (RFC 3339, UTC), with integer civil-date arithmetic
/// (Howard Hinnant's `civil_from_days`).
pub fn rfc3339_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_utc_matches_known_dates() {
        assert_eq!(super::rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::rfc3339_utc(-1), "1969-12-31T23:59:59Z");
    }
}
