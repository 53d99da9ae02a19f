//! The admin's refund on the receipt page: the form posts here without `confirm` and gets a
//! confirmation page (amount parsed exactly in the receipt's currency, reason, what remains);
//! that page posts again with `confirm=yes` and the refund is made (see `payments_app::refunds`).
//! Both steps are CSRF-checked like every form.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_core::Money;
use serde::Serialize;

use payments_app::refunds;

use super::require_admin;
use crate::auth::{CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::routes::page::{html, page_context, see_other};
use crate::state::AppState;

#[derive(Serialize)]
struct ConfirmView {
    public_id: String,
    receipt_id: i64,
    owner: String,
    paid: String,
    refunded: String,
    remaining: String,
    amount_text: String,
    amount: Option<String>,
    reason: String,
    payer_note: String,
    currency: String,
    provider: String,
    /// This page's random token: however often it is posted, one refund is made.
    request: String,
}

/// `POST /admin/payments/{public_id}/refund`
pub async fn refund(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let public_id = path.into_inner();
    payments_core::refuse_nul("the payment id", &public_id)?;
    let found = state
        .db(move |s| {
            let Some(p) = s.payment_by_public_id(&public_id)? else {
                return Ok(None);
            };
            let receipt = s.receipt(p.receipt_id)?;
            let owner = match &receipt {
                Some(r) => s.user_by_id(r.user_id)?.map(|u| u.username).unwrap_or_default(),
                None => String::new(),
            };
            let taken = refunds::taken_minor(&p, &s.refunds_for_receipt(p.receipt_id)?);
            Ok(Some((p, owner, taken)))
        })
        .await?;
    let (payment, owner, taken) = found.ok_or(AppError::NotFound)?;
    let currency = payment.amount()?.currency;
    let amount_text = form.get("amount").unwrap_or_default().trim().to_string();
    let reason = form.get("reason").unwrap_or_default().trim().to_string();
    let payer_note = form.get("payer_note").unwrap_or_default().trim().to_string();
    payments_core::refuse_nul("the note to the payer", &payer_note)?;
    let remaining = payment.amount_minor - taken;
    let (amount, problems) =
        refunds::check_request(&state.app, &payment, taken, &amount_text, &reason, &payer_note);
    if form.get("confirm") == Some("yes") {
        // A repeated post of a page whose refund was made shows that refund, whatever the
        // amount left now says.
        let token = form.get("request").unwrap_or_default().to_string();
        let repeated = if token.is_empty() {
            None
        } else {
            let t = token.clone();
            state.db(move |s| s.refund_by_request_token(&t)).await?
        };
        if let Some(row) = repeated.filter(|r| r.payment_id == payment.id) {
            return Ok(see_other(&format!(
                "/receipts/{}?refund={}&again=1#refunds",
                payment.receipt_id, row.id
            )));
        }
        if let (Some(amount), true) = (amount, problems.is_empty()) {
            let (row, again) = refunds::refund_once(
                &state.app,
                &payment,
                amount,
                reason,
                payer_note,
                user.actor(),
                token,
            )
            .await?;
            let again = if again { "&again=1" } else { "" };
            return Ok(see_other(&format!(
                "/receipts/{}?refund={}{again}#refunds",
                payment.receipt_id, row.id
            )));
        }
    }
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert(
        "refund",
        &ConfirmView {
            public_id: payment.public_id.clone(),
            receipt_id: payment.receipt_id,
            owner,
            paid: payment.amount()?.to_string(),
            refunded: Money::new(taken, currency).to_string(),
            remaining: Money::new(remaining.max(0), currency).to_string(),
            amount_text,
            amount: amount.map(|m| m.to_string()),
            reason,
            payer_note,
            currency: currency.code().to_string(),
            provider: payment.provider.clone(),
            request: payments_app::random_token(18)?,
        },
    );
    ctx.insert("problems", &problems);
    let body = state.templates.render("refund_confirm.html", &ctx)?;
    if problems.is_empty() {
        Ok(html(body))
    } else {
        Ok(HttpResponse::BadRequest()
            .content_type("text/html; charset=utf-8")
            .body(body))
    }
}

/// `POST /admin/refunds/{id}/retry`: settles a refund whose outcome was unknown by asking the
/// provider first; sent again (with its own key) only when the provider has no such refund and
/// still honours the key (see `payments_app::refunds::retry`).
pub async fn retry(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    _form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let found = state
        .db(move |s| {
            let Some(r) = s.refund(id)? else {
                return Ok(None);
            };
            Ok(s.payment_by_id(r.payment_id)?.map(|p| (r, p)))
        })
        .await?;
    let (row, payment) = found.ok_or(AppError::NotFound)?;
    if row.status != "requested" {
        return Err(AppError::Conflict(format!(
            "refund #{} is {}: there is nothing to retry",
            row.id, row.status
        )));
    }
    let row = refunds::retry(&state.app, &payment, row, user.actor()).await?;
    Ok(see_other(&format!(
        "/receipts/{}?refund={}#refunds",
        payment.receipt_id, row.id
    )))
}

/// `POST /admin/refunds/{id}/record`: the admin records what the provider shows for a refund
/// whose outcome is unknown (`outcome` = `succeeded` or `failed`, `note` = what they saw);
/// audited.
pub async fn record(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let succeeded = match form.get("outcome") {
        Some("succeeded") => true,
        Some("failed") => false,
        other => {
            return Err(AppError::BadRequest(format!(
                "outcome must be \"succeeded\" or \"failed\", not {:?}",
                other.unwrap_or("")
            )))
        }
    };
    let note = form.get("note").unwrap_or_default().to_string();
    let row = refunds::record_outcome(&state.app, id, succeeded, note, user.actor()).await?;
    let receipt = state
        .db(move |s| s.payment_by_id(row.payment_id))
        .await?
        .map_or(0, |p| p.receipt_id);
    Ok(see_other(&format!(
        "/receipts/{receipt}?refund={}#refunds",
        row.id
    )))
}
