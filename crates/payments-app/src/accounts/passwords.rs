//! Password hashes (Argon2id, PHC strings) and their checks.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;

use crate::{random_token, Error};

/// A new Argon2 hash of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(Error::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(Error::internal)?
        .to_string())
}

/// Constant work whether or not the user exists: unknown users are checked against a decoy.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| {
        let random = random_token(16).unwrap_or_default();
        hash_password(&random).unwrap_or_default()
    });
    match PasswordHash::new(hash.unwrap_or(decoy)) {
        Ok(h) => verify_with_reused_memory(password.as_bytes(), &h) && hash.is_some(),
        Err(_) => false,
    }
}

thread_local! {
    /// Argon2's working memory (~19 MiB), allocated once per hashing thread: allocating it anew
    /// for every check leaves that much behind in the allocator per thread and arena, which a
    /// login flood turned into hundreds of MiB.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `PasswordVerifier::verify_password`, with the thread's reused working memory.
fn verify_with_reused_memory(password: &[u8], parsed: &PasswordHash<'_>) -> bool {
    use argon2::{Algorithm, Params, Version};
    let (Ok(params), Some(expected), Some(salt)) = (Params::try_from(parsed), parsed.hash, parsed.salt)
    else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params.clone());
    let mut out = vec![0u8; expected.len()];
    let hashed = BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        let need = params.block_count();
        if blocks.len() != need {
            *blocks = vec![argon2::Block::default(); need];
        }
        argon
            .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..])
            .is_ok()
    });
    hashed && constant_time_eq(&out, expected.as_bytes())
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_decoy_never_matches() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", Some(&h)));
        assert!(!verify_password("wrong", Some(&h)));
        assert!(!verify_password("anything", None));
    }
}
