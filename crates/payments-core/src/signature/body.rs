//! Body-only HMAC-SHA256 (GitHub's `X-Hub-Signature-256: sha256=<hex>`, Razorpay's
//! `X-Razorpay-Signature: <hex>`, Shopify's `X-Shopify-Hmac-Sha256: <base64>`): no timestamp, so
//! replays are caught by event-id dedup in the store.

use super::{
    candidates, decode_secrets, match_any, require, Encoding, Redacted, SecretFormat, SignatureError,
};
use crate::webhook::WebhookRequest;

/// A declarative body-only HMAC scheme.
#[derive(Clone)]
pub struct BodyHmac {
    /// The header holding the signature (several comma-separated are accepted).
    pub header: &'static str,
    /// Text before the encoded signature (`"sha256="` for GitHub, `""` for Razorpay and Shopify).
    pub prefix: &'static str,
    pub encoding: Encoding,
    /// Keys tried in turn (rotation); the first signs.
    pub keys: Vec<Vec<u8>>,
    /// The header carrying the provider's event (delivery) id, if it sends one there.
    pub event_id_header: Option<&'static str>,
}

impl std::fmt::Debug for BodyHmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyHmac")
            .field("header", &self.header)
            .field("prefix", &self.prefix)
            .field("encoding", &self.encoding)
            .field("keys", &Redacted(self.keys.len()))
            .field("event_id_header", &self.event_id_header)
            .finish()
    }
}

impl BodyHmac {
    /// A scheme over `secrets` used as raw bytes (GitHub, Razorpay, Shopify).
    pub fn new(
        header: &'static str,
        prefix: &'static str,
        encoding: Encoding,
        secrets: &[impl AsRef<str>],
    ) -> Result<Self, SignatureError> {
        Ok(BodyHmac {
            header,
            prefix,
            encoding,
            keys: decode_secrets(secrets, SecretFormat::Raw)?,
            event_id_header: None,
        })
    }

    /// Names the header the provider sends the event id in.
    pub fn with_event_id_header(mut self, header: &'static str) -> Self {
        self.event_id_header = Some(header);
        self
    }

    /// The header value (`prefix` and signature) for `body` with the first key.
    pub fn sign(&self, body: &[u8]) -> Result<String, SignatureError> {
        let key = self.keys.first().ok_or(SignatureError::NoSecret)?;
        let tag = super::hmac_sha256(key, &[body]);
        Ok(format!("{}{}", self.prefix, self.encoding.encode(&tag)))
    }

    /// Verifies a header value against `body`.
    pub fn verify(&self, value: &str, body: &[u8]) -> Result<(), SignatureError> {
        let decoded = candidates(self.header, value)?
            .into_iter()
            .map(|c| {
                c.strip_prefix(self.prefix)
                    .ok_or_else(|| SignatureError::MalformedHeader {
                        header: self.header,
                        reason: format!("does not start with {:?}", self.prefix),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(|c| self.encoding.decode(c))
            .collect::<Vec<_>>();
        match_any(&self.keys, &[body], &decoded)
    }

    /// Verifies a request's signature header against its raw body.
    pub fn verify_request(&self, request: &WebhookRequest) -> Result<(), SignatureError> {
        self.verify(require(request, self.header)?, &request.body)
    }
}
