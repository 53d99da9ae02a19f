//! The "known device" proof: after a good login the browser gets a signed cookie naming the
//! username (`v1.<hex name>.<expiry>.<HMAC-SHA256>`, keyed with a key derived from
//! `SESSION_SECRET`; HttpOnly, SameSite=Lax, Secure on an https site, sent to `/login` only).
//! A later login for that name that carries it is exempt from the per-username ceiling of
//! `login_guard`, so strangers guessing from many addresses cannot keep the real user out of a
//! browser she has logged in from before. It proves nothing else: the password is still checked
//! and the pair and address limits still apply.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use hmac::{Hmac, Mac};

use crate::login_guard::normalized;

pub const COOKIE: &str = "portal_device";
/// How long a proof is good for after the login that issued it.
pub const LIFETIME_SECS: i64 = 90 * 24 * 3600;

type HmacSha256 = Hmac<sha2::Sha256>;

fn mac(secret: &str, name_hex: &str, expires: i64) -> Option<HmacSha256> {
    // A key of its own, so that no other HMAC made with the session secret is ever a proof.
    let mut derive = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    derive.update(b"portal device proof v1");
    let key = derive.finalize().into_bytes();
    let mut mac = HmacSha256::new_from_slice(&key).ok()?;
    mac.update(format!("v1.{name_hex}.{expires}").as_bytes());
    Some(mac)
}

/// The cookie value proving a good login as `username` until `now` + [`LIFETIME_SECS`].
pub fn issue(secret: &str, username: &str, now: i64) -> String {
    let name_hex = hex::encode(normalized(username));
    let expires = now.saturating_add(LIFETIME_SECS);
    let tag =
        mac(secret, &name_hex, expires).map_or_else(String::new, |m| hex::encode(m.finalize().into_bytes()));
    format!("v1.{name_hex}.{expires}.{tag}")
}

/// Whether `value` is an unexpired proof, signed with `secret`, for `username`.
pub fn proves(secret: &str, value: &str, username: &str, now: i64) -> bool {
    let mut parts = value.split('.');
    let (Some("v1"), Some(name_hex), Some(expires), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(expires), Ok(tag)) = (expires.parse::<i64>(), hex::decode(tag)) else {
        return false;
    };
    if expires <= now || name_hex != hex::encode(normalized(username)) {
        return false;
    }
    mac(secret, name_hex, expires).is_some_and(|m| m.verify_slice(&tag).is_ok())
}

/// The cookie holding a fresh proof for `username`.
pub fn cookie(secret: &str, username: &str, now: i64, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, issue(secret, username, now))
        .path("/login")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(LIFETIME_SECS))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-session-secret-of-at-least-32-characters";

    #[test]
    fn a_proof_holds_for_its_name_and_secret_until_it_expires() {
        let value = issue(SECRET, "Carol", 1000);
        assert!(proves(SECRET, &value, "carol", 1001));
        assert!(proves(SECRET, &value, " CAROL ", 1000 + LIFETIME_SECS - 1));
        assert!(!proves(SECRET, &value, "carol", 1000 + LIFETIME_SECS), "expired");
        assert!(!proves(SECRET, &value, "dave", 1001), "another name");
        assert!(!proves(
            "another-secret-of-at-least-32-characters",
            &value,
            "carol",
            1001
        ));
        // Edited: a later expiry, another name with the old tag, a cut tag, junk.
        let tag = value.rsplit('.').next().unwrap();
        let later = format!("v1.{}.{}.{tag}", hex::encode("carol"), 1000 + 2 * LIFETIME_SECS);
        assert!(!proves(SECRET, &later, "carol", 1001));
        let other = format!("v1.{}.{}.{tag}", hex::encode("dave"), 1000 + LIFETIME_SECS);
        assert!(!proves(SECRET, &other, "dave", 1001));
        assert!(!proves(SECRET, &value[..value.len() - 2], "carol", 1001));
        for junk in [
            "",
            "v1",
            "v1.x.y.z",
            "v2.6361726f6c.9999999999.00",
            &format!("{value}.x"),
        ] {
            assert!(!proves(SECRET, junk, "carol", 1001), "{junk}");
        }
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_when_asked() {
        let c = cookie(SECRET, "carol", 1000, true);
        assert_eq!(c.name(), COOKIE);
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.same_site(), Some(SameSite::Lax));
        assert_eq!(c.path(), Some("/login"));
        assert_eq!(cookie(SECRET, "carol", 1000, false).secure(), Some(false));
    }
}
