//! Payments: "Pay now", the thanks page and its status poll, the webhook, and the dummy
//! provider's checkout page.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_core::ProviderError;
use payments_store::{PaymentRow, ReceiptStatus};
use serde::Deserialize;

use super::page::{html, page_context, see_other, PaymentSummary};
use crate::auth::{CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;

#[cfg(feature = "dummy")]
pub mod simulate;
pub mod webhook;

/// `POST /payments/receipts/{id}/start`: the receipt's owner only (an admin is told whose it is;
/// anyone else gets the 404 of a receipt that does not exist); 303 to the provider's checkout.
pub async fn start(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let receipt = state
        .db(move |s| s.receipt(id))
        .await?
        .ok_or(AppError::NotFound)?;
    user.may_access(receipt.user_id)?;
    if receipt.user_id != user.id() {
        let owner_id = receipt.user_id;
        let owner = state
            .db(move |s| s.user_by_id(owner_id))
            .await?
            .map(|u| u.username)
            .unwrap_or_default();
        return Err(AppError::Forbidden(format!(
            "receipt {id} is {owner}'s: only {owner} can pay it"
        )));
    }
    if receipt.status()? != ReceiptStatus::Unpaid {
        return Err(AppError::Conflict(format!("receipt {id} is {}", receipt.status)));
    }
    // Only the owner gets here.
    let owner = user.0.username.clone();
    // The provider the payer chose ("Pay with ..."); with one offered, that one.
    let offers = crate::routes::portal::receipt::offers_for(&state, &receipt)?;
    let offered: Vec<&str> = offers
        .iter()
        .filter(|o| o.refused.is_none())
        .map(|o| o.provider)
        .collect();
    let chosen = match form.get("provider").map(str::trim).filter(|p| !p.is_empty()) {
        Some(name) => match offers.iter().find(|o| o.provider == name) {
            Some(o) if o.refused.is_none() => o.provider,
            Some(o) => {
                return Err(AppError::BadRequest(format!(
                    "{} cannot take receipt {id}: {}",
                    crate::routes::page::display_name(o.provider),
                    o.refused.clone().unwrap_or_default()
                )))
            }
            None => {
                return Err(AppError::BadRequest(format!(
                    "{:?} is not a payment provider offered here ({})",
                    payments_app::logsafe::bounded(name),
                    offered.join(", ")
                )))
            }
        },
        None if offered.len() == 1 => offered[0],
        None if offered.is_empty() => {
            return Err(AppError::Conflict(format!(
                "receipt {id} cannot be paid online here: no payment provider takes its amount"
            )))
        }
        None => {
            return Err(AppError::BadRequest(format!(
                "choose how to pay receipt {id}: one of {}",
                offered.join(", ")
            )))
        }
    };
    match payments_app::checkout::start_payment(&state.app, receipt, owner, user.actor(), chosen).await {
        Ok(url) => Ok(see_other(&url)),
        // The payer gets a plain message on the receipt; the provider's own words (and any of
        // its URLs) stay in the log and in the audit entry `start_payment` wrote.
        Err(payments_app::Error::Provider(e)) => {
            let reference = state
                .db(move |s| s.payments_for_receipt(id))
                .await?
                .into_iter()
                .next()
                .map(|p| p.public_id)
                .unwrap_or_default();
            let problem = if matches!(e, ProviderError::AmountRefused(_)) {
                tracing::info!(receipt = id, payment = %reference, error = %e, "the provider refuses this amount");
                "amount"
            } else {
                tracing::error!(receipt = id, payment = %reference, error = %e, "the provider could not start a checkout");
                "unavailable"
            };
            Ok(see_other(&format!(
                "/receipts/{id}?problem={problem}&ref={reference}"
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// A payment the user may see.
async fn visible_payment(
    state: &AppState,
    user: &CurrentUser,
    public_id: String,
) -> Result<(PaymentRow, ReceiptStatus), AppError> {
    payments_core::refuse_nul("the payment id", &public_id)?;
    let found = state
        .db(move |s| {
            let Some(p) = s.payment_by_public_id(&public_id)? else {
                return Ok(None);
            };
            let receipt = s.receipt(p.receipt_id)?;
            Ok(receipt.map(|r| (p, r)))
        })
        .await?;
    let (payment, receipt) = found.ok_or(AppError::NotFound)?;
    user.may_access(receipt.user_id)?;
    Ok((payment, receipt.status()?))
}

#[derive(Deserialize)]
pub struct ThanksQuery {
    payment: Option<String>,
}

/// The success page: its heading and text follow the outcome (processing until the webhook
/// finalized, then paid; failed, cancelled or expired).
pub async fn thanks(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<ThanksQuery>,
) -> Result<HttpResponse, AppError> {
    let public_id = q
        .payment
        .clone()
        .ok_or_else(|| AppError::BadRequest("the payment parameter is missing".into()))?;
    let (mut payment, mut receipt_status) = visible_payment(&state, &user, public_id.clone()).await?;
    if receipt_status == ReceiptStatus::Unpaid {
        payments_app::checkout::reconcile_on_return(&state.app, &payment).await;
        (payment, receipt_status) = visible_payment(&state, &user, public_id).await?;
    }
    let (outcome, heading) = payments_app::checkout::payer_outcome(&payment, receipt_status)?;
    let payment_provider = payment.provider.clone();
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert("payment", &PaymentSummary::of(&payment)?);
    ctx.insert("outcome", outcome);
    ctx.insert("heading", heading);
    // A failed, cancelled or expired payment of a receipt still unpaid: try again from here.
    ctx.insert(
        "try_again",
        &(receipt_status == ReceiptStatus::Unpaid
            && ["failed", "cancelled", "expired"].contains(&outcome)
            && receipt_owner(&state, &payment).await? == Some(user.id())),
    );
    // This payment's provider, its name as payers read it, and its own webhook URL.
    ctx.insert("provider", &crate::routes::page::display_name(&payment_provider));
    ctx.insert(
        "webhook_url",
        &state.config.url(&if state.provider_names().len() == 1 {
            "/payments/webhook".to_string()
        } else {
            format!("/payments/webhook/{payment_provider}")
        }),
    );
    Ok(html(state.templates.render("thanks.html", &ctx)?))
}

/// The user id of the owner of `payment`'s receipt.
async fn receipt_owner(state: &AppState, payment: &PaymentRow) -> Result<Option<i64>, AppError> {
    let id = payment.receipt_id;
    Ok(state.db(move |s| s.receipt(id)).await?.map(|r| r.user_id))
}

/// `GET /payments/{id}/status`: JSON for the thanks page's poll.
pub async fn status(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (payment, receipt_status) = visible_payment(&state, &user, path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "payment": payment.public_id,
            "payment_status": payment.status,
            "receipt_id": payment.receipt_id,
            "receipt_status": receipt_status.as_str(),
            "amount": payment.amount()?.to_string(),
        })))
}
