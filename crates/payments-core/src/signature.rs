//! Webhook signature helpers shared by adapters: timestamped HMAC-SHA256 (hex or base64),
//! constant-time comparison, a tolerance window, several signatures per header and several
//! secrets (rotation).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

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

/// Checks `timestamp` against `now` within `tolerance` seconds, in both directions.
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
    fn decode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Hex => hex::decode(text.trim()).ok(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text.trim()).ok(),
        }
    }
}

/// A timestamped HMAC-SHA256 scheme: the signed message is `prefix ‖ "{t}." ‖ body` where the
/// prefix is scheme-specific (empty for Stripe and Omise, `"{id}."` for Standard Webhooks).
#[derive(Debug, Clone)]
pub struct TimestampedHmac {
    /// Keys tried in turn (several during a secret rotation).
    pub keys: Vec<Vec<u8>>,
    pub encoding: Encoding,
    /// Seconds; checked in both directions.
    pub tolerance: i64,
}

impl TimestampedHmac {
    /// Signs `body` at `timestamp` with the first key.
    pub fn sign(&self, prefix: &[u8], timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        let key = self.keys.first().ok_or(SignatureError::NoSecret)?;
        let ts = timestamp.to_string();
        let tag = hmac_sha256(key, &[prefix, ts.as_bytes(), b".", body]);
        Ok(self.encoding.encode(&tag))
    }

    /// Accepts when the timestamp is within tolerance and any candidate matches under any key.
    /// The signature is checked before the timestamp so that a forged request learns nothing
    /// about the clock.
    pub fn verify<'a>(
        &self,
        prefix: &[u8],
        timestamp: i64,
        body: &[u8],
        candidates: impl IntoIterator<Item = &'a str>,
        now: i64,
    ) -> Result<(), SignatureError> {
        if self.keys.is_empty() {
            return Err(SignatureError::NoSecret);
        }
        let ts = timestamp.to_string();
        let decoded: Vec<Vec<u8>> = candidates
            .into_iter()
            .filter_map(|c| self.encoding.decode(c))
            .collect();
        let matched = self.keys.iter().any(|key| {
            decoded
                .iter()
                .any(|sig| verify_hmac_sha256(key, &[prefix, ts.as_bytes(), b".", body], sig))
        });
        if !matched {
            return Err(SignatureError::Mismatch);
        }
        check_tolerance(timestamp, now, self.tolerance)
    }
}

/// Parses a `k=v,k=v` header such as Stripe's `t=...,v1=...,v1=...,v0=...`.
pub fn parse_kv_header(header: &'static str, value: &str) -> Result<Vec<(String, String)>, SignatureError> {
    value
        .split(',')
        .map(|item| {
            item.trim()
                .split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| SignatureError::MalformedHeader {
                    header,
                    reason: format!("{item:?} is not key=value"),
                })
        })
        .collect()
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

/// The `t=...,v1=...` scheme used by Stripe (and by the dummy provider): HMAC-SHA256 hex over
/// `"{t}.{body}"` with the whole secret as the key; any `v1` may match, other schemes are
/// ignored.
#[derive(Debug, Clone)]
pub struct StripeStyleScheme {
    pub header: &'static str,
    pub hmac: TimestampedHmac,
}

impl StripeStyleScheme {
    pub fn new(header: &'static str, secrets: &[String], tolerance: i64) -> Self {
        StripeStyleScheme {
            header,
            hmac: TimestampedHmac {
                keys: secrets.iter().map(|s| s.as_bytes().to_vec()).collect(),
                encoding: Encoding::Hex,
                tolerance,
            },
        }
    }

    /// The header value for `body` signed at `timestamp` with the first secret.
    pub fn header_value(&self, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        Ok(format!(
            "t={timestamp},v1={}",
            self.hmac.sign(b"", timestamp, body)?
        ))
    }

    /// Verifies a header value against `body`; returns the signed timestamp.
    pub fn verify(&self, value: &str, body: &[u8], now: i64) -> Result<i64, SignatureError> {
        let pairs = parse_kv_header(self.header, value)?;
        let t = pairs
            .iter()
            .find(|(k, _)| k == "t")
            .ok_or_else(|| SignatureError::MalformedHeader {
                header: self.header,
                reason: "no t= timestamp".into(),
            })?;
        let t = parse_timestamp(self.header, &t.1)?;
        let v1: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == "v1")
            .map(|(_, v)| v.as_str())
            .collect();
        if v1.is_empty() {
            return Err(SignatureError::MalformedHeader {
                header: self.header,
                reason: "no v1 signature".into(),
            });
        }
        self.hmac.verify(b"", t, body, v1, now)?;
        Ok(t)
    }
}

/// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<b64> ...`),
/// with `whsec_<base64>` secrets.
#[derive(Debug, Clone)]
pub struct StandardWebhooks {
    pub hmac: TimestampedHmac,
}

impl StandardWebhooks {
    pub const ID: &'static str = "webhook-id";
    pub const TIMESTAMP: &'static str = "webhook-timestamp";
    pub const SIGNATURE: &'static str = "webhook-signature";

    /// `secrets` are `whsec_<base64>` (the prefix is optional); five minutes tolerance.
    pub fn new(secrets: &[String]) -> Result<Self, SignatureError> {
        let keys = secrets
            .iter()
            .map(|s| {
                let b64 = s.strip_prefix("whsec_").unwrap_or(s);
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| SignatureError::BadSecret(format!("not base64: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StandardWebhooks {
            hmac: TimestampedHmac {
                keys,
                encoding: Encoding::Base64,
                tolerance: 300,
            },
        })
    }

    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        let prefix = format!("{id}.");
        Ok(format!(
            "v1,{}",
            self.hmac.sign(prefix.as_bytes(), timestamp, body)?
        ))
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
        let prefix = format!("{id}.");
        self.hmac.verify(prefix.as_bytes(), t, body, candidates, now)
    }
}
