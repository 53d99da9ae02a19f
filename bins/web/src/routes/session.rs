use actix_session::Session;
use actix_web::{web, HttpResponse};

use super::{html, page_context, see_other};
use crate::auth::{log_in, log_out, verify_password, CsrfForm};
use crate::error::AppError;
use crate::state::AppState;

pub async fn login_page(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    let ctx = page_context(&state, &session, None)?;
    Ok(html(state.templates.render("login.html", &ctx)?))
}

pub async fn login(
    state: web::Data<AppState>,
    session: Session,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    let username = form.get("username").unwrap_or("").trim().to_string();
    let password = form.get("password").unwrap_or("").to_string();
    let name = username.clone();
    let user = state.db(move |s| s.user_by_username(&name)).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = web::block(move || verify_password(&password, hash.as_deref())).await?;
    match user {
        Some(user) if ok => {
            log_in(&session, &user)?;
            tracing::info!(user = %user.username, "logged in");
            Ok(see_other("/me"))
        }
        _ => {
            tracing::info!(user = %username, "failed login");
            let mut ctx = page_context(&state, &session, None)?;
            ctx.insert("error", "Unknown username or wrong password.");
            ctx.insert("username", &username);
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
