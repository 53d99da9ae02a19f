//! The dummy provider's checkout page (only compiled with the `dummy` feature, only routed
//! while the dummy provider is active).

use actix_session::Session;
use actix_web::{web, HttpResponse};
use payments_core::unix_now;
use payments_store::PaymentState;
use serde::Deserialize;

use payments_app::random_token;
use payments_app::refunds::parse_amount;
use payments_app::webhook::process_webhook;

use crate::auth::{CsrfForm, CurrentUser};
use crate::error::{webhook_status, AppError};
use crate::routes::page::{html, page_context, see_other, PaymentSummary};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct SimQuery {
    payment: String,
}

fn dummy(state: &AppState) -> Result<std::sync::Arc<payments_dummy::DummyProvider>, AppError> {
    state
        .app
        .adapter(payments_dummy::DummyProvider::NAME)
        .and_then(|a| a.adapter::<payments_dummy::DummyProvider>())
        .ok_or(AppError::NotFound)
}

/// The dummy provider as the trait object the webhook handler verifies with.
fn dummy_verifier(state: &AppState) -> Result<std::sync::Arc<dyn payments_core::PaymentProvider>, AppError> {
    Ok(state.app.provider(payments_dummy::DummyProvider::NAME)?.clone())
}

/// The payment, and whether the payer can still act on it (it is open and its receipt unpaid).
async fn open_payment(
    state: &AppState,
    user: &CurrentUser,
    public_id: String,
) -> Result<(payments_store::PaymentRow, bool), AppError> {
    payments_core::refuse_nul("the payment id", &public_id)?;
    let found = state
        .db(move |s| {
            let Some(p) = s.payment_by_public_id(&public_id)? else {
                return Ok(None);
            };
            Ok(s.receipt(p.receipt_id)?.map(|r| (p, r.user_id, r.status)))
        })
        .await?;
    let (payment, owner, receipt_status) = found.ok_or(AppError::NotFound)?;
    user.may_access(owner)?;
    if payment.provider != "dummy" {
        return Err(AppError::NotFound);
    }
    let actionable = payment.state()?.is_open() && receipt_status == "unpaid";
    Ok((payment, actionable))
}

pub async fn page(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    q: web::Query<SimQuery>,
) -> Result<HttpResponse, AppError> {
    dummy(&state)?;
    let (payment, actionable) = open_payment(&state, &user, q.payment.clone()).await?;
    let mut ctx = page_context(&state, &session, Some(&user))?;
    ctx.insert("payment", &PaymentSummary::of(&payment)?);
    ctx.insert("actionable", &actionable);
    ctx.insert("payment_status", &payment.display_status());
    // The provider's own dashboard: an admin may refund here, and the refund reaches the server
    // the way a real provider's would, as a signed webhook.
    ctx.insert(
        "dashboard_refund",
        &(user.is_admin() && payment.status == PaymentState::Succeeded.as_str()),
    );
    ctx.insert("currency", &payment.currency);
    Ok(html(state.templates.render("simulate.html", &ctx)?))
}

/// Succeed or fail: the dummy provider signs a webhook and it goes through the same handler a
/// real provider hits. Cancel: the payer went back; the intent is closed.
pub async fn choose(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    let provider = dummy(&state)?;
    let (payment, actionable) = open_payment(&state, &user, form.require("payment")?.to_string()).await?;
    if !actionable {
        return Err(AppError::Conflict(format!(
            "payment {} is {}: nothing more can be done with it; start a new payment from receipt #{}",
            payment.public_id, payment.status, payment.receipt_id
        )));
    }
    let event_type = match form.require("outcome")? {
        "succeed" => "payment.succeeded",
        "fail" => "payment.failed",
        "cancel" => {
            let (pid, actor) = (payment.public_id.clone(), user.actor());
            state
                .db(move |s| {
                    s.close_payment(
                        &pid,
                        PaymentState::Canceled,
                        &actor,
                        "cancelled on the checkout page",
                    )
                })
                .await?;
            // Back where the provider's cancel button leads (as `checkout::start_payment` set it).
            return Ok(see_other(&format!(
                "{}?cancelled={}",
                state.config.url(&state.config.app.cancel_path),
                payment.public_id
            )));
        }
        other => return Err(AppError::BadRequest(format!("unknown outcome {other:?}"))),
    };
    let event_id = format!("evt_{}", random_token(12)?);
    let request = provider.signed_webhook(
        &event_id,
        event_type,
        &payment.public_id,
        payment.amount()?,
        unix_now(),
    )?;
    let reply = process_webhook(&state.app, &dummy_verifier(&state)?, request).await;
    tracing::info!(payment = %payment.public_id, status = webhook_status(reply.answer).as_u16(), result = %reply.result, "simulated webhook delivered");
    // Both outcomes return to the thanks page, whose heading follows the outcome.
    Ok(see_other(&format!(
        "{}?payment={}",
        state.config.app.success_path, payment.public_id
    )))
}

/// The dummy's "dashboard": an admin refunds part of a paid payment at the provider; the
/// provider tells the server with a signed `refund.succeeded` webhook (through the same handler a
/// real provider hits), which records it as a refund started at the provider.
pub async fn dashboard_refund(
    state: web::Data<AppState>,
    user: CurrentUser,
    form: CsrfForm,
) -> Result<HttpResponse, AppError> {
    let provider = dummy(&state)?;
    if !user.is_admin() {
        return Err(AppError::NotFound);
    }
    let (payment, _) = open_payment(&state, &user, form.require("payment")?.to_string()).await?;
    let amount = parse_amount(form.get("amount").unwrap_or_default(), payment.amount()?.currency)
        .map_err(AppError::BadRequest)?;
    let refund_id = format!("dummy_re_dash_{}", random_token(8)?);
    let request = provider.signed_refund_webhook(
        &format!("evt_{}", random_token(12)?),
        &payment.public_id,
        payment.amount()?,
        &refund_id,
        amount.amount,
        unix_now(),
    )?;
    let reply = process_webhook(&state.app, &dummy_verifier(&state)?, request).await;
    tracing::info!(payment = %payment.public_id, status = webhook_status(reply.answer).as_u16(), result = %reply.result, "dummy dashboard refund delivered");
    Ok(see_other(&format!("/receipts/{}#refunds", payment.receipt_id)))
}
