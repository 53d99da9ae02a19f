//! `Stripe-Signature` verification and the mapping of Stripe events to [`WebhookEvent`]s.
//!
//! Nothing is read from the body before its signature is verified; amounts and ids come only
//! from the signed payload.

use payments_core::signature::{SignatureError, StripeStyleScheme};
use payments_core::{EventKind, Money, SignatureVerdict, WebhookError, WebhookEvent, WebhookRequest};
use serde::Deserialize;

use crate::config::KeyMode;
use crate::transformers::{
    metadata_payment_id, money_from_stripe, ChargeObject, CheckoutSessionObject, DisputeObject,
};
use crate::NAME;

/// The header Stripe signs webhooks in.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// How a verified event is reported in [`SignatureVerdict::Verified`].
pub const VERIFY_METHOD: &str = "hmac-sha256";

/// The webhook types this adapter acts on (subscribe to these in the dashboard).
pub const HANDLED_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.dispute.created",
];

/// Verifies `header` against the exact `body` at `now`: HMAC-SHA256 of `"{t}.{body}"` with each
/// whole `whsec_` secret, any `v1` may match (constant-time), `v0` ignored, `t` within tolerance.
/// Returns the signed timestamp.
pub fn verify(
    scheme: &StripeStyleScheme,
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<i64, SignatureError> {
    scheme.verify(header, body, now)
}

/// The event envelope.
#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    livemode: bool,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: serde_json::Map<String, serde_json::Value>,
}

fn malformed(what: impl std::fmt::Display) -> WebhookError {
    WebhookError::MalformedPayload(what.to_string())
}

fn object<T: serde::de::DeserializeOwned>(
    event_type: &str,
    data: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, WebhookError> {
    serde_json::from_value(serde_json::Value::Object(data.clone())).map_err(|e| {
        malformed(format!(
            "{event_type}: data.object is not the expected object: {e}"
        ))
    })
}

fn money(amount: i64, currency: &str) -> Result<Money, WebhookError> {
    money_from_stripe(amount, currency).map_err(|e| malformed(format!("amount {amount} {currency:?}: {e}")))
}

/// Verifies and normalizes one webhook.
pub fn parse(
    scheme: &StripeStyleScheme,
    mode: KeyMode,
    request: &WebhookRequest,
) -> Result<WebhookEvent, WebhookError> {
    let header = request.require_header(SIGNATURE_HEADER)?;
    verify(scheme, header, &request.body, request.received_at)?;

    let raw = request.json()?;
    let envelope: Envelope =
        serde_json::from_value(raw.clone()).map_err(|e| malformed(format!("not a Stripe event: {e}")))?;
    if envelope.id.trim().is_empty() || envelope.event_type.trim().is_empty() {
        return Err(malformed("the event has no id or no type"));
    }
    if envelope.livemode != mode.livemode() {
        let (event, key) = if envelope.livemode {
            ("live-mode", "test")
        } else {
            ("test-mode", "live")
        };
        return Err(WebhookError::Refused(format!(
            "{event} event {} sent to an endpoint configured with a {key} key",
            envelope.id
        )));
    }

    let obj = &envelope.data.object;
    let t = envelope.event_type.as_str();
    let (kind, external_payment_id, payment_ref, amount) = match t {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => {
            let session: CheckoutSessionObject = object(t, obj)?;
            let kind = match t {
                "checkout.session.completed" => {
                    if session.payment_status == crate::transformers::SessionPaymentStatus::Paid {
                        EventKind::PaymentSucceeded
                    } else {
                        // Delayed payment methods: wait for async_payment_succeeded / _failed.
                        EventKind::PaymentPending
                    }
                }
                "checkout.session.async_payment_succeeded" => EventKind::PaymentSucceeded,
                "checkout.session.async_payment_failed" => EventKind::PaymentFailed,
                _ => EventKind::CheckoutExpired,
            };
            let amount = session.amount().map_err(malformed)?;
            if kind == EventKind::PaymentSucceeded && amount.is_none() {
                return Err(malformed(format!("{t} without amount_total and currency")));
            }
            (kind, Some(session.id.clone()), session.payment_ref(), amount)
        }
        "charge.refunded" => {
            let charge: ChargeObject = object(t, obj)?;
            let paid = money(charge.amount, &charge.currency)?;
            let refunded = money(charge.amount_refunded, &charge.currency)?;
            (
                EventKind::Refunded {
                    amount: Some(refunded.amount),
                },
                Some(charge.payment_intent.clone().unwrap_or(charge.id.clone())),
                metadata_payment_id(charge.metadata.as_ref()),
                Some(paid),
            )
        }
        "charge.dispute.created" => {
            let dispute: DisputeObject = object(t, obj)?;
            let amount = money(dispute.amount, &dispute.currency)?;
            (
                EventKind::Disputed,
                Some(
                    dispute
                        .payment_intent
                        .clone()
                        .or(dispute.charge.clone())
                        .unwrap_or(dispute.id.clone()),
                ),
                metadata_payment_id(dispute.metadata.as_ref()),
                Some(amount),
            )
        }
        other => {
            let id = obj.get("id").and_then(|v| v.as_str()).map(str::to_string);
            let payment_ref = obj
                .get("metadata")
                .and_then(|m| m.get("payment_id"))
                .and_then(|v| v.as_str())
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string);
            (
                EventKind::Other {
                    raw_type: other.to_string(),
                },
                id,
                payment_ref,
                None,
            )
        }
    };

    Ok(WebhookEvent {
        provider: NAME.to_string(),
        event_id: envelope.id,
        raw_type: envelope.event_type,
        kind,
        external_payment_id,
        payment_ref,
        amount,
        raw,
        signature: SignatureVerdict::verified(VERIFY_METHOD),
    })
}
