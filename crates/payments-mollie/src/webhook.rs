//! Mollie's classic webhook: a form body holding only `id=tr_...`, with no signature. It is
//! verified by fetching the payment from Mollie's API; only the fetched copy is trusted.

use payments_core::signature::Scheme;
use payments_core::wire::is_provider_id;
use payments_core::{WebhookError, WebhookEvent, WebhookRequest};

use crate::transformers::MolliePayment;

/// Mollie signs nothing: every event is confirmed by `GET /v2/payments/{id}`.
pub const SCHEME: Scheme = Scheme::VerifyByRefetch {
    event_id_header: None,
};

/// The payment id of a webhook body (`id=tr_...`), or why the body is not Mollie's.
pub fn payment_id(request: &WebhookRequest) -> Result<String, WebhookError> {
    match request.sole_form_field("id") {
        Some(id) if is_provider_id(&id, "tr_") => Ok(id),
        _ => Err(WebhookError::MalformedPayload(
            "mollie: the body must be only `id=tr_...`".into(),
        )),
    }
}

/// The event the fetched `payment` (and its `raw` JSON) stands for.
pub fn event(payment: MolliePayment, raw: serde_json::Value) -> Result<WebhookEvent, WebhookError> {
    let bad = |e: String| WebhookError::MalformedPayload(format!("mollie payment {}: {e}", payment.id));
    Ok(WebhookEvent {
        references: Vec::new(),
        provider: crate::NAME.into(),
        event_id: payment.state_id(),
        raw_type: format!("payment.{}", payment.status),
        kind: payment.event_kind().map_err(bad)?,
        external_payment_id: Some(payment.id.clone()),
        payment_ref: payment.payment_ref(),
        amount: Some(payment.money().map_err(bad)?),
        raw,
        signature: SCHEME.verdict(),
    })
}
