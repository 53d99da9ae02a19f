//! What a username and a password must look like. The password policy follows NIST SP 800-63B:
//! long enough, not a well-known password, not the username; no composition rules. The list of
//! well-known passwords is a small embedded one (the most common passwords of public breach
//! lists), compared after lower-casing and stripping the digits and symbols people add around
//! a word (`Password123!` is `password`).

/// Fewest characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters of a password (Argon2 hashes any length; this bounds the work per login).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Most characters of a username.
pub const MAX_USERNAME_CHARS: usize = 64;

const COMMON: &str = include_str!("common_passwords.txt");

/// A username: 1 to 64 of `A-Z a-z 0-9 . _ - @ +`, starting with a letter or digit.
pub fn check_username(name: &str) -> Result<(), String> {
    let n = name.chars().count();
    if n == 0 {
        return Err("the username is empty".into());
    }
    if n > MAX_USERNAME_CHARS {
        return Err(format!(
            "the username has {n} characters; at most {MAX_USERNAME_CHARS}"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c))
    {
        return Err(
            "the username may hold only letters, digits and . _ - @ + (no spaces or control characters)"
                .into(),
        );
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("the username must start with a letter or a digit".into());
    }
    Ok(())
}

/// The word a password is built on: lower case, without the digits and symbols around it.
fn core(password: &str) -> String {
    password
        .to_lowercase()
        .trim_matches(|c: char| !c.is_alphabetic())
        .to_string()
}

/// Whether `password` is (built on) one of the embedded common passwords.
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let core = core(password);
    COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|w| w == lower || w == core)
}

/// The password policy; the error says what is wrong, never the password.
pub fn check_password(password: &str, username: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password needs at least {MIN_PASSWORD_CHARS} characters (got {n})"
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "the password may have at most {MAX_PASSWORD_CHARS} characters"
        ));
    }
    if password.trim().is_empty() || password.chars().any(char::is_control) {
        return Err("the password is blank or holds control characters".into());
    }
    let distinct = password.chars().collect::<std::collections::BTreeSet<_>>().len();
    if distinct < 4 {
        return Err("the password repeats too few different characters".into());
    }
    let lower = password.to_lowercase();
    let user = username.to_lowercase();
    if !user.is_empty() && (lower.contains(&user) || core(password) == user) {
        return Err("the password must not contain the username".into());
    }
    if core(password).is_empty() || is_common(password) {
        return Err("the password is a well-known one (or only digits and symbols); choose another".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for (pw, why) in [
            ("12345678", "at least 10"),
            ("password", "at least 10"),
            ("        ", "at least 10"),
            ("          ", "blank"),
            ("1234567890", "well-known"),
            ("Password123!", "well-known"),
            ("qwertyuiop", "well-known"),
            ("iloveyou12", "well-known"),
            ("aaaaaaaaaaaa", "too few"),
            ("alice-the-great", "username"),
        ] {
            let e = check_password(pw, "alice").expect_err(pw);
            assert!(e.contains(why), "{pw}: {e}");
            if pw.len() >= 10 && pw.trim() == pw {
                assert!(!e.contains(pw), "the error never repeats it: {e}");
            }
        }
        check_password("correct horse battery", "alice").unwrap();
        check_password("a-long-password", "alice").unwrap();
    }

    #[test]
    fn usernames_are_short_and_plain() {
        check_username("alice").unwrap();
        check_username("a.b-c_d@example.org").unwrap();
        for bad in ["", " ", "bob\n", "\u{1b}[31mred", "-x", "a b"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        assert!(check_username(&"a".repeat(100_000))
            .unwrap_err()
            .contains("at most 64"));
    }
}
