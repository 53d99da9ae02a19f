//! The logged-in user, logging in and out, and the session's CSRF token (password hashes are
//! `payments_app::accounts`).

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use payments_app::accounts::constant_time_eq;
use payments_app::logsafe::bounded;
use payments_app::random_token;
use payments_store::{Role, UserRow};

use crate::error::AppError;
use crate::state::AppState;

use crate::sessions::USER_KEY;
const CSRF_KEY: &str = "csrf";

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
            // No field of any form may hold a NUL (PostgreSQL cannot store one): refused here,
            // for every form alike, before a handler sees it.
            for (name, value) in &pairs {
                payments_core::refuse_nul("the name of a form field", name)?;
                payments_core::refuse_nul(&format!("the form field {}", bounded(name)), value)?;
            }
            Ok(CsrfForm { pairs })
        })
    }
}
