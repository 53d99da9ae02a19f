//! What every page handler shares: the page context (CSRF token, provider, who is logged in),
//! HTML and redirect answers, and what the thanks and simulate pages show of a payment.

use actix_session::Session;
use actix_web::HttpResponse;
use tera::Context;

use crate::auth::{csrf_token, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location.to_string()))
        .finish()
}

pub fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// The context every page shares.
pub fn page_context(
    state: &AppState,
    session: &Session,
    user: Option<&CurrentUser>,
) -> Result<Context, AppError> {
    let mut ctx = Context::new();
    ctx.insert("csrf_token", &csrf_token(session)?);
    // The footer's "Payments through ..." (every enabled provider, by its display name).
    let names: Vec<String> = state.provider_names().iter().map(|n| display_name(n)).collect();
    ctx.insert("providers_text", &words_list(&names));
    ctx.insert("provider", state.provider_names()[0]);
    ctx.insert("provider_count", &state.provider_names().len());
    if let Some(u) = user {
        ctx.insert("user", &u.0.username);
        ctx.insert("is_admin", &u.is_admin());
    }
    Ok(ctx)
}

/// A provider's name as payers read it (`Stripe`, `PayPal`); unknown names as they are.
pub fn display_name(name: &str) -> String {
    match name {
        "stripe" => "Stripe".into(),
        "omise" => "Omise".into(),
        "paypal" => "PayPal".into(),
        "mollie" => "Mollie".into(),
        "dummy" => "the dummy provider".into(),
        other => other.to_string(),
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn words_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What the thanks and simulate pages show of a payment.
#[derive(serde::Serialize)]
pub struct PaymentSummary {
    public_id: String,
    receipt_id: i64,
    amount: String,
    /// What the provider refunded of it, when anything.
    refunded: Option<String>,
}

impl PaymentSummary {
    pub fn of(p: &payments_store::PaymentRow) -> Result<Self, AppError> {
        Ok(PaymentSummary {
            public_id: p.public_id.clone(),
            receipt_id: p.receipt_id,
            amount: p.amount()?.to_string(),
            refunded: (p.refunded_minor > 0)
                .then(|| p.refunded().map(|m| m.to_string()))
                .transpose()?,
        })
    }
}
