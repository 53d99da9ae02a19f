//! A bounded retry policy for outbound provider calls. Adapters loop with it around one HTTP
//! call, re-sending the same idempotency key on every attempt; only timeouts, connection
//! failures and 5xx are retried, never 4xx.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (at least 1).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt number `attempt` (1-based; the first attempt has none): doubling
    /// from `initial_backoff`, capped at `max_backoff`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(attempt - 2).unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .map_or(self.max_backoff, |d| d.min(self.max_backoff))
    }

    /// Whether another attempt may follow attempt number `attempt`.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.max_attempts.max(1)
    }

    /// Whether an HTTP status is worth retrying (5xx and 429 Too Many Requests).
    pub fn retryable_status(status: u16) -> bool {
        status >= 500 || status == 429
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(p.backoff(1), Duration::ZERO);
        assert_eq!(p.backoff(2), Duration::from_millis(100));
        assert_eq!(p.backoff(3), Duration::from_millis(200));
        assert_eq!(p.backoff(4), Duration::from_millis(350));
        assert_eq!(p.backoff(60), Duration::from_millis(350));
        assert!(p.may_retry(4));
        assert!(!p.may_retry(5));
        assert!(RetryPolicy::retryable_status(503));
        assert!(RetryPolicy::retryable_status(429));
        assert!(!RetryPolicy::retryable_status(400));
    }
}
