//! Stripe events (verified with the core's Stripe-style [`Scheme`]) mapped to [`WebhookEvent`]s.
//!
//! Nothing is read from the body before its signature is verified; amounts and ids come only
//! from the signed payload (a dispute's amount is the disputed amount).

use payments_core::signature::Scheme;
use payments_core::{
    EventKind, Money, RefundReport, RefundState, WebhookError, WebhookEvent, WebhookRequest,
};
use serde::Deserialize;

use crate::transformers::{
    metadata_payment_id, money_from_stripe, ChargeObject, CheckoutSessionObject, RefundObject,
};
use crate::NAME;

/// The header Stripe signs webhooks in.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// The webhook types this adapter acts on (subscribe to these in the dashboard).
pub const HANDLED_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.refund.updated",
    "charge.dispute.created",
];

/// Events whose `data.object` is one refund (`charge.refund.updated` on every API version;
/// `refund.created`, `refund.updated` and, on newer versions, `refund.failed`): reported as
/// that refund, in its current state.
pub const REFUND_EVENTS: &[&str] = &[
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
];

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

/// Verifies (HMAC-SHA256 of `"{t}.{body}"`, any `v1`, `t` within tolerance) and normalizes one
/// webhook.
pub fn parse(
    scheme: &Scheme,
    livemode: bool,
    request: &WebhookRequest,
) -> Result<WebhookEvent, WebhookError> {
    scheme.verify(request)?;

    let raw = request.json()?;
    let envelope: Envelope =
        serde_json::from_value(raw.clone()).map_err(|e| malformed(format!("not a Stripe event: {e}")))?;
    if envelope.id.trim().is_empty() || envelope.event_type.trim().is_empty() {
        return Err(malformed("the event has no id or no type"));
    }
    if envelope.livemode != livemode {
        let (event, key) = if envelope.livemode {
            ("live-mode", "test")
        } else {
            ("test-mode", "live")
        };
        let id = &envelope.id;
        return Err(WebhookError::Refused(format!(
            "{event} event {id} sent to an endpoint configured with a {key} key"
        )));
    }

    let obj = &envelope.data.object;
    let t = envelope.event_type.as_str();
    let mut references: Vec<String> = Vec::new();
    let mut refund = None;
    let (kind, external_payment_id, payment_ref, amount) = match t {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => {
            let session: CheckoutSessionObject = object(t, obj)?;
            let kind = match t {
                // Delayed payment methods (and an authorization Checkout leaves uncaptured) complete
                // `unpaid`: wait for async_payment_succeeded. Stripe's fulfilment rule is
                // `payment_status != "unpaid"` (docs.stripe.com/checkout/fulfillment): `paid` and
                // `no_payment_required` are done, as `fetch_payment` reports them; anything else
                // (an unknown word) stays pending, never a success.
                "checkout.session.completed"
                    if !matches!(session.payment_status.as_str(), "paid" | "no_payment_required") =>
                {
                    EventKind::PaymentPending
                }
                "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                    EventKind::PaymentSucceeded
                }
                "checkout.session.async_payment_failed" => EventKind::PaymentFailed,
                _ => EventKind::CheckoutExpired,
            };
            let amount = session.amount().map_err(malformed)?;
            if kind == EventKind::PaymentSucceeded && amount.is_none() {
                return Err(malformed(format!("{t} without amount_total and currency")));
            }
            // The PaymentIntent behind the session: later charge, refund and dispute events name it.
            let intent = match &session.payment_intent {
                Some(serde_json::Value::String(id)) => Some(id.clone()),
                Some(serde_json::Value::Object(o)) => {
                    o.get("id").and_then(|v| v.as_str()).map(str::to_string)
                }
                _ => None,
            };
            references.extend(intent);
            (kind, Some(session.id.clone()), session.payment_ref(), amount)
        }
        "charge.refunded" | "charge.dispute.created" => {
            let c: ChargeObject = object(t, obj)?;
            let kind = match t {
                "charge.refunded" => EventKind::Refunded {
                    amount: Some(money(c.amount_refunded, &c.currency)?.amount),
                },
                _ => EventKind::Disputed,
            };
            let payment = c
                .payment_intent
                .clone()
                .or(c.charge.clone())
                .unwrap_or(c.id.clone());
            // Every id naming this payment: the PaymentIntent, the charge (`charge` on a dispute,
            // the object itself on a charge event).
            references.extend(c.payment_intent.clone());
            references.extend(c.charge.clone());
            if t.starts_with("charge.") && t != "charge.dispute.created" {
                references.push(c.id.clone());
            }
            references.retain(|r| !r.trim().is_empty());
            references.dedup();
            // A charge's `amount` is the payment's; a dispute's is the disputed amount ("usually
            // the amount of the charge, but it can differ": docs.stripe.com/api/disputes/object),
            // which is what a dispute event states (`WebhookEvent::amount`).
            let amount = Some(money(c.amount, &c.currency)?);
            (
                kind,
                Some(payment),
                metadata_payment_id(c.metadata.as_ref()),
                amount,
            )
        }
        t if REFUND_EVENTS.contains(&t) => {
            let r: RefundObject = object(t, obj)?;
            let payment = r
                .payment_intent
                .clone()
                .or(r.charge.clone())
                .filter(|p| !p.trim().is_empty());
            let Some(payment) = payment else {
                return Err(malformed(format!("{t}: refund {} names no payment", r.id)));
            };
            references.extend(r.payment_intent.clone());
            references.extend(r.charge.clone());
            references.retain(|p| !p.trim().is_empty() && *p != payment);
            // One refund in its current state (a failed or canceled one gives its amount back);
            // the refund object carries no cumulative total: `charge.refunded` does.
            refund = Some(RefundReport {
                id: r.id.clone(),
                amount: Some(r.money().map_err(malformed)?.amount),
                state: RefundState::from_provider(&r.status_word()),
            });
            (
                EventKind::Refunded { amount: None },
                Some(payment),
                metadata_payment_id(r.metadata.as_ref()),
                None,
            )
        }
        other => {
            let id = obj.get("id").and_then(|v| v.as_str()).map(str::to_string);
            let payment_ref = obj.get("metadata").and_then(|m| m["payment_id"].as_str());
            let payment_ref = payment_ref.filter(|s| !s.trim().is_empty()).map(str::to_string);
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
        references,
        amount,
        refund,
        raw,
        signature: scheme.verdict(),
    })
}
