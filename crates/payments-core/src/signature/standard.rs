//! [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64> ...`, signed payload `"{id}.{t}.{body}"`, `whsec_<base64>`
//! secrets.

use super::timestamped::template_parts;
use super::{
    decode_secrets, parse_timestamp, require, Encoding, SecretFormat, SignatureError, TimestampedHmac,
};
use crate::webhook::WebhookRequest;

#[derive(Debug, Clone)]
pub struct StandardWebhooks {
    pub hmac: TimestampedHmac,
}

impl StandardWebhooks {
    pub const ID: &'static str = "webhook-id";
    pub const TIMESTAMP: &'static str = "webhook-timestamp";
    pub const SIGNATURE: &'static str = "webhook-signature";
    const PAYLOAD: &'static str = "{id}.{t}.{body}";

    /// `secrets` are `whsec_<base64>` (the prefix is optional); five minutes tolerance.
    pub fn new(secrets: &[String]) -> Result<Self, SignatureError> {
        Ok(StandardWebhooks {
            hmac: TimestampedHmac {
                keys: decode_secrets(secrets, SecretFormat::WhsecBase64)?,
                encoding: Encoding::Base64,
                tolerance: 300,
            },
        })
    }

    /// The `webhook-signature` value (`v1,<base64>`) with the first secret.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        let ts = timestamp.to_string();
        let parts = template_parts(
            Self::PAYLOAD,
            &[("{id}", id.as_bytes()), ("{t}", ts.as_bytes()), ("{body}", body)],
        );
        Ok(format!("v1,{}", self.hmac.sign_parts(&parts)?))
    }

    /// The three headers for `body`.
    pub fn sign_headers(
        &self,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<Vec<(String, String)>, SignatureError> {
        Ok(vec![
            (Self::ID.to_string(), id.to_string()),
            (Self::TIMESTAMP.to_string(), timestamp.to_string()),
            (Self::SIGNATURE.to_string(), self.sign(id, timestamp, body)?),
        ])
    }

    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let t = parse_timestamp(Self::TIMESTAMP, timestamp)?;
        let candidates: Vec<&str> = signature
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .map(|(_, sig)| sig)
            .collect();
        if candidates.is_empty() {
            return Err(SignatureError::MalformedHeader {
                header: Self::SIGNATURE,
                reason: "no v1,<signature> entry".into(),
            });
        }
        let ts = t.to_string();
        let parts = template_parts(
            Self::PAYLOAD,
            &[("{id}", id.as_bytes()), ("{t}", ts.as_bytes()), ("{body}", body)],
        );
        self.hmac.verify_parts(&parts, t, candidates, now)
    }

    /// Verifies the three headers against the raw body; returns the signed timestamp.
    pub fn verify_request(&self, request: &WebhookRequest) -> Result<i64, SignatureError> {
        let id = require(request, Self::ID)?;
        let t = require(request, Self::TIMESTAMP)?;
        let sig = require(request, Self::SIGNATURE)?;
        self.verify(id, t, sig, &request.body, request.received_at)?;
        parse_timestamp(Self::TIMESTAMP, t)
    }
}
