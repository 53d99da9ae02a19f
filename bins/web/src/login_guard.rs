//! Login abuse: a rate limit per client address and per username (governor's GCRA limiters),
//! growing lock-outs after consecutive wrong passwords, and a bounded number of password hashes
//! in flight (each Argon2 check takes ~19 MiB and a CPU for a moment). What is refused is
//! answered 429 with `Retry-After` at once, without hashing anything.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Logins per client address: 10 at once, then one every 6 s (10 a minute).
const PER_ADDRESS_BURST: u32 = 10;
const PER_ADDRESS_PER_MINUTE: u32 = 10;
/// Logins per username: 5 at once, then 5 a minute.
const PER_USER_BURST: u32 = 5;
const PER_USER_PER_MINUTE: u32 = 5;
/// Wrong passwords in a row before a username is locked: 2 s, then doubling up to 15 min.
const FREE_FAILURES: u32 = 3;
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// How long a login waits for a hashing slot before it is told to come back.
const HASH_WAIT: Duration = Duration::from_secs(2);
/// Usernames with failures remembered at once (beyond it, only the locked ones are kept).
const MAX_TRACKED: usize = 100_000;

/// Why a login was refused before its password was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
    pub reason: &'static str,
}

type Key = [u8; 16];

pub struct LoginGuard {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_user: DefaultKeyedRateLimiter<Key>,
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
    hashing: Semaphore,
    clock: DefaultClock,
    /// Where password checks run (as many threads as hashing slots).
    pub pool: payments_app::accounts::HashPool,
}

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginGuard")
            .field("hashing_slots_free", &self.hashing.available_permits())
            .finish_non_exhaustive()
    }
}

fn quota(burst: u32, per_minute: u32) -> Quota {
    let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(nz(per_minute)).allow_burst(nz(burst))
}

/// Usernames are kept as hashes: what was typed may be a password.
fn key(username: &str) -> Key {
    let digest = Sha256::digest(username.trim().to_lowercase().as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&digest[..16]);
    k
}

impl Default for LoginGuard {
    fn default() -> Self {
        // One core is left to everything else (webhooks above all): a login flood may use the
        // others for password checks, never all of them.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        LoginGuard::new(cores.saturating_sub(1).max(1))
    }
}

impl LoginGuard {
    /// `hashes` password checks may run at once.
    pub fn new(hashes: usize) -> LoginGuard {
        LoginGuard {
            per_address: DefaultKeyedRateLimiter::keyed(quota(PER_ADDRESS_BURST, PER_ADDRESS_PER_MINUTE)),
            per_user: DefaultKeyedRateLimiter::keyed(quota(PER_USER_BURST, PER_USER_PER_MINUTE)),
            failures: Mutex::default(),
            hashing: Semaphore::new(hashes),
            clock: DefaultClock::default(),
            pool: payments_app::accounts::HashPool::new(hashes),
        }
    }

    /// Whether a login from `addr` for `username` may go on to the password check.
    pub fn admit(&self, addr: IpAddr, username: &str) -> Result<(), Refused> {
        let k = key(username);
        if let Some(wait) = self.locked_for(&k) {
            return Err(Refused {
                retry_after: wait,
                reason: "too many wrong passwords for this username",
            });
        }
        if let Err(not_until) = self.per_address.check_key(&addr) {
            return Err(Refused {
                retry_after: not_until.wait_time_from(self.clock.now()),
                reason: "too many logins from this address",
            });
        }
        if let Err(not_until) = self.per_user.check_key(&k) {
            return Err(Refused {
                retry_after: not_until.wait_time_from(self.clock.now()),
                reason: "too many logins for this username",
            });
        }
        Ok(())
    }

    /// A slot to hash a password in, or a refusal when all were busy for [`HASH_WAIT`].
    pub async fn hashing_slot(&self) -> Result<SemaphorePermit<'_>, Refused> {
        let busy = Refused {
            retry_after: Duration::from_secs(1),
            reason: "too many logins at once",
        };
        match actix_web::rt::time::timeout(HASH_WAIT, self.hashing.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy),
        }
    }

    fn locked_for(&self, k: &Key) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (_, until) = failures.get(k)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// A wrong password (or an unknown username): after [`FREE_FAILURES`] in a row the name is
    /// locked for 2 s, then 4 s, 8 s, ... up to 15 minutes.
    pub fn failed(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, until)| *until > now);
        }
        let entry = failures.entry(key(username)).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        if entry.0 > FREE_FAILURES {
            let doublings = (entry.0 - FREE_FAILURES).min(20);
            let lock = Duration::from_secs(1u64 << doublings).min(MAX_LOCK);
            entry.1 = now + lock;
        }
    }

    /// A right password: the count starts again.
    pub fn succeeded(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&key(username));
    }

    /// Forgets what no longer limits anybody (called every few seconds).
    pub fn tidy(&self) {
        self.per_address.retain_recent();
        self.per_user.retain_recent();
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // A name whose lock ran out an hour ago starts from zero again.
        failures.retain(|_, (_, until)| *until + Duration::from_secs(3600) > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_passwords_lock_a_name_for_longer_and_longer() {
        let g = LoginGuard::new(1);
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            g.failed("alice");
        }
        assert!(g.admit(addr, "alice").is_ok());
        g.failed("alice");
        let first = g.admit(addr, "Alice").unwrap_err();
        assert!(first.retry_after <= Duration::from_secs(2) && first.retry_after > Duration::ZERO);
        g.failed("alice");
        let second = g.admit(addr, "alice").unwrap_err();
        assert!(
            second.retry_after > first.retry_after,
            "{second:?} after {first:?}"
        );
        g.succeeded("alice");
        assert!(g.admit(addr, "alice").is_ok());
    }

    #[test]
    fn one_address_gets_its_burst_then_waits() {
        let g = LoginGuard::new(1);
        let addr: IpAddr = "192.0.2.1".parse().unwrap();
        let admitted = (0..50)
            .filter(|i| g.admit(addr, &format!("user{i}")).is_ok())
            .count();
        assert_eq!(admitted, PER_ADDRESS_BURST as usize);
        let refused = g.admit(addr, "another").unwrap_err();
        assert_eq!(refused.reason, "too many logins from this address");
        assert!(refused.retry_after > Duration::ZERO);
        assert!(
            g.admit("192.0.2.2".parse().unwrap(), "another").is_ok(),
            "other addresses are not affected"
        );
    }
}
