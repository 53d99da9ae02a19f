//! HTTP routes. Handlers are thin: they check access, call the store or `flow`, render.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use tera::Context;

use crate::auth::{csrf_token, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;

pub mod health;
pub mod payments;
pub mod portal;
pub mod session;
#[cfg(feature = "dummy")]
pub mod simulate;
pub mod webhook;

/// Largest webhook body accepted (providers send a few KiB).
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { see_other("/me") }))
        .route("/static/app.css", web::get().to(css))
        .route("/favicon.ico", web::get().to(favicon))
        .route("/static/thanks.js", web::get().to(thanks_js))
        .route("/static/usage.js", web::get().to(usage_js))
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(crate::metrics::metrics))
        .route("/login", web::get().to(session::login_page))
        .route("/login", web::post().to(session::login))
        .route("/logout", web::post().to(session::logout))
        .route("/me", web::get().to(portal::me))
        .route("/receipts", web::post().to(portal::create_receipt))
        .route("/receipts/{id:\\d+}.pdf", web::get().to(portal::receipt_pdf))
        .route("/receipts/{id}", web::get().to(portal::receipt))
        .route("/admin/receipts", web::get().to(portal::admin_receipts))
        .route("/admin/receipts.csv", web::get().to(portal::admin_receipts_csv))
        .route("/admin/audit", web::get().to(portal::admin_audit))
        .route("/payments/receipts/{id}/start", web::post().to(payments::start))
        .route("/payments/{public_id}/status", web::get().to(payments::status))
        .service(
            web::resource("/payments/webhook")
                .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
                .route(web::post().to(webhook::receive)),
        );
    #[cfg(feature = "dummy")]
    cfg.route("/payments/simulate", web::get().to(simulate::page))
        .route("/payments/simulate", web::post().to(simulate::choose));
}

/// The success page is configurable (`PAYMENT_SUCCESS_PATH`), so it is registered separately.
pub fn configure_thanks(path: &str) -> actix_web::Resource {
    web::resource(path.to_string()).route(web::get().to(payments::thanks))
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(crate::templates::CSS)
}

async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/x-icon")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(crate::templates::FAVICON)
}

/// Any address no route takes: the site's 404 page.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

async fn thanks_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(crate::templates::THANKS_JS)
}

async fn usage_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(crate::templates::USAGE_JS)
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location.to_string()))
        .finish()
}

/// The context every page shares.
pub fn page_context(
    state: &AppState,
    session: &Session,
    user: Option<&CurrentUser>,
) -> Result<Context, AppError> {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf_token(session)?);
    ctx.insert("provider", state.provider_name());
    if let Some(u) = user {
        ctx.insert("user", &u.0.username);
        ctx.insert("is_admin", &u.is_admin());
    }
    Ok(ctx)
}

/// What the thanks and simulate pages show of a payment.
#[derive(serde::Serialize)]
pub struct PaymentSummary {
    public_id: String,
    receipt_id: i64,
    amount: String,
}

impl PaymentSummary {
    pub fn of(p: &payments_store::PaymentRow) -> Result<Self, AppError> {
        Ok(PaymentSummary {
            public_id: p.public_id.clone(),
            receipt_id: p.receipt_id,
            amount: p.amount()?.to_string(),
        })
    }
}

pub fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}
