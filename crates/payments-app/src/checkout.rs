//! "Pay now" and the payer's return: start (or reuse) a checkout at the provider, and when the
//! payer comes back before any webhook, capture an approved payment at once.

use payments_core::{CheckoutRequest, PaymentStatus};
use payments_store::{IntentOutcome, NewAudit, PaymentRow, PaymentState, ReceiptRow, ReceiptStatus};
use serde_json::json;

use crate::webhook::capture::capture_payment;
use crate::{App, Error};

/// Where "Pay with ..." sends the browser: the receipt's open checkout at `provider` when there
/// is one, else a new one there. One checkout is open per receipt: an open one at another
/// provider is abandoned (closed here, and expired at its provider where that provider's API
/// allows; should the payer still complete it, that payment is recorded as a second payment
/// and flagged for a refund). A provider's refusal is audited (`payment.intent`) and returned
/// as [`Error::Provider`].
pub async fn start_payment(
    app: &App,
    receipt: ReceiptRow,
    username: String,
    actor: String,
    provider: &str,
) -> Result<String, Error> {
    let chosen = app
        .providers()
        .enabled_named(provider)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{provider} is not one of the payment providers offered here"
            ))
        })?
        .provider
        .clone();
    let provider = chosen.name();
    let receipt_id = receipt.id;
    let (intent, abandoned) = app
        .db(move |s| {
            let abandoned: Vec<PaymentRow> = s
                .payments_for_receipt(receipt_id)?
                .into_iter()
                .filter(|p| p.provider != provider && p.state().is_ok_and(|st| st.is_open()))
                .collect();
            Ok((s.create_payment_for_receipt(receipt_id, provider)?, abandoned))
        })
        .await?;
    for old in abandoned {
        abandon(app, &old, provider, &actor).await;
    }
    if let IntentOutcome::Reused(p) = &intent {
        if let Some(url) = &p.checkout_url {
            tracing::info!(payment = %p.public_id, "reusing the open checkout");
            return Ok(url.clone());
        }
    }
    let payment = intent.payment().clone();
    let cfg = app.settings();
    let request = CheckoutRequest {
        payment_ref: payment.public_id.clone(),
        amount: payment.amount()?,
        username,
        receipt_id,
        description: format!("HPC usage receipt #{receipt_id}"),
        success_url: format!("{}?payment={}", cfg.url(&cfg.success_path), payment.public_id),
        // The page the payer returns to on "cancel" says which payment was cancelled.
        cancel_url: format!("{}?cancelled={}", cfg.url(&cfg.cancel_path), payment.public_id),
        idempotency_key: payment.idempotency_key.clone(),
        lifetime_secs: Some(cfg.reconcile.checkout_lifetime_secs),
        created_at: Some(payment.created_at),
    };
    match chosen.create_checkout(&request).await {
        Ok(session) => {
            let pid = payment.id;
            let (ext, url, who) = (
                session.external_id.clone(),
                session.redirect_url.clone(),
                actor.clone(),
            );
            app.db(move |s| s.attach_provider_checkout(pid, &ext, &url, &who))
                .await?;
            tracing::info!(payment = %payment.public_id, provider, external_id = %session.external_id, "checkout started");
            Ok(session.redirect_url)
        }
        Err(e) => {
            let entry = NewAudit::new(
                &actor,
                "payment.intent",
                format!("payment {}", payment.public_id),
                json!({"provider": provider, "error": e.to_string(), "amount": request.amount.to_string()}),
            )
            .receipt(receipt_id)
            .payment(payment.id);
            app.db(move |s| s.append_audit(&entry)).await?;
            Err(Error::Provider(e))
        }
    }
}

/// One enabled provider as a way to pay a receipt: offered, or why not (for admins).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Offer {
    pub provider: &'static str,
    /// `None`: offered. Otherwise why it cannot take this receipt.
    pub refused: Option<String>,
}

/// The enabled providers for a receipt of `amount`, in the order `routed` gives (the names a
/// routing rule offers for the receipt's currency, in order); an enabled provider the rule
/// leaves out, or that cannot take the amount (currency, minimum, maximum), comes after, with
/// the reason.
pub fn offers(app: &App, amount: payments_core::Money, routed: &[&str]) -> Vec<Offer> {
    let mut out: Vec<Offer> = Vec::new();
    for name in routed {
        if let Some(p) = app.providers().enabled_named(name) {
            out.push(Offer {
                provider: p.provider.name(),
                refused: p.provider.check_amount(amount).err().map(|e| match e {
                    payments_core::ProviderError::AmountRefused(why) => why,
                    other => other.to_string(),
                }),
            });
        }
    }
    for p in app.providers().enabled() {
        if !out.iter().any(|o| o.provider == p.provider.name()) {
            out.push(Offer {
                provider: p.provider.name(),
                refused: Some(format!(
                    "PAYMENT_ROUTING does not offer it for {}",
                    amount.currency.code()
                )),
            });
        }
    }
    // Offered first, keeping the order within each group.
    out.sort_by_key(|o| o.refused.is_some());
    out
}

/// A checkout at another provider that the payer left for `chosen`: closed here already (by
/// the store, with the new intent), expired at its provider where it can be, and audited.
async fn abandon(app: &App, old: &PaymentRow, chosen: &str, actor: &str) {
    let expired = match (app.provider(&old.provider), old.external_id.as_deref()) {
        (Ok(p), Some(ext)) if p.capabilities().expire_checkout => match p.expire_checkout(ext).await {
            Ok(_) => "expired at the provider".to_string(),
            Err(e) => {
                tracing::warn!(payment = %old.public_id, error = %e, "could not expire an abandoned checkout");
                format!("could not be expired at the provider ({e}); a late payment is flagged as a second payment")
            }
        },
        _ => "left to lapse at the provider; a late payment is flagged as a second payment".to_string(),
    };
    tracing::info!(payment = %old.public_id, provider = %old.provider, chosen, "checkout abandoned for another provider");
    let entry = NewAudit::new(
        actor,
        "payment.close",
        format!("payment {}", old.public_id),
        json!({"provider": old.provider, "state": "canceled", "reason": format!("the payer chose {chosen}"), "at_provider": expired}),
    )
    .receipt(old.receipt_id)
    .payment(old.id);
    if let Err(e) = app.db(move |s| s.append_audit(&entry)).await {
        tracing::error!(error = %e, "could not audit an abandoned checkout");
    }
}

/// A payment reference as we issue them (`pay_` and up to 64 hex digits) from a query, or
/// nothing: only such a value is ever looked up or shown back.
pub fn payment_reference(r: Option<&str>) -> Option<String> {
    r.filter(|r| {
        r.strip_prefix("pay_").is_some_and(|hex| {
            !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
    })
    .map(str::to_string)
}

/// When the payer comes back before any webhook: for providers that need a capture, look the
/// payment up at the provider and capture it now (idempotently), so the payer does not wait on
/// webhook delivery. A later webhook for the same payment is then a harmless duplicate.
/// Providers without a capture step are left to their (signed) webhook.
pub async fn reconcile_on_return(app: &App, payment: &PaymentRow) {
    let Ok(provider) = app.provider(&payment.provider).cloned() else {
        return;
    };
    if !provider.capabilities().capture {
        return;
    }
    if !payment.state().is_ok_and(|s| s.is_open()) {
        return;
    }
    let Some(external_id) = payment.external_id.as_deref() else {
        return;
    };
    match provider.fetch_payment(external_id).await {
        Ok(snapshot) if snapshot.status == PaymentStatus::RequiresCapture => {
            if snapshot.amount.is_some_and(|a| Some(a) != payment.amount().ok()) {
                tracing::warn!(payment = %payment.public_id, "approved amount differs; not capturing");
                return;
            }
            match capture_payment(app, payment, None, None).await {
                Ok(outcome) => {
                    tracing::info!(payment = %payment.public_id, outcome = outcome.label(), "captured on return")
                }
                Err(e) => {
                    tracing::warn!(payment = %payment.public_id, failure = ?e, "capture on return did not finish")
                }
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(payment = %payment.public_id, error = %e, "could not fetch the payment on return")
        }
    }
}

/// What the payer is told about a payment: `(outcome, heading)`. Paid when the receipt is; until
/// the provider has decided, processing.
pub fn payer_outcome(
    payment: &PaymentRow,
    receipt_status: ReceiptStatus,
) -> Result<(&'static str, &'static str), Error> {
    match receipt_status {
        ReceiptStatus::Paid => return Ok(("paid", "Thank you: payment received")),
        ReceiptStatus::PartiallyRefunded => {
            return Ok(("partially_refunded", "Payment received, partly refunded"))
        }
        ReceiptStatus::Refunded => return Ok(("refunded", "Payment refunded")),
        _ => {}
    }
    Ok(match payment.state()? {
        PaymentState::Failed => ("failed", "Payment failed"),
        PaymentState::Canceled => ("cancelled", "Payment cancelled"),
        PaymentState::Expired => ("expired", "Payment expired"),
        _ => ("processing", "Payment processing"),
    })
}
