//! Mollie's classic webhook: a form body holding only `id=tr_...`, with no signature. It is
//! verified by fetching the payment from Mollie's API; only the fetched copy is trusted.

use payments_core::signature::Scheme;
use payments_core::{WebhookError, WebhookEvent, WebhookRequest};

use crate::transformers::MolliePayment;

/// Mollie signs nothing: every event is confirmed by `GET /v2/payments/{id}`.
pub const SCHEME: Scheme = Scheme::VerifyByRefetch {
    event_id_header: None,
};

/// The payment id of a webhook body (`id=tr_...`), or why the body is not Mollie's.
pub fn payment_id(request: &WebhookRequest) -> Result<String, WebhookError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    let token = |id: &str| id.len() <= 64 && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    match pairs.as_slice() {
        [(key, id)] if key == "id" && id.len() > 3 && id.starts_with("tr_") && token(id) => Ok(id.clone()),
        _ => Err(WebhookError::MalformedPayload(
            "mollie: the body must be only `id=tr_...`".into(),
        )),
    }
}

/// The event the fetched `payment` stands for.
pub fn event(payment: MolliePayment, raw: serde_json::Value) -> Result<WebhookEvent, WebhookError> {
    let bad = |e: String| WebhookError::MalformedPayload(format!("mollie payment {}: {e}", payment.id));
    Ok(WebhookEvent {
        references: Vec::new(),
        refund: None,
        provider: crate::NAME.into(),
        event_id: payment.state_id(),
        raw_type: format!("payment.{}", raw["status"].as_str().unwrap_or("unknown")),
        kind: payment.event_kind().map_err(bad)?,
        external_payment_id: Some(payment.id.clone()),
        payment_ref: payment.payment_ref(),
        amount: Some(payment.money().map_err(bad)?),
        raw,
        signature: SCHEME.verdict(),
    })
}
