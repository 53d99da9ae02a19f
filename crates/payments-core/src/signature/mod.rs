//! Webhook signature schemes, each a small declarative value ([`Scheme`]): timestamped HMAC
//! with a configurable signed payload ([`Timestamped`], Stripe and Omise), body-only HMAC
//! ([`BodyHmac`], GitHub-, Razorpay- and Shopify-style), [Standard Webhooks](StandardWebhooks),
//! and "no signature: verify by re-fetch" ([`Scheme::VerifyByRefetch`]).
//!
//! Every scheme takes several secrets (rotation: any may match), compares in constant time
//! (`hmac`'s `verify_slice`) and has a public encoder (`sign`, `header_value`, `sign_headers`) so
//! tests and mock providers sign exactly as the provider does.
//!
//! Replays: timestamped schemes refuse a timestamp outside the tolerance; for schemes without a
//! timestamp (body HMAC, re-fetch) a replayed delivery is a duplicate event id, which the store
//! records once per (provider, event id). [`Scheme::event_id`] reads the id from a header when the
//! provider sends it there (GitHub's `X-GitHub-Delivery`, Standard Webhooks' `webhook-id`).

mod body;
mod standard;
mod timestamped;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use body::BodyHmac;
pub use standard::StandardWebhooks;
pub use timestamped::{Layout, StripeStyleScheme, Timestamped, TimestampedHmac};

use crate::webhook::{SignatureVerdict, WebhookRequest};

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. Each cause has its own variant so callers and the audit log can
/// tell them apart. (A tampered body and a wrong secret are indistinguishable by design: both are
/// `Mismatch`.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("malformed header {header}: {reason}")]
    MalformedHeader { header: &'static str, reason: String },
    #[error("no signature matches the payload")]
    Mismatch,
    #[error("timestamp {timestamp} is {age}s away from now, outside the {tolerance}s tolerance")]
    OutsideTolerance {
        timestamp: i64,
        age: i64,
        tolerance: i64,
    },
    #[error("no webhook secret is configured")]
    NoSecret,
    #[error("invalid webhook secret: {0}")]
    BadSecret(String),
}

impl SignatureError {
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader(_) => "missing_header",
            SignatureError::MalformedHeader { .. } => "malformed_header",
            SignatureError::Mismatch => "signature_mismatch",
            SignatureError::OutsideTolerance { .. } => "timestamp_outside_tolerance",
            SignatureError::NoSecret => "no_secret",
            SignatureError::BadSecret(_) => "bad_secret",
        }
    }
}

/// A provider's webhook scheme as one value; [`Scheme::verify`] checks a request against it.
#[derive(Debug, Clone)]
pub enum Scheme {
    Timestamped(Timestamped),
    BodyHmac(BodyHmac),
    StandardWebhooks(StandardWebhooks),
    /// The provider signs nothing (or nothing usable): the event, or the object it names, must be
    /// fetched from the provider's API and only the fetched copy trusted. `event_id_header` names
    /// the header carrying the event id, when the provider sends one.
    VerifyByRefetch {
        event_id_header: Option<&'static str>,
    },
}

/// What [`Scheme::verify`] established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// A signature matched; `timestamp` is the signed time for timestamped schemes.
    Signed { timestamp: Option<i64> },
    /// Nothing was checked: the adapter must confirm the event by fetching it from the provider.
    MustRefetch,
}

impl Scheme {
    /// Verifies `request` (its headers, exact raw body and receive time).
    pub fn verify(&self, request: &WebhookRequest) -> Result<Verified, SignatureError> {
        let timestamp = match self {
            Scheme::Timestamped(s) => Some(s.verify_request(request)?),
            Scheme::BodyHmac(s) => s.verify_request(request).map(|()| None)?,
            Scheme::StandardWebhooks(s) => Some(s.verify_request(request)?),
            Scheme::VerifyByRefetch { .. } => return Ok(Verified::MustRefetch),
        };
        Ok(Verified::Signed { timestamp })
    }

    /// How a verified event is described in [`SignatureVerdict::Verified`].
    pub fn method(&self) -> &'static str {
        match self {
            Scheme::Timestamped(_) | Scheme::BodyHmac(_) => "hmac-sha256",
            Scheme::StandardWebhooks(_) => "standard-webhooks",
            Scheme::VerifyByRefetch { .. } => "api-refetch",
        }
    }

    /// The verdict to record once [`Scheme::verify`] (and, for re-fetch, the fetch) succeeded.
    pub fn verdict(&self) -> SignatureVerdict {
        SignatureVerdict::verified(self.method())
    }

    /// The event id from the header the scheme names for it, if any (otherwise it is in the body).
    pub fn event_id(&self, request: &WebhookRequest) -> Option<String> {
        let header = match self {
            Scheme::BodyHmac(s) => s.event_id_header?,
            Scheme::StandardWebhooks(_) => StandardWebhooks::ID,
            Scheme::VerifyByRefetch { event_id_header } => (*event_id_header)?,
            Scheme::Timestamped(_) => return None,
        };
        request
            .header(header)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// HMAC-SHA256 of the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = mac(key);
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// True when `expected` is the HMAC of `parts` under `key`, compared in constant time.
pub fn verify_hmac_sha256(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    let mut mac = mac(key);
    for p in parts {
        mac.update(p);
    }
    mac.verify_slice(expected).is_ok()
}

/// Whether any candidate (already decoded) is the HMAC of `parts` under any key, each comparison
/// in constant time. `NoSecret` without keys, `Mismatch` otherwise.
pub(crate) fn match_any(
    keys: &[Vec<u8>],
    parts: &[&[u8]],
    candidates: &[Vec<u8>],
) -> Result<(), SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let matched = keys
        .iter()
        .any(|key| candidates.iter().any(|sig| verify_hmac_sha256(key, parts, sig)));
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks `timestamp` against `now` within `tolerance` seconds, in both directions: a timestamp up
/// to `tolerance` ahead of `now` passes (our clock may be behind the sender's), as does one up to
/// `tolerance` old. Stripe's libraries check only the age; refusing one further ahead is ours.
pub fn check_tolerance(timestamp: i64, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    let age = now.saturating_sub(timestamp);
    if age.unsigned_abs() > tolerance.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance {
            timestamp,
            age,
            tolerance,
        });
    }
    Ok(())
}

/// How the signatures in a header are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

impl Encoding {
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// Decodes one candidate; an undecodable candidate is simply not a match.
    pub(crate) fn decode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Hex => hex::decode(text.trim()).ok(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text.trim()).ok(),
        }
    }

    /// Decodes one candidate only when it is written exactly as [`Encoding::encode`] writes it (for
    /// hex: lower case, no spaces). Stripe's libraries compare signatures as text, so any other
    /// spelling of the right bytes is no match there either.
    pub(crate) fn decode_exact(self, text: &str) -> Option<Vec<u8>> {
        self.decode(text).filter(|bytes| self.encode(bytes) == text)
    }
}

/// How configured secrets become HMAC keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretFormat {
    /// The secret's bytes as written (Stripe's whole `whsec_...`, GitHub, Razorpay, Shopify).
    Raw,
    /// Base64-decoded (Omise).
    Base64,
    /// `whsec_<base64>` with an optional prefix, base64-decoded (Standard Webhooks).
    WhsecBase64,
}

/// The HMAC keys for `secrets` (several during a rotation; blanks are an error).
pub fn decode_secrets<S: AsRef<str>>(
    secrets: &[S],
    format: SecretFormat,
) -> Result<Vec<Vec<u8>>, SignatureError> {
    secrets
        .iter()
        .map(|s| {
            let s = s.as_ref().trim();
            if s.is_empty() {
                return Err(SignatureError::BadSecret("empty secret".into()));
            }
            let b64 = match format {
                SecretFormat::Raw => return Ok(s.as_bytes().to_vec()),
                SecretFormat::Base64 => s,
                SecretFormat::WhsecBase64 => s.strip_prefix("whsec_").unwrap_or(s),
            };
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| SignatureError::BadSecret(format!("not base64: {e}")))
        })
        .collect()
}

/// Parses a `k=v,k=v` header such as Stripe's `t=...,v1=...,v1=...,v0=...` as Stripe's official
/// libraries do (stripe-python `_get_timestamp_and_signatures`, stripe-node `parseHeader`,
/// stripe-ruby `get_timestamp_and_signatures`, stripe-go `parseSignatureHeader`). Where they
/// disagree this follows the majority, and on a two-two split stripe-python with stripe-node:
///
/// - items are split on `,` alone and nothing is trimmed: in `t=1, v1=ab` the second key is `" v1"`,
///   not `v1` (python, node, go; ruby alone also drops spaces after commas);
/// - an item without `=` is skipped, such as the empty one after a trailing comma or an unknown
///   flag (python, node, ruby; go refuses the header), except that one naming a key in `keys` is
///   malformed (all four refuse a bare `t` or `v1`);
/// - a value ends at a second `=`: `v1=ab=cd` is `ab` (python's `split("=", 2)[1]`, node's
///   `split("=")[1]`; ruby keeps `ab=cd`, go refuses the header).
pub fn parse_kv_header<'v>(
    header: &'static str,
    value: &'v str,
    keys: &[&str],
) -> Result<Vec<(&'v str, &'v str)>, SignatureError> {
    let mut pairs = Vec::new();
    for item in value.split(',') {
        let mut parts = item.split('=');
        let key = parts.next().unwrap_or_default();
        match parts.next() {
            Some(v) => pairs.push((key, v)),
            None if keys.contains(&key) => {
                return Err(SignatureError::MalformedHeader {
                    header,
                    reason: format!("{key:?} has no value (expected {key}=...)"),
                })
            }
            None => {}
        }
    }
    Ok(pairs)
}

/// Parses a unix-seconds timestamp from a header value.
pub fn parse_timestamp(header: &'static str, value: &str) -> Result<i64, SignatureError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| SignatureError::MalformedHeader {
            header,
            reason: format!("timestamp {value:?} is not an integer"),
        })
}

/// Splits a comma-separated list of secrets (rotation), dropping blanks.
pub fn split_secrets(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A header that must be present.
pub(crate) fn require<'r>(
    request: &'r WebhookRequest,
    header: &'static str,
) -> Result<&'r str, SignatureError> {
    request
        .header(header)
        .ok_or(SignatureError::MissingHeader(header))
}

/// Comma-separated non-blank candidates, or `MalformedHeader` when there are none.
pub(crate) fn candidates<'a>(header: &'static str, value: &'a str) -> Result<Vec<&'a str>, SignatureError> {
    let list: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if list.is_empty() {
        return Err(SignatureError::MalformedHeader {
            header,
            reason: "no signature".into(),
        });
    }
    Ok(list)
}

/// `[n keys]`: what a scheme's `Debug` shows instead of its secrets.
pub(crate) struct Redacted(pub usize);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} redacted]", self.0)
    }
}
