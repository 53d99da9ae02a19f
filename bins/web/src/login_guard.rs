//! Login abuse, along OWASP's account-lockout guidance: nobody but the real user's own address
//! can slow her down.
//!
//! - Wrong passwords are counted per **pair** of client address and username: after
//!   [`FREE_FAILURES`] in a row that pair waits 2 s, then 4 s, 8 s, ... up to [`MAX_DELAY`]
//!   (answered 429 with `Retry-After`, never a lock on the name itself).
//! - Each client address has a rate limit of its own (governor's GCRA).
//! - Each username has only a high ceiling, against guessing from many addresses; a login that
//!   carries the proof of an earlier good login in this browser (`device_proof`) is exempt.
//! - Wrong passwords for a real account from other addresses than its last good login are
//!   tallied: the tally is shown to the user at her next login, and crossing [`WARN_AFTER`] (then
//!   10 and 100 times as many, ...) is reported so that it can be audited.
//! - A bounded number of password hashes is in flight (each Argon2 check takes ~19 MiB and a
//!   CPU for a moment).
//!
//! What is refused is answered at once, without hashing anything.

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
/// The ceiling per username (logins without a device proof, from all addresses together): 20 at
/// once, then 10 a minute.
pub const PER_USER_BURST: u32 = 20;
const PER_USER_PER_MINUTE: u32 = 10;
/// Wrong passwords in a row from one address for one username before that pair must wait: 2 s,
/// then doubling up to [`MAX_DELAY`].
pub const FREE_FAILURES: u32 = 3;
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Wrong passwords for an account from strangers' addresses before it is reported (and again at
/// 10, 100, ... times as many).
pub const WARN_AFTER: u32 = 5;
/// How long a login waits for a hashing slot before it is told to come back.
const HASH_WAIT: Duration = Duration::from_secs(2);
/// Pairs (and accounts) with failures remembered at once (beyond it, only the waiting pairs are
/// kept and no new account is tallied).
const MAX_TRACKED: usize = 100_000;

/// Why a login was refused before its password was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
    pub reason: &'static str,
}

pub const PAIR_REFUSED: &str = "too many wrong passwords from this address for this username";
pub const ADDRESS_REFUSED: &str = "too many logins from this address";
pub const USER_REFUSED: &str = "too many logins for this username";

type Key = [u8; 16];

/// Wrong passwords for one account from other addresses than its last good login's.
#[derive(Debug, Default)]
struct Tally {
    last_good: Option<IpAddr>,
    strangers: u32,
}

pub struct LoginGuard {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_user: DefaultKeyedRateLimiter<Key>,
    /// Per (address, username): wrong passwords in a row, and the instant the pair may try again.
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
    /// Per real account (see [`Tally`]).
    tallies: Mutex<HashMap<Key, Tally>>,
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

/// Usernames compare as the guard and the device proof see them: trimmed, lower case.
pub fn normalized(username: &str) -> String {
    username.trim().to_lowercase()
}

fn digest(parts: &[&[u8]]) -> Key {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize()[..16]);
    k
}

/// Usernames are kept as hashes: what was typed may be a password.
fn key(username: &str) -> Key {
    digest(&[normalized(username).as_bytes()])
}

fn pair_key(addr: IpAddr, username: &str) -> Key {
    let addr = match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    };
    digest(&[&addr, normalized(username).as_bytes()])
}

/// 5, 50, 500, ...: the tallies at which an account's stranger failures are reported.
fn warns_at(n: u32) -> bool {
    if n < WARN_AFTER || !n.is_multiple_of(WARN_AFTER) {
        return false;
    }
    let mut m = n / WARN_AFTER;
    while m.is_multiple_of(10) {
        m /= 10;
    }
    m == 1
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
            tallies: Mutex::default(),
            hashing: Semaphore::new(hashes),
            clock: DefaultClock::default(),
            pool: payments_app::accounts::HashPool::new(hashes),
        }
    }

    /// Whether a login from `addr` for `username` may go on to the password check. `proven`: the
    /// login carries a valid device proof for this username, which exempts it from the
    /// per-username ceiling (never from the pair's delay or the address's limit).
    pub fn admit(&self, addr: IpAddr, username: &str, proven: bool) -> Result<(), Refused> {
        if let Some(wait) = self.waiting(&pair_key(addr, username)) {
            return Err(Refused {
                retry_after: wait,
                reason: PAIR_REFUSED,
            });
        }
        if let Err(not_until) = self.per_address.check_key(&addr) {
            return Err(Refused {
                retry_after: not_until.wait_time_from(self.clock.now()),
                reason: ADDRESS_REFUSED,
            });
        }
        if proven {
            return Ok(());
        }
        if let Err(not_until) = self.per_user.check_key(&key(username)) {
            return Err(Refused {
                retry_after: not_until.wait_time_from(self.clock.now()),
                reason: USER_REFUSED,
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

    fn waiting(&self, k: &Key) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (_, until) = failures.get(k)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// A wrong password (or an unknown username) from `addr`: after [`FREE_FAILURES`] in a row
    /// the pair waits 2 s, then 4 s, 8 s, ... up to [`MAX_DELAY`]. `account`: the name is a real
    /// account's. Returns the account's tally of failures from strangers' addresses when it has
    /// just reached a number worth reporting (see [`WARN_AFTER`]).
    pub fn failed(&self, addr: IpAddr, username: &str, account: bool) -> Option<u32> {
        {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if failures.len() >= MAX_TRACKED {
                failures.retain(|_, (_, until)| *until > now);
            }
            let entry = failures.entry(pair_key(addr, username)).or_insert((0, now));
            entry.0 = entry.0.saturating_add(1);
            if entry.0 > FREE_FAILURES {
                let doublings = (entry.0 - FREE_FAILURES).min(20);
                entry.1 = now + Duration::from_secs(1u64 << doublings).min(MAX_DELAY);
            }
        }
        if !account {
            return None;
        }
        let mut tallies = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        let k = key(username);
        if !tallies.contains_key(&k) && tallies.len() >= MAX_TRACKED {
            return None;
        }
        let tally = tallies.entry(k).or_default();
        if tally.last_good == Some(addr) {
            return None;
        }
        tally.strangers = tally.strangers.saturating_add(1);
        warns_at(tally.strangers).then_some(tally.strangers)
    }

    /// A right password from `addr`: the pair's count starts again, and the account's tally of
    /// failures from strangers since its previous good login is returned (and starts again).
    pub fn succeeded(&self, addr: IpAddr, username: &str) -> u32 {
        {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            failures.remove(&pair_key(addr, username));
        }
        let mut tallies = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        let k = key(username);
        if !tallies.contains_key(&k) && tallies.len() >= MAX_TRACKED {
            return 0;
        }
        let tally = tallies.entry(k).or_default();
        tally.last_good = Some(addr);
        std::mem::take(&mut tally.strangers)
    }

    /// Forgets what no longer limits anybody (called every few seconds).
    pub fn tidy(&self) {
        self.per_address.retain_recent();
        self.per_user.retain_recent();
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // A pair whose delay ran out an hour ago starts from zero again.
        failures.retain(|_, (_, until)| *until + Duration::from_secs(3600) > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn wrong_passwords_slow_the_pair_longer_and_longer_and_nobody_else() {
        let g = LoginGuard::new(1);
        let (attacker, carol) = (ip("192.0.2.66"), ip("198.51.100.7"));
        for _ in 0..FREE_FAILURES {
            g.failed(attacker, "carol", true);
        }
        assert!(g.admit(attacker, "carol", false).is_ok());
        g.failed(attacker, "carol", true);
        let first = g.admit(attacker, "Carol", false).unwrap_err();
        assert_eq!(first.reason, PAIR_REFUSED);
        assert!(first.retry_after <= Duration::from_secs(2) && first.retry_after > Duration::ZERO);
        g.failed(attacker, "carol", true);
        let second = g.admit(attacker, "carol", false).unwrap_err();
        assert!(
            second.retry_after > first.retry_after,
            "{second:?} after {first:?}"
        );
        assert!(
            g.admit(carol, "carol", false).is_ok(),
            "carol's own address is not slowed"
        );
        assert!(
            g.admit(attacker, "dave", false).is_ok(),
            "nor other names from that address"
        );
        g.succeeded(attacker, "carol");
        assert!(g.admit(attacker, "carol", false).is_ok());
    }

    #[test]
    fn one_address_gets_its_burst_then_waits() {
        let g = LoginGuard::new(1);
        let addr = ip("192.0.2.1");
        let admitted = (0..50)
            .filter(|i| g.admit(addr, &format!("user{i}"), false).is_ok())
            .count();
        assert_eq!(admitted, PER_ADDRESS_BURST as usize);
        let refused = g.admit(addr, "another", true).unwrap_err();
        assert_eq!(refused.reason, ADDRESS_REFUSED, "a device proof does not lift it");
        assert!(refused.retry_after > Duration::ZERO);
        assert!(
            g.admit(ip("192.0.2.2"), "another", false).is_ok(),
            "other addresses are not affected"
        );
    }

    #[test]
    fn many_addresses_meet_the_username_ceiling_unless_the_device_is_proven() {
        let g = LoginGuard::new(1);
        let admitted = (0..100u8)
            .filter(|i| g.admit(IpAddr::from([10, 0, 0, *i]), "carol", false).is_ok())
            .count();
        assert_eq!(admitted, PER_USER_BURST as usize);
        let refused = g.admit(ip("10.0.1.1"), "carol", false).unwrap_err();
        assert_eq!(refused.reason, USER_REFUSED);
        assert!(g.admit(ip("10.0.1.1"), "carol", true).is_ok());
        assert!(g.admit(ip("10.0.1.1"), "dave", false).is_ok());
    }

    #[test]
    fn strangers_failures_are_tallied_and_reported_at_5_50_500() {
        let g = LoginGuard::new(1);
        let home = ip("198.51.100.7");
        assert_eq!(g.succeeded(home, "carol"), 0);
        assert_eq!(
            g.failed(home, "carol", true),
            None,
            "her own typo is not a stranger's"
        );
        let reported: Vec<u32> = (0..600u32)
            .filter_map(|i| {
                g.failed(
                    IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]),
                    "carol",
                    true,
                )
            })
            .collect();
        assert_eq!(reported, [5, 50, 500]);
        assert_eq!(
            g.failed(ip("10.9.9.9"), "nobody", false),
            None,
            "unknown names are not tallied"
        );
        assert_eq!(g.succeeded(home, "Carol"), 600);
        assert_eq!(g.succeeded(home, "carol"), 0);
    }

    #[test]
    fn warnings_are_at_powers_of_ten_times_the_threshold() {
        let at: Vec<u32> = (0..10_000).filter(|n| warns_at(*n)).collect();
        assert_eq!(at, [5, 50, 500, 5000]);
    }
}
