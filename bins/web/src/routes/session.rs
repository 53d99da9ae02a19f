use actix_session::Session;
use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};

use payments_app::accounts::{check_username, verify_password};
use payments_app::logsafe::bounded;
use payments_core::unix_now;
use payments_store::{NewAudit, UserRow};

use super::page::{html, page_context, see_other};
use crate::auth::{log_in, log_out, CsrfForm};
use crate::device_proof;
use crate::error::AppError;
use crate::state::AppState;

/// The session value that carries, to the next page, how many wrong passwords strangers tried
/// for the account since its previous good login (shown once, on My Usage).
pub const LOGIN_NOTICE: &str = "login_notice";

pub async fn login_page(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    let mut ctx = page_context(&state, &session, None)?;
    ctx.insert("login_page", &true);
    Ok(html(state.templates.render("login.html", &ctx)?))
}

pub async fn login(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    let username = form.get("username").unwrap_or("").trim().to_string();
    let password = form.get("password").unwrap_or("").to_string();
    // Rate limits first: a refused login costs no database read and no hash.
    let addr = crate::client_addr::client_addr(&req, &state.config.trusted_proxies);
    let secret = state.config.session_secret.clone().unwrap_or_default();
    let now = unix_now();
    let proven = req
        .cookie(device_proof::COOKIE)
        .is_some_and(|c| device_proof::proves(&secret, c.value(), &username, now));
    let guard = state.login_guard.clone();
    let limited = |r| {
        state.app.metrics().login("rate_limited");
        too_many(r)
    };
    guard.admit(addr, &username, proven).map_err(limited)?;
    let _slot = guard.hashing_slot().await.map_err(limited)?;
    let name = username.clone();
    // A name no account can have is not looked up (it still costs a decoy hash below).
    let user = if check_username(&username).is_ok() {
        state.db(move |s| s.user_by_username(&name)).await?
    } else {
        None
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = guard
        .pool
        .run(move || verify_password(&password, hash.as_deref()))
        .await
        .ok_or_else(|| AppError::internal("the password-hashing threads are gone"))?;
    let mut strangers = 0;
    if ok && user.is_some() {
        strangers = guard.succeeded(addr, &username);
        state.app.metrics().login("ok");
    } else {
        if let (Some(failures), Some(user)) = (guard.failed(addr, &username, user.is_some()), &user) {
            audit_failures(&state, user, failures, addr).await;
        }
        state.app.metrics().login(if user.is_some() {
            "wrong_password"
        } else {
            "unknown_user"
        });
    }
    match user {
        Some(user) if ok => {
            log_in(&session, &user)?;
            if strangers > 0 {
                session
                    .insert(LOGIN_NOTICE, strangers)
                    .map_err(AppError::internal)?;
            }
            tracing::info!(user = %bounded(&user.username), "logged in");
            // Admins have no usage of their own: they land on All receipts.
            let landing = if user.role().ok() == Some(payments_store::Role::Admin) {
                "/admin/receipts"
            } else {
                "/me"
            };
            let mut resp = see_other(landing);
            let proof = device_proof::cookie(&secret, &user.username, now, state.config.secure_cookies());
            resp.add_cookie(&proof).map_err(AppError::internal)?;
            Ok(resp)
        }
        found => {
            // A name is logged only once it matched an account: what was typed into the field
            // may be a password. Unknown names are logged as a short keyed hash, enough to see
            // repeated attempts and useless for reading what was typed.
            match &found {
                Some(user) => tracing::info!(user = %bounded(&user.username), "failed login: wrong password"),
                None => tracing::info!(
                    attempt = %unknown_user_tag(&state, &username),
                    "failed login: unknown user"
                ),
            }
            let mut ctx = page_context(&state, &session, None)?;
            ctx.insert("error", "Unknown username or wrong password.");
            ctx.insert("username", &username);
            ctx.insert("login_page", &true);
            Ok(HttpResponse::Unauthorized()
                .content_type("text/html; charset=utf-8")
                .body(state.templates.render("login.html", &ctx)?))
        }
    }
}

pub async fn logout(session: Session, _form: CsrfForm) -> HttpResponse {
    log_out(&session);
    see_other("/login")
}

/// `unknown user #1a2b3c4d`: an HMAC of what was typed, keyed with the session secret, cut to 32
/// bits (the same typo shows the same tag; nothing typed can be read back from it).
pub fn unknown_user_tag(state: &AppState, typed: &str) -> String {
    use hmac::{Hmac, Mac};
    let key = state.config.session_secret.as_deref().unwrap_or("unknown-user");
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) else {
        return "unknown user".into();
    };
    mac.update(typed.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("unknown user #{}", hex::encode(&tag[..4]))
}

/// A `user.login` audit entry: `failures` wrong passwords for `user` from other addresses than
/// its last good login's (written at 5, 50, 500, ...; see `login_guard`), and the address of the
/// latest.
async fn audit_failures(state: &AppState, user: &UserRow, failures: u32, latest: IpAddr) {
    tracing::warn!(user = %bounded(&user.username), failures, "wrong passwords for this account from other addresses");
    let entry = NewAudit::new(
        "login-guard",
        "user.login",
        format!("user {}", user.username),
        serde_json::json!({
            "outcome": "failures from other addresses",
            "failures": failures,
            "latest_from": latest.to_string(),
            "since": "the last good login (or the server's start)",
        }),
    );
    if let Err(e) = state.db(move |s| s.append_audit(&entry)).await {
        tracing::error!(error = %e, "could not audit failed logins");
    }
}

fn too_many(r: crate::login_guard::Refused) -> AppError {
    tracing::info!(reason = r.reason, "login refused by the rate limit");
    AppError::TooMany {
        message: r.reason.to_string(),
        // Rounded up: a client that waits what it is told is not refused again.
        retry_after: u64::try_from(r.retry_after.as_millis().div_ceil(1000))
            .unwrap_or(u64::MAX)
            .max(1),
    }
}

/// The notice of failed sign-ins by strangers, shown once, on the first page after the login
/// that found them (My Usage, or All receipts for admins).
pub fn take_login_notice(session: &actix_session::Session) -> Option<String> {
    match session.remove_as::<u32>(LOGIN_NOTICE) {
        Some(Ok(n)) => Some(format!(
            "{n} failed sign-in attempt{} for your account from other addresses since your last sign-in.",
            if n == 1 { "" } else { "s" }
        )),
        _ => None,
    }
}
