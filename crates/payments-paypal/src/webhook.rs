//! Webhook verification through PayPal's `POST /v1/notifications/verify-webhook-signature`, and
//! the mapping of PayPal events to [`EventKind`]s.
//!
//! The raw body is forwarded to PayPal **verbatim** as `webhook_event` (spliced into the request
//! JSON, never re-serialized): PayPal checks the signature over the CRC32 of the event bytes, so
//! a re-serialized event (other key order, escaping or whitespace) would fail verification.

use payments_core::signature::SignatureError;
use payments_core::{EventKind, Money, SignatureVerdict, WebhookError, WebhookEvent, WebhookRequest};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::transformers::{AmountWire, Order};
use crate::PROVIDER;
use payments_core::http::{Client, Idempotency, Request};
use payments_core::ProviderError;

pub const HEADER_TRANSMISSION_ID: &str = "PAYPAL-TRANSMISSION-ID";
pub const HEADER_TRANSMISSION_TIME: &str = "PAYPAL-TRANSMISSION-TIME";
/// The signature header (base64 RSA signature at PayPal).
pub const HEADER_TRANSMISSION_SIG: &str = "PAYPAL-TRANSMISSION-SIG";
pub const HEADER_CERT_URL: &str = "PAYPAL-CERT-URL";
pub const HEADER_AUTH_ALGO: &str = "PAYPAL-AUTH-ALGO";

/// The verdict method recorded for events PayPal's verification API accepted.
pub const VERIFY_METHOD: &str = "paypal-verify-api";

/// The message PayPal signs: `transmission_id|transmission_time|webhook_id|crc32(raw body)`,
/// the CRC32 (IEEE) as an unsigned decimal.
pub fn transmission_message(id: &str, time: &str, webhook_id: &str, raw_body: &[u8]) -> String {
    transmission_message_with_crc(id, time, webhook_id, crc32fast::hash(raw_body))
}

/// [`transmission_message`] with a CRC computed elsewhere.
pub fn transmission_message_with_crc(id: &str, time: &str, webhook_id: &str, crc32: u32) -> String {
    format!("{id}|{time}|{webhook_id}|{crc32}")
}

/// The transmission headers of one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transmission {
    pub auth_algo: String,
    pub cert_url: String,
    pub transmission_id: String,
    pub transmission_sig: String,
    pub transmission_time: String,
}

impl Transmission {
    /// All five headers, or `MissingHeader` naming the first one absent.
    pub fn from_request(request: &WebhookRequest) -> Result<Self, WebhookError> {
        let get = |name: &'static str| {
            let value = request.header(name).map(str::trim).filter(|v| !v.is_empty());
            value
                .map(str::to_string)
                .ok_or(WebhookError::Signature(SignatureError::MissingHeader(name)))
        };
        let transmission = Transmission {
            transmission_sig: get(HEADER_TRANSMISSION_SIG)?,
            transmission_id: get(HEADER_TRANSMISSION_ID)?,
            transmission_time: get(HEADER_TRANSMISSION_TIME)?,
            cert_url: get(HEADER_CERT_URL)?,
            auth_algo: get(HEADER_AUTH_ALGO)?,
        };
        transmission.check()?;
        Ok(transmission)
    }

    /// The limits of PayPal's verify-webhook-signature request (its API description): a header
    /// outside them is refused here, never sent on to PayPal.
    fn check(&self) -> Result<(), WebhookError> {
        // `^(?!\d+$)\w+\S+`: a word character first, no whitespace, not only digits.
        let token = |v: &str| {
            v.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && v.len() >= 2
                && !v.contains(char::is_whitespace)
                && !v.bytes().all(|b| b.is_ascii_digit())
        };
        let (any, alnum) = (
            |_: &str| true,
            |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric()),
        );
        type Rule<'a> = (&'static str, &'a str, usize, &'a dyn Fn(&str) -> bool);
        let limits: [Rule; 5] = [
            (HEADER_TRANSMISSION_ID, &self.transmission_id, 50, &token),
            (HEADER_TRANSMISSION_SIG, &self.transmission_sig, 500, &token),
            (HEADER_TRANSMISSION_TIME, &self.transmission_time, 100, &any),
            (HEADER_CERT_URL, &self.cert_url, 500, &any),
            (HEADER_AUTH_ALGO, &self.auth_algo, 100, &alnum),
        ];
        for (header, value, max, shape) in limits {
            if value.chars().count() > max || !shape(value) {
                let reason = format!("not a PayPal value (at most {max} characters of the documented form)");
                return Err(WebhookError::Signature(SignatureError::MalformedHeader {
                    header,
                    reason,
                }));
            }
        }
        Ok(())
    }
}

/// The envelope every PayPal event has.
#[derive(Debug, Clone, Deserialize)]
pub struct EventEnvelope {
    pub id: String,
    pub event_type: String,
    pub resource: serde_json::Map<String, serde_json::Value>,
}

/// Parses the raw body as a PayPal event (before anything is sent to PayPal).
pub fn parse_envelope(body: &[u8]) -> Result<(serde_json::Value, EventEnvelope), WebhookError> {
    let malformed = |m: String| WebhookError::MalformedPayload(m);
    let raw: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let envelope: EventEnvelope =
        serde_json::from_value(raw.clone()).map_err(|e| malformed(format!("not a PayPal event: {e}")))?;
    if envelope.id.trim().is_empty() || envelope.event_type.trim().is_empty() {
        return Err(malformed("event id or event_type is empty".into()));
    }
    // PayPal's Event schema: `create_time` a string, `event_version` like `1.0`.
    let field = |k: &str| raw.get(k).map(serde_json::Value::as_str);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let version_ok = |v: &str| v.split_once('.').is_some_and(|(a, b)| digits(a) && digits(b));
    if field("create_time").is_some_and(|t| t.is_none()) {
        return Err(malformed("create_time is not a string".into()));
    }
    if field("event_version").is_some_and(|v| !v.is_some_and(version_ok)) {
        return Err(malformed("event_version is not of the form 1.0".into()));
    }
    Ok((raw, envelope))
}

/// The verify request body: the transmission fields and `webhook_id` serialized normally (in
/// key order), the raw event spliced in unchanged as `webhook_event` (the last member).
pub fn verify_request_body(transmission: &Transmission, webhook_id: &str, raw_body: &[u8]) -> Vec<u8> {
    let mut head = serde_json::to_value(transmission).unwrap_or_default();
    head["webhook_id"] = webhook_id.into();
    // Serializing a map of strings cannot fail.
    let mut out = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    out.pop(); // the closing brace
    out.extend_from_slice(b",\"webhook_event\":");
    out.extend_from_slice(raw_body);
    out.push(b'}');
    out
}

#[derive(Debug, Deserialize)]
struct VerifyResponse {
    verification_status: String,
}

/// Asks PayPal whether the delivery is genuine (`POST /v1/notifications/verify-webhook-signature`,
/// safe to repeat). `Ok(())` only for `SUCCESS`; a refused request (400, 422) is not genuine.
pub async fn verify_online(
    client: &Client,
    webhook_id: &str,
    t: &Transmission,
    raw: &[u8],
) -> Result<(), WebhookError> {
    let body = verify_request_body(t, webhook_id, raw);
    // Deterministic per exact request, so a retry is recognised, and a different body never
    // shares a request id with an earlier verification.
    let request_id = format!("verify-{}", hex::encode(sha2::Sha256::digest(&body)));
    let request = Request::post("/v1/notifications/verify-webhook-signature")
        .raw_json(body)
        .header("PayPal-Request-Id", request_id)
        .header("Prefer", "return=representation")
        .idempotency(Idempotency::Safe);
    let verdict = match client.json::<VerifyResponse>(&request).await {
        Err(ProviderError::Api {
            status: 400 | 422,
            message,
            ..
        }) => {
            tracing::warn!(error = %message, "paypal: verify-webhook-signature refused the request");
            return Err(WebhookError::Signature(SignatureError::Mismatch));
        }
        other => other.map_err(|e| WebhookError::Upstream(format!("verify-webhook-signature: {e}")))?,
    };
    if verdict.verification_status == "SUCCESS" {
        Ok(())
    } else {
        tracing::warn!(status = %verdict.verification_status, "paypal: webhook signature refused");
        Err(WebhookError::Signature(SignatureError::Mismatch))
    }
}

fn malformed(event_type: &str, what: impl std::fmt::Display) -> WebhookError {
    WebhookError::MalformedPayload(format!("{event_type}: {what}"))
}

fn money(event_type: &str, wire: Option<&AmountWire>) -> Result<Option<Money>, WebhookError> {
    wire.map(AmountWire::to_money)
        .transpose()
        .map_err(|e| malformed(event_type, e))
}

/// Maps a verified event. Known resource types must parse; unknown event types become
/// `EventKind::Other` (acknowledged, not acted on).
pub fn map_event(raw: serde_json::Value, envelope: EventEnvelope) -> Result<WebhookEvent, WebhookError> {
    let event_type = envelope.event_type.clone();
    let resource = serde_json::Value::Object(envelope.resource);
    let mut event = WebhookEvent {
        references: Vec::new(),
        refund: None,
        provider: PROVIDER.to_string(),
        event_id: envelope.id,
        raw_type: event_type.clone(),
        kind: EventKind::Other {
            raw_type: event_type.clone(),
        },
        external_payment_id: None,
        payment_ref: None,
        amount: None,
        raw,
        signature: SignatureVerdict::verified(VERIFY_METHOD),
    };
    match event_type.as_str() {
        "CHECKOUT.ORDER.APPROVED" | "CHECKOUT.ORDER.VOIDED" => {
            let order: Order = serde_json::from_value(resource).map_err(|e| malformed(&event_type, e))?;
            let unit = order.purchase_units.first();
            let approved = event_type == "CHECKOUT.ORDER.APPROVED";
            event.kind = if approved {
                EventKind::CaptureRequired
            } else {
                EventKind::CheckoutExpired
            };
            event.amount = money(&event_type, unit.and_then(|u| u.amount.as_ref()))?;
            event.payment_ref = unit.and_then(|u| u.custom_id.clone());
            event.external_payment_id = Some(order.id);
        }
        "CHECKOUT.PAYMENT-APPROVAL.REVERSED" => {
            // PayPal's "Handle uncaptured payments": an approved order not captured in time is
            // cancelled by PayPal and the buyer refunded; it will never be paid. The published
            // sample names the order as `order_id` and carries no amount.
            #[derive(Deserialize)]
            struct Reversed {
                order_id: Option<String>,
                id: Option<String>,
                #[serde(default)]
                purchase_units: Vec<crate::transformers::PurchaseUnit>,
            }
            let r: Reversed = serde_json::from_value(resource).map_err(|e| malformed(&event_type, e))?;
            let unit = r.purchase_units.first();
            event.kind = EventKind::PaymentFailed;
            event.amount = money(&event_type, unit.and_then(|u| u.amount.as_ref()))?;
            event.payment_ref = unit.and_then(|u| u.custom_id.clone());
            event.external_payment_id = r.order_id.or(r.id).filter(|id| !id.trim().is_empty());
        }
        "PAYMENT.CAPTURE.COMPLETED"
        | "PAYMENT.CAPTURE.PENDING"
        | "PAYMENT.CAPTURE.DENIED"
        | "PAYMENT.CAPTURE.DECLINED"
        | "PAYMENT.CAPTURE.REFUNDED"
        | "PAYMENT.CAPTURE.REVERSED" => {
            // A capture; for REFUNDED and REVERSED the refund: its `amount` is this refund, its
            // `seller_payable_breakdown.total_refunded_amount` everything refunded so far.
            #[derive(Deserialize)]
            struct Resource {
                id: String,
                amount: Option<AmountWire>,
                custom_id: Option<String>,
                status: Option<String>,
                supplementary_data: Option<crate::transformers::SupplementaryData>,
                seller_payable_breakdown: Option<Breakdown>,
                #[serde(default)]
                links: Vec<crate::transformers::Link>,
            }
            #[derive(Deserialize)]
            struct Breakdown {
                total_refunded_amount: Option<AmountWire>,
            }
            let r: Resource = serde_json::from_value(resource).map_err(|e| malformed(&event_type, e))?;
            let amount = money(&event_type, r.amount.as_ref())?;
            let total = r.seller_payable_breakdown.and_then(|b| b.total_refunded_amount);
            let total = money(&event_type, total.as_ref())?;
            let refund_event = matches!(
                event_type.as_str(),
                "PAYMENT.CAPTURE.REFUNDED" | "PAYMENT.CAPTURE.REVERSED"
            );
            // `links[rel=up]`: a capture points up to its order, a refund to its capture. PayPal's
            // published samples may carry neither `custom_id` nor `supplementary_data`.
            let up = r.links.iter().find(|l| l.rel == "up").map(|l| l.href.as_str());
            let up_id = |segment: &str| {
                up.and_then(|href| href.split_once(segment))
                    .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or_default().to_string())
                    .filter(|id| !id.is_empty())
            };
            event.kind = match event_type.as_str() {
                "PAYMENT.CAPTURE.COMPLETED" => EventKind::PaymentSucceeded,
                "PAYMENT.CAPTURE.PENDING" => EventKind::PaymentPending,
                // The running total when PayPal states it; otherwise this one refund, counted
                // once per refund id by the store.
                _ if refund_event => EventKind::Refunded {
                    amount: total.map(|m| m.amount),
                },
                _ => EventKind::PaymentFailed,
            };
            if refund_event {
                if total.is_none() {
                    event.refund = Some(payments_core::RefundReport {
                        id: r.id.clone(),
                        amount: amount.map(|m| m.amount),
                        state: r.status.as_deref().map_or(
                            payments_core::RefundState::Succeeded,
                            payments_core::RefundState::from_provider,
                        ),
                    });
                }
                event.references.extend(up_id("/captures/"));
            } else {
                event.references.push(r.id.clone());
            }
            // The payment's amount is the capture's. A refund resource states only this refund
            // and the running total (Payments v2 `refund` schema), never the payment's amount: the
            // event carries the running total it states, or no amount.
            event.amount = if refund_event { total } else { amount };
            // A refund's `custom_id` is its own: our refund marker on the refunds we make (not
            // our payment id, which a refund made in PayPal's dashboard may still carry).
            event.payment_ref = r
                .custom_id
                .filter(|c| !(refund_event && crate::transformers::is_refund_marker(c)));
            // The order when the resource names it; a refund (whose `links[rel=up]` is its
            // capture, and which has no `supplementary_data`) names the capture it refunds.
            let order_id = r.supplementary_data.and_then(|s| s.related_ids?.order_id);
            event.external_payment_id = order_id
                .or_else(|| up_id("/orders/"))
                .or_else(|| refund_event.then(|| up_id("/captures/")).flatten())
                .filter(|id| !id.trim().is_empty());
            event.references.retain(|id| !id.trim().is_empty());
        }
        t if t.starts_with("CUSTOMER.DISPUTE.") => {
            // Matched through the disputed captures: `seller_transaction_id` is the capture id as
            // the merchant sees it. Only a new dispute is recorded; updates are acknowledged.
            if t == "CUSTOMER.DISPUTE.CREATED" {
                event.kind = EventKind::Disputed;
            }
            // A dispute event states the disputed amount (`WebhookEvent::amount`):
            // `dispute_amount`, possibly part of the payment (the disputed transaction's own
            // `gross_amount` is the payment's).
            let amount = resource.get("dispute_amount").cloned();
            let amount: Option<AmountWire> = amount
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| malformed(&event_type, e))?;
            event.amount = money(&event_type, amount.as_ref())?;
            let disputed = resource.get("disputed_transactions").and_then(|d| d.as_array());
            event.references = (disputed.into_iter().flatten())
                .filter_map(|d| d.get("seller_transaction_id")?.as_str())
                .filter(|id| !id.trim().is_empty())
                .map(str::to_string)
                .collect();
            event.references.dedup();
            // The merchant's id of the disputed payment: its capture.
            event.external_payment_id = event.references.first().cloned();
        }
        _ => {}
    }
    Ok(event)
}
