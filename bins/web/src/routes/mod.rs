//! HTTP routes, grouped by audience: the payer's pages (`portal`), the admins' pages (`admin`),
//! payments and webhooks (`payments`), health and metrics (`health`), logging in (`session`).
//! Handlers are thin: they check access, call the store or `payments_app`, render.

use actix_web::{web, HttpResponse};

use crate::error::AppError;

pub mod admin;
pub mod assets;
pub mod body;
pub mod error_pages;
pub mod filters;
pub mod health;
pub mod page;
pub mod payments;
pub mod portal;
pub mod session;
pub mod views;

/// Largest webhook body accepted (providers send a few KiB).
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { page::see_other("/me") }))
        .route("/static/app.css", web::get().to(assets::css))
        .route("/favicon.ico", web::get().to(assets::favicon))
        .route("/static/thanks.js", web::get().to(assets::thanks_js))
        .route("/static/usage.js", web::get().to(assets::usage_js))
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/login", web::get().to(session::login_page))
        .route("/login", web::post().to(session::login))
        .route("/logout", web::post().to(session::logout))
        .route("/me", web::get().to(portal::me))
        .route("/receipts", web::post().to(portal::create_receipt))
        .route("/receipts/all", web::post().to(portal::create_receipt_for_all))
        .route(
            "/receipts/{id:\\d+}.pdf",
            web::get().to(portal::receipt::receipt_pdf),
        )
        .route("/receipts/{id}", web::get().to(portal::receipt::receipt))
        .route("/admin/receipts", web::get().to(admin::receipts::admin_receipts))
        .route(
            "/admin/receipts.csv",
            web::get().to(admin::receipts::admin_receipts_csv),
        )
        .route(
            "/admin/receipts/{id}/void",
            web::post().to(admin::receipts::void_receipt),
        )
        .route("/admin/audit", web::get().to(admin::audit::admin_audit))
        .route(
            "/admin/payments/{public_id}/refund",
            web::post().to(admin::refunds::refund),
        )
        .route("/admin/refunds/{id}/retry", web::post().to(admin::refunds::retry))
        .route(
            "/admin/refunds/{id}/record",
            web::post().to(admin::refunds::record),
        )
        .route("/payments/receipts/{id}/start", web::post().to(payments::start))
        .route("/payments/{public_id}/status", web::get().to(payments::status))
        .service(
            web::resource("/payments/webhook")
                .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
                .route(web::post().to(payments::webhook::receive)),
        )
        .service(
            web::resource("/payments/webhook/{provider}")
                .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
                .route(web::post().to(payments::webhook::receive_for)),
        );
    #[cfg(feature = "dummy")]
    cfg.route("/payments/simulate", web::get().to(payments::simulate::page))
        .route("/payments/simulate", web::post().to(payments::simulate::choose))
        .route(
            "/payments/simulate/refund",
            web::post().to(payments::simulate::dashboard_refund),
        );
}

/// The success page is configurable (`PAYMENT_SUCCESS_PATH`), so it is registered separately.
pub fn configure_thanks(path: &str) -> actix_web::Resource {
    web::resource(path.to_string()).route(web::get().to(payments::thanks))
}

/// Any address no route takes: the site's 404 page.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
