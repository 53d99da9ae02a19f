//! Webhooks: the optional `Omise-Signature` check, then the re-fetch that every decision is
//! based on.
//!
//! Omise's own advice is not to trust a webhook body. The adapter therefore takes the charge id
//! from the body, fetches `GET /charges/{id}` and builds the event from the charge Omise
//! returns: status, amount, currency and our payment id (metadata). The body supplies only the
//! event id, its key and which charge (and refund) it names. A body that lies about the status
//! or the amount changes nothing; a charge Omise does not know is refused.
//!
//! When `OMISE_WEBHOOK_SECRET` is set the signature is verified first and a bad one is refused
//! before any call to Omise: key = base64-decode(secret), message = `"{timestamp}.{raw body}"`,
//! HMAC-SHA256 in lower-case hex, `Omise-Signature` may list several comma-separated signatures
//! (secret rotation), `Omise-Signature-Timestamp` in unix seconds within the tolerance.

use payments_core::signature::{parse_timestamp, Encoding, SignatureError, TimestampedHmac};
use payments_core::{EventKind, ProviderError, SignatureVerdict, WebhookError, WebhookEvent, WebhookRequest};
use serde_json::Value;

use crate::client::OmiseClient;
use crate::transformers::{is_omise_id, minor_units_from_omise, Expandable, OmiseCharge, OmiseRefund};
use crate::PROVIDER;

/// Header with the hex signature(s).
pub const SIGNATURE_HEADER: &str = "Omise-Signature";
/// Header with the signing time (unix seconds).
pub const TIMESTAMP_HEADER: &str = "Omise-Signature-Timestamp";

/// Omise's signing scheme with one or more keys (already base64-decoded).
#[derive(Clone)]
pub struct OmiseSignature {
    hmac: TimestampedHmac,
}

impl std::fmt::Debug for OmiseSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmiseSignature")
            .field("keys", &self.hmac.keys.len())
            .field("tolerance", &self.hmac.tolerance)
            .finish()
    }
}

impl OmiseSignature {
    pub fn new(keys: Vec<Vec<u8>>, tolerance: i64) -> Self {
        OmiseSignature {
            hmac: TimestampedHmac {
                keys,
                encoding: Encoding::Hex,
                tolerance,
            },
        }
    }

    /// From base64 secrets as shown in the dashboard (the first signs).
    pub fn from_base64_secrets(secrets: &[&str], tolerance: i64) -> Result<Self, SignatureError> {
        use base64::Engine as _;
        let keys = secrets
            .iter()
            .map(|s| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|e| SignatureError::BadSecret(format!("not base64: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(keys, tolerance))
    }

    /// The hex signature of `body` at `timestamp` with the first key.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        self.hmac.sign(b"", timestamp, body)
    }

    /// The two headers Omise sends, for `body` signed at `timestamp` with the first key.
    pub fn headers(&self, timestamp: i64, body: &[u8]) -> Result<Vec<(String, String)>, SignatureError> {
        Ok(vec![
            (SIGNATURE_HEADER.to_string(), self.sign(timestamp, body)?),
            (TIMESTAMP_HEADER.to_string(), timestamp.to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ])
    }

    /// Verifies the request's headers against its raw body at `request.received_at`.
    pub fn verify(&self, request: &WebhookRequest) -> Result<(), SignatureError> {
        let signatures = request
            .header(SIGNATURE_HEADER)
            .ok_or(SignatureError::MissingHeader(SIGNATURE_HEADER))?;
        let timestamp = request
            .header(TIMESTAMP_HEADER)
            .ok_or(SignatureError::MissingHeader(TIMESTAMP_HEADER))?;
        let timestamp = parse_timestamp(TIMESTAMP_HEADER, timestamp)?;
        let candidates: Vec<&str> = signatures
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if candidates.is_empty() {
            return Err(SignatureError::MalformedHeader {
                header: SIGNATURE_HEADER,
                reason: "no signature".into(),
            });
        }
        self.hmac
            .verify(b"", timestamp, &request.body, candidates, request.received_at)
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
}

fn malformed(reason: impl Into<String>) -> WebhookError {
    WebhookError::MalformedPayload(reason.into())
}

/// Parses `{object: "event", id, key, data}` and finds the charge it names.
pub fn parse_envelope(raw: &Value) -> Result<Envelope, WebhookError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| malformed("an Omise event is a JSON object"))?;
    if obj.get("object").and_then(Value::as_str) != Some("event") {
        return Err(malformed("not an Omise event (object is not \"event\")"));
    }
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty() && s.len() <= 128)
        .ok_or_else(|| malformed("event without an id"))?
        .to_string();
    let key = obj
        .get("key")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty() && s.len() <= 128)
        .ok_or_else(|| malformed("event without a key"))?
        .to_string();
    let data = obj
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("event without a data object"))?;
    let data_kind = data.get("object").and_then(Value::as_str).unwrap_or("");
    let expandable_id = |v: Option<&Value>| -> Option<String> {
        v.and_then(|v| serde_json::from_value::<Expandable>(v.clone()).ok())
            .map(|e| e.id().to_string())
    };
    let (charge_id, refund_id) = match data_kind {
        "charge" => (data.get("id").and_then(Value::as_str).map(str::to_string), None),
        "refund" => (
            expandable_id(data.get("charge")),
            data.get("id").and_then(Value::as_str).map(str::to_string),
        ),
        // Disputes and other objects that point at a charge.
        _ => (expandable_id(data.get("charge")), None),
    };
    if let Some(c) = &charge_id {
        if !is_omise_id(c, "chrg_") {
            return Err(malformed(format!("{c:?} is not an Omise charge id")));
        }
    }
    if let Some(r) = &refund_id {
        if !is_omise_id(r, "rfnd_") {
            return Err(malformed(format!("{r:?} is not an Omise refund id")));
        }
    }
    let needs_charge = key.starts_with("charge.") || key.starts_with("refund.");
    if needs_charge && charge_id.is_none() {
        return Err(malformed(format!("{key} event names no charge")));
    }
    if key.starts_with("refund.") && refund_id.is_none() {
        return Err(malformed(format!("{key} event names no refund")));
    }
    Ok(Envelope {
        id,
        key,
        charge_id,
        refund_id,
    })
}

fn upstream(e: ProviderError) -> WebhookError {
    WebhookError::Upstream(e.to_string())
}

/// Fetches a charge for a webhook: 404 → `UnknownPayment`, anything else that fails → `Upstream`.
async fn refetch_charge(client: &OmiseClient, charge_id: &str) -> Result<OmiseCharge, WebhookError> {
    match client.get::<OmiseCharge>(&format!("/charges/{charge_id}")).await {
        Ok(charge) if charge.object == "charge" && charge.id == charge_id => Ok(charge),
        Ok(charge) => Err(WebhookError::Upstream(format!(
            "Omise answered {} {:?} for charge {charge_id}",
            charge.object, charge.id
        ))),
        Err(ProviderError::Api { status: 404, .. }) => {
            Err(WebhookError::UnknownPayment(charge_id.to_string()))
        }
        Err(e) => Err(upstream(e)),
    }
}

/// Verifies (when a signature is configured), re-fetches and normalizes one webhook.
pub async fn parse_webhook(
    client: &OmiseClient,
    signature: Option<&OmiseSignature>,
    request: &WebhookRequest,
) -> Result<WebhookEvent, WebhookError> {
    if let Some(sig) = signature {
        sig.verify(request)?;
    }
    let raw = request.json()?;
    let envelope = parse_envelope(&raw)?;

    let Some(charge_id) = envelope.charge_id.clone() else {
        // Nothing to re-fetch: acknowledged, never acted on.
        let verdict = match signature {
            Some(_) => SignatureVerdict::verified("hmac-sha256"),
            None => SignatureVerdict::NotSigned,
        };
        return Ok(WebhookEvent {
            provider: PROVIDER.to_string(),
            event_id: envelope.id,
            raw_type: envelope.key.clone(),
            kind: EventKind::Other {
                raw_type: envelope.key,
            },
            external_payment_id: None,
            payment_ref: None,
            amount: None,
            raw,
            signature: verdict,
        });
    };

    let charge = refetch_charge(client, &charge_id).await?;
    let amount = charge
        .money()
        .map_err(|e| WebhookError::Upstream(format!("charge {charge_id}: {e}")))?;

    let kind = match envelope.key.as_str() {
        // The status decides, not the key: a re-fetched charge is the truth.
        "charge.complete" | "charge.expire" => EventKind::from(charge.status),
        "refund.create" => {
            let refund_id = envelope.refund_id.as_deref().unwrap_or_default();
            let refund = match client
                .get::<OmiseRefund>(&format!("/charges/{charge_id}/refunds/{refund_id}"))
                .await
            {
                Ok(r) => r,
                Err(ProviderError::Api { status: 404, .. }) => {
                    return Err(WebhookError::Refused(format!(
                        "Omise knows no refund {refund_id} of charge {charge_id}"
                    )))
                }
                Err(e) => return Err(upstream(e)),
            };
            let belongs = refund.object == "refund"
                && refund.id == refund_id
                && refund.charge.as_ref().is_none_or(|c| c.id() == charge_id);
            if !belongs {
                return Err(WebhookError::Refused(format!(
                    "refund {refund_id} does not belong to charge {charge_id}"
                )));
            }
            let refunded = minor_units_from_omise(refund.amount, &refund.currency)
                .map_err(|e| WebhookError::Upstream(format!("refund {refund_id}: {e}")))?;
            EventKind::Refunded {
                amount: Some(refunded),
            }
        }
        other => EventKind::Other {
            raw_type: other.to_string(),
        },
    };

    let method = if signature.is_some() {
        "hmac-sha256+api-refetch"
    } else {
        "api-refetch"
    };
    Ok(WebhookEvent {
        provider: PROVIDER.to_string(),
        event_id: envelope.id,
        raw_type: envelope.key,
        kind,
        external_payment_id: Some(charge.id.clone()),
        payment_ref: charge.payment_ref(),
        amount: Some(amount),
        raw,
        signature: SignatureVerdict::verified(method),
    })
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
            json!({"object": "charge", "id": "chrg_1"}),
        ] {
            assert!(
                matches!(parse_envelope(&body), Err(WebhookError::MalformedPayload(_))),
                "{body} was accepted"
            );
        }
    }
}
