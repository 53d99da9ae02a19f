//! Passwords (argon2), the logged-in user, and the session's CSRF token.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use payments_store::{Role, UserRow};

use crate::error::AppError;
use crate::state::AppState;

use crate::sessions::USER_KEY;
const CSRF_KEY: &str = "csrf";

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(AppError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(AppError::internal)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(AppError::internal)?
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

pub fn random_token(bytes: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(AppError::internal)?;
    Ok(hex::encode(buf))
}

/// Starts a fresh session for `user` (a new cookie, so a planted one is worthless).
pub fn log_in(session: &Session, user: &UserRow) -> Result<(), AppError> {
    session.renew();
    session.insert(USER_KEY, user.id).map_err(AppError::internal)?;
    session
        .insert(CSRF_KEY, random_token(32)?)
        .map_err(AppError::internal)?;
    Ok(())
}

pub fn log_out(session: &Session) {
    session.purge();
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> Result<String, AppError> {
    if let Ok(Some(t)) = session.get::<String>(CSRF_KEY) {
        return Ok(t);
    }
    let t = random_token(32)?;
    session.insert(CSRF_KEY, &t).map_err(AppError::internal)?;
    Ok(t)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The logged-in user; handlers that take it redirect anonymous browsers to `/login`.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserRow);

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.0.role().is_ok_and(|r| r == Role::Admin)
    }

    pub fn id(&self) -> i64 {
        self.0.id
    }

    pub fn actor(&self) -> String {
        format!("user:{}", self.0.username)
    }

    /// Owners and admins may see and pay a receipt; everybody else gets a 404.
    pub fn may_access(&self, owner_id: i64) -> Result<(), AppError> {
        if self.is_admin() || self.0.id == owner_id {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("no state"))?;
            let Some(uid) = session.get::<i64>(USER_KEY).ok().flatten() else {
                return Err(AppError::LoginRequired);
            };
            match state.db(move |s| s.user_by_id(uid)).await? {
                Some(user) => Ok(CurrentUser(user)),
                None => {
                    session.purge();
                    Err(AppError::LoginRequired)
                }
            }
        })
    }
}

/// An urlencoded form whose `csrf_token` field matched the session's token. Every POST except
/// the webhook takes one, so a forged cross-site POST is refused with 403 before any effect.
#[derive(Debug)]
pub struct CsrfForm {
    pairs: Vec<(String, String)>,
}

impl CsrfForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn require(&self, name: &str) -> Result<&str, AppError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AppError::BadRequest(format!("the form field {name} is required")))
    }
}

impl FromRequest for CsrfForm {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|e| AppError::BadRequest(format!("unreadable form: {e}")))?;
            let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
            let sent = pairs
                .iter()
                .find(|(k, _)| k == "csrf_token")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let expected = session.get::<String>(CSRF_KEY).ok().flatten().unwrap_or_default();
            if expected.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
                return Err(AppError::Csrf);
            }
            Ok(CsrfForm { pairs })
        })
    }
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
