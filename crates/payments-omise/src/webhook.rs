//! Webhooks: the optional `Omise-Signature` check, then the re-fetch that every decision is
//! based on.
//!
//! Omise's own advice is not to trust a webhook body. The adapter therefore takes the charge id
//! from the body, fetches `GET /charges/{id}` and builds the event from the charge Omise
//! returns: status, amount, currency and our payment id (metadata). The body supplies only the
//! event id, its key and which charge (and refund, or dispute) it names. A body that lies about
//! the status or the amount changes nothing; a charge Omise does not know is refused, and so is a
//! refund or dispute Omise does not hold for that charge.
//!
//! The keys acted on (docs.omise.co/api-webhooks): `charge.create`, `charge.complete`,
//! `charge.capture` and `charge.expire` by the re-fetched charge's status (an authorized charge
//! awaiting a manual capture is `pending`: never a success; this adapter does not capture);
//! `refund.*` as the refund Omise holds; `dispute.create` ("Dispute has been opened") as a
//! dispute of the charge. Every other key is acknowledged and not acted on.
//!
//! When `OMISE_WEBHOOK_SECRET` is set the signature is verified first and a bad one is refused
//! before any call to Omise: key = base64-decode(secret), message = `"{timestamp}.{raw body}"`,
//! HMAC-SHA256 in lower-case hex, `Omise-Signature` may list several comma-separated signatures
//! (secret rotation), `Omise-Signature-Timestamp` in unix seconds within the tolerance.

use payments_core::http::{segment, Client, Request};
use payments_core::signature::{Scheme, SignatureError, Timestamped, Verified};
use payments_core::{
    EventKind, Money, ProviderError, RefundReport, RefundState, SignatureVerdict, WebhookError, WebhookEvent,
    WebhookRequest,
};
use serde_json::Value;

use crate::transformers::{Expandable, OmiseCharge, OmiseRefund, AMOUNTS};
use crate::PROVIDER;
use payments_core::wire::is_provider_id;

/// Header with the hex signature(s).
pub const SIGNATURE_HEADER: &str = "Omise-Signature";
/// Header with the signing time (unix seconds).
pub const TIMESTAMP_HEADER: &str = "Omise-Signature-Timestamp";

/// Omise's signing scheme: the core's [`Timestamped`] with the signatures in
/// `Omise-Signature`, the time in `Omise-Signature-Timestamp` and base64 secrets.
#[derive(Debug, Clone)]
pub struct OmiseSignature(pub Timestamped);

impl OmiseSignature {
    /// From base64 secrets as shown in the dashboard (the first signs).
    pub fn from_base64_secrets(secrets: &[impl AsRef<str>], tolerance: i64) -> Result<Self, SignatureError> {
        Timestamped::with_timestamp_header(SIGNATURE_HEADER, TIMESTAMP_HEADER, secrets, tolerance).map(Self)
    }

    /// The hex signature of `body` at `timestamp` with the first key.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        self.0.sign(timestamp, body)
    }

    /// The two headers Omise sends (and the JSON content type), for `body` at `timestamp`.
    pub fn headers(&self, timestamp: i64, body: &[u8]) -> Result<Vec<(String, String)>, SignatureError> {
        let mut headers = self.0.sign_headers(timestamp, body)?;
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
        Ok(headers)
    }
}

/// What the adapter reads from an event body (everything else comes from the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: String,
    pub key: String,
    /// The charge the event is about, when it names one.
    pub charge_id: Option<String>,
    /// The refund, for `refund.*` events.
    pub refund_id: Option<String>,
    /// The dispute, for events whose data is a dispute object.
    pub dispute_id: Option<String>,
}

fn malformed(reason: impl Into<String>) -> WebhookError {
    WebhookError::MalformedPayload(reason.into())
}

/// Parses `{object: "event", id, key, data}` and finds the charge (and refund) it names; ids are
/// checked before they are put into a URL path.
pub fn parse_envelope(raw: &Value) -> Result<Envelope, WebhookError> {
    if raw["object"] != "event" {
        return Err(malformed("not an Omise event (object is not \"event\")"));
    }
    let text = |v: &Value, what: &str| {
        let s = v.as_str().filter(|s| !s.trim().is_empty() && s.len() <= 128);
        s.map(str::to_string)
            .ok_or_else(|| malformed(format!("event without {what}")))
    };
    let (id, key) = (text(&raw["id"], "an id")?, text(&raw["key"], "a key")?);
    let data = raw["data"]
        .as_object()
        .ok_or_else(|| malformed("event without a data object"))?;
    let id_of = |k: &str| {
        let e = data
            .get(k)
            .and_then(|v| serde_json::from_value::<Expandable>(v.clone()).ok());
        e.map(|e| e.id().to_string())
    };
    let (charge_id, refund_id, dispute_id) = match data.get("object").and_then(Value::as_str) {
        Some("charge") => (id_of("id"), None, None),
        Some("refund") => (id_of("charge"), id_of("id"), None),
        Some("dispute") => (id_of("charge"), None, id_of("id")),
        // Other objects that point at a charge.
        _ => (id_of("charge"), None, None),
    };
    for (id, prefix) in [
        (&charge_id, "chrg_"),
        (&refund_id, "rfnd_"),
        (&dispute_id, "dspt_"),
    ] {
        if let Some(id) = id.as_deref().filter(|id| !is_provider_id(id, prefix)) {
            return Err(malformed(format!("{id:?} is not an Omise {prefix} id")));
        }
    }
    if (key.starts_with("charge.") || key.starts_with("refund.")) && charge_id.is_none() {
        return Err(malformed(format!("{key} event names no charge")));
    }
    if key.starts_with("refund.") && refund_id.is_none() {
        return Err(malformed(format!("{key} event names no refund")));
    }
    if key == "dispute.create" && (dispute_id.is_none() || charge_id.is_none()) {
        return Err(malformed(format!("{key} event names no dispute of a charge")));
    }
    Ok(Envelope {
        id,
        key,
        charge_id,
        refund_id,
        dispute_id,
    })
}

/// `id` when it is an Omise charge id, checked before it is put into a URL path.
pub fn charge_id(id: &str) -> Result<&str, ProviderError> {
    let message = || format!("{id:?} is not an Omise charge id; not sent to Omise");
    is_provider_id(id, "chrg_")
        .then_some(id)
        .ok_or_else(|| ProviderError::unexpected(PROVIDER, message()))
}

/// `GET /charges/{id}`, checking that Omise answered with that charge.
pub async fn fetch_charge(client: &Client, id: &str) -> Result<OmiseCharge, ProviderError> {
    let path = format!("/charges/{}", segment(charge_id(id)?));
    let charge: OmiseCharge = client.json(&Request::get(path)).await?;
    if charge.object != "charge" || charge.id != id {
        let message = format!("asked for charge {id}, got {} {:?}", charge.object, charge.id);
        return Err(ProviderError::unexpected(PROVIDER, message));
    }
    Ok(charge)
}

/// `GET /disputes/{id}`, checking that Omise holds that dispute of `charge_id` (a dispute Omise
/// does not know, or of another charge, is refused); its disputed amount, when it states one.
async fn fetch_dispute(
    client: &Client,
    dispute_id: &str,
    charge_id: &str,
) -> Result<Option<Money>, WebhookError> {
    let foreign = || WebhookError::Refused(format!("dispute {dispute_id} is not one of charge {charge_id}"));
    let path = format!("/disputes/{}", segment(dispute_id));
    let dispute: Value = match client.json(&Request::get(path)).await {
        Err(ProviderError::Api { status: 404, .. }) => return Err(foreign()),
        other => other.map_err(|e| WebhookError::Upstream(e.to_string()))?,
    };
    let charge = serde_json::from_value::<Expandable>(dispute["charge"].clone()).ok();
    if dispute["object"] != "dispute"
        || dispute["id"] != dispute_id
        || charge.as_ref().map(Expandable::id) != Some(charge_id)
    {
        return Err(foreign());
    }
    let disputed = match (dispute["amount"].as_i64(), dispute["currency"].as_str()) {
        (Some(amount), Some(currency)) => Some(
            AMOUNTS
                .money(amount, currency)
                .map_err(|e| WebhookError::Upstream(format!("dispute {dispute_id}: {e}")))?,
        ),
        _ => None,
    };
    Ok(disputed)
}

/// Verifies the signature when one is configured (else the scheme is verify-by-refetch), then
/// re-fetches the charge (and refund or dispute) the event names and builds the event from them
/// only.
pub async fn parse_webhook(
    client: &Client,
    scheme: &Scheme,
    request: &WebhookRequest,
) -> Result<WebhookEvent, WebhookError> {
    let signed = scheme.verify(request)? != Verified::MustRefetch;
    let raw = request.json()?;
    let envelope = parse_envelope(&raw)?;
    let mut event = WebhookEvent {
        references: Vec::new(),
        refund: None,
        provider: PROVIDER.to_string(),
        event_id: envelope.id,
        raw_type: envelope.key.clone(),
        kind: EventKind::Other {
            raw_type: envelope.key.clone(),
        },
        external_payment_id: None,
        payment_ref: None,
        amount: None,
        raw,
        signature: if signed {
            SignatureVerdict::verified("hmac-sha256")
        } else {
            SignatureVerdict::NotSigned
        },
    };
    // Nothing to re-fetch: acknowledged, never acted on.
    let Some(charge_id) = envelope.charge_id else {
        return Ok(event);
    };
    let charge = fetch_charge(client, &charge_id).await;
    let charge = charge.map_err(|e| WebhookError::refetch(&charge_id, e))?;
    let mut amount = charge
        .money()
        .map_err(|e| WebhookError::Upstream(e.to_string()))?;
    event.kind = match envelope.key.as_str() {
        // The status decides, not the key: a re-fetched charge is the truth. `charge.create`
        // (a charge awaiting its payer, or an authorization awaiting capture: `pending`) and
        // `charge.capture` ("Charge has been captured": `successful`) are read the same way.
        "charge.create" | "charge.complete" | "charge.capture" | "charge.expire" => {
            EventKind::from(charge.status)
        }
        // "Dispute has been opened": the dispute as Omise holds it, of this charge.
        "dispute.create" => {
            let dispute_id = envelope.dispute_id.as_deref().unwrap_or_default();
            // A dispute event states the disputed amount (possibly part of the charge).
            if let Some(disputed) = fetch_dispute(client, dispute_id, &charge_id).await? {
                amount = disputed;
            }
            event.references.push(dispute_id.to_string());
            EventKind::Disputed
        }
        // `refund.create` (and any other `refund.*` key): the refund as Omise has it now.
        key if key.starts_with("refund.") => {
            let refund_id = envelope.refund_id.as_deref().unwrap_or_default();
            let foreign = || {
                WebhookError::Refused(format!(
                    "refund {refund_id} does not belong to charge {charge_id}"
                ))
            };
            let path = format!("/charges/{}/refunds/{}", segment(&charge_id), segment(refund_id));
            let refund = match client.json::<OmiseRefund>(&Request::get(path)).await {
                Err(ProviderError::Api { status: 404, .. }) => return Err(foreign()),
                other => other.map_err(|e| WebhookError::Upstream(e.to_string()))?,
            };
            if refund.object != "refund"
                || refund.id != refund_id
                || refund.charge.as_ref().is_some_and(|c| c.id() != charge_id)
            {
                return Err(foreign());
            }
            let refunded = refund
                .money()
                .map_err(|e| WebhookError::Upstream(e.to_string()))?;
            // Omise reports one refund per event, never a running total: the store sums
            // them per refund id. `closed` is done, `pending` not yet; a voided refund was
            // carried out as a void of the charge (money returned), not cancelled.
            event.refund = Some(RefundReport {
                id: refund.id.clone(),
                amount: Some(refunded.amount),
                state: RefundState::from_provider(&refund.status_word()),
            });
            event.references.push(refund.id.clone());
            EventKind::Refunded { amount: None }
        }
        _ => event.kind,
    };
    event.external_payment_id = Some(charge.id.clone());
    event.payment_ref = charge.payment_ref();
    event.amount = Some(amount);
    event.signature = SignatureVerdict::verified(if signed {
        "hmac-sha256+api-refetch"
    } else {
        "api-refetch"
    });
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_names_the_charge() {
        let e = parse_envelope(
            &json!({"object": "event", "id": "evnt_1", "key": "charge.complete",
            "data": {"object": "charge", "id": "chrg_test_1", "status": "successful"}}),
        )
        .unwrap();
        assert_eq!(e.charge_id.as_deref(), Some("chrg_test_1"));
        let r = parse_envelope(&json!({"object": "event", "id": "evnt_2", "key": "refund.create",
            "data": {"object": "refund", "id": "rfnd_test_1", "charge": "chrg_test_1"}}))
        .unwrap();
        assert_eq!(r.charge_id.as_deref(), Some("chrg_test_1"));
        assert_eq!(r.refund_id.as_deref(), Some("rfnd_test_1"));
        let d = parse_envelope(
            &json!({"object": "event", "id": "evnt_4", "key": "dispute.create",
            "data": {"object": "dispute", "id": "dspt_test_1", "charge": "chrg_test_1", "amount": 900}}),
        )
        .unwrap();
        assert_eq!(d.charge_id.as_deref(), Some("chrg_test_1"));
        assert_eq!(d.dispute_id.as_deref(), Some("dspt_test_1"));
        let other = parse_envelope(
            &json!({"object": "event", "id": "evnt_3", "key": "customer.create",
            "data": {"object": "customer", "id": "cust_1"}}),
        )
        .unwrap();
        assert_eq!(other.charge_id, None);
    }

    #[test]
    fn envelope_refuses_bad_shapes_and_path_tricks() {
        for body in [
            json!([]),
            json!({}),
            json!({"object": "event", "id": "evnt_1", "key": "charge.complete"}),
            json!({"object": "event", "id": "evnt_1", "key": "charge.complete", "data": {"object": "charge"}}),
            json!({"object": "event", "id": "evnt_1", "key": "charge.complete",
                "data": {"object": "charge", "id": "chrg_../../account"}}),
            json!({"object": "event", "id": "evnt_1", "key": "refund.create",
                "data": {"object": "refund", "id": "rfnd_1"}}),
            json!({"object": "event", "id": "evnt_1", "key": "dispute.create",
                "data": {"object": "dispute", "id": "dspt_1"}}),
            json!({"object": "event", "id": "evnt_1", "key": "dispute.create",
                "data": {"object": "dispute", "id": "dspt_../x", "charge": "chrg_1"}}),
            json!({"object": "charge", "id": "chrg_1"}),
        ] {
            assert!(
                matches!(parse_envelope(&body), Err(WebhookError::MalformedPayload(_))),
                "{body} was accepted"
            );
        }
    }
}
