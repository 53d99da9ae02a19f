//! Timestamped HMAC-SHA256: the signed bytes are a template over the timestamp and the raw body
//! (`"{t}.{body}"` for Stripe and Omise), the time must be within a tolerance.

use super::{
    candidates, check_tolerance, decode_secrets, match_any, parse_kv_header, parse_timestamp, require,
    Encoding, Redacted, SecretFormat, SignatureError,
};
use crate::webhook::WebhookRequest;

/// Keys, encoding and tolerance of a timestamped HMAC-SHA256. The low-level `sign`/`verify` sign
/// `prefix ‖ "{t}." ‖ body`; [`Timestamped`] uses any payload template.
#[derive(Clone)]
pub struct TimestampedHmac {
    /// Keys tried in turn (several during a secret rotation); the first signs.
    pub keys: Vec<Vec<u8>>,
    pub encoding: Encoding,
    /// Seconds; checked in both directions.
    pub tolerance: i64,
}

impl std::fmt::Debug for TimestampedHmac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampedHmac")
            .field("keys", &Redacted(self.keys.len()))
            .field("encoding", &self.encoding)
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl TimestampedHmac {
    /// Signs `prefix ‖ "{t}." ‖ body` with the first key.
    pub fn sign(&self, prefix: &[u8], timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        let ts = timestamp.to_string();
        self.sign_parts(&[prefix, ts.as_bytes(), b".", body])
    }

    /// Signs the concatenation of `parts` with the first key.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Result<String, SignatureError> {
        let key = self.keys.first().ok_or(SignatureError::NoSecret)?;
        Ok(self.encoding.encode(&super::hmac_sha256(key, parts)))
    }

    /// Accepts when any candidate matches `prefix ‖ "{t}." ‖ body` under any key and the
    /// timestamp is within tolerance. The signature is checked first so that a forged request
    /// learns nothing about the clock.
    pub fn verify<'a>(
        &self,
        prefix: &[u8],
        timestamp: i64,
        body: &[u8],
        candidates: impl IntoIterator<Item = &'a str>,
        now: i64,
    ) -> Result<(), SignatureError> {
        let ts = timestamp.to_string();
        self.verify_parts(&[prefix, ts.as_bytes(), b".", body], timestamp, candidates, now)
    }

    /// [`TimestampedHmac::verify`] over any concatenation of `parts`.
    pub fn verify_parts<'a>(
        &self,
        parts: &[&[u8]],
        timestamp: i64,
        candidates: impl IntoIterator<Item = &'a str>,
        now: i64,
    ) -> Result<(), SignatureError> {
        let decoded: Vec<Vec<u8>> = candidates
            .into_iter()
            .filter_map(|c| self.encoding.decode(c))
            .collect();
        self.verify_decoded(parts, timestamp, &decoded, now)
    }

    /// [`TimestampedHmac::verify_parts`] with the candidates already decoded.
    fn verify_decoded(
        &self,
        parts: &[&[u8]],
        timestamp: i64,
        decoded: &[Vec<u8>],
        now: i64,
    ) -> Result<(), SignatureError> {
        match_any(&self.keys, parts, decoded)?;
        check_tolerance(timestamp, now, self.tolerance)
    }
}

/// Where the timestamp and the signatures are in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One header `t=<unix>,v1=<sig>,v1=<sig>,...` (Stripe): any `signature_key` entry may match.
    /// Read as Stripe's official libraries read it (see [`super::parse_kv_header`]): no spaces
    /// around keys, signatures exactly as the encoding writes them (lower-case hex), items without
    /// `=` other than the two keys skipped.
    KeyValue {
        timestamp_key: &'static str,
        signature_key: &'static str,
    },
    /// Comma-separated signatures in the signature header, the time in its own header (Omise).
    TimestampHeader(&'static str),
}

/// A declarative timestamped HMAC scheme.
#[derive(Debug, Clone)]
pub struct Timestamped {
    /// The header holding the signature(s).
    pub header: &'static str,
    pub layout: Layout,
    /// The signed bytes: `{t}` (the timestamp in decimal) and `{body}` (the raw body) in literal
    /// text, e.g. `"{t}.{body}"`.
    pub payload: &'static str,
    pub hmac: TimestampedHmac,
}

/// The Stripe-style scheme is a [`Timestamped`] built by [`Timestamped::new`].
pub type StripeStyleScheme = Timestamped;

impl Timestamped {
    /// Stripe's layout: `t=...,v1=...` in `header`, `"{t}.{body}"`, hex, the whole secret as key.
    pub const STRIPE: Layout = Layout::KeyValue {
        timestamp_key: "t",
        signature_key: "v1",
    };

    /// The Stripe-style scheme (also the dummy provider's): see [`Timestamped::STRIPE`].
    pub fn new(header: &'static str, secrets: &[String], tolerance: i64) -> Self {
        Timestamped {
            header,
            layout: Self::STRIPE,
            payload: "{t}.{body}",
            hmac: TimestampedHmac {
                keys: secrets.iter().map(|s| s.as_bytes().to_vec()).collect(),
                encoding: Encoding::Hex,
                tolerance,
            },
        }
    }

    /// Omise's layout: hex signatures in `header`, the time in `timestamp_header`, `"{t}.{body}"`,
    /// base64 secrets.
    pub fn with_timestamp_header(
        header: &'static str,
        timestamp_header: &'static str,
        secrets: &[impl AsRef<str>],
        tolerance: i64,
    ) -> Result<Self, SignatureError> {
        Ok(Timestamped {
            header,
            layout: Layout::TimestampHeader(timestamp_header),
            payload: "{t}.{body}",
            hmac: TimestampedHmac {
                keys: decode_secrets(secrets, SecretFormat::Base64)?,
                encoding: Encoding::Hex,
                tolerance,
            },
        })
    }

    fn parts<'a>(&self, ts: &'a str, body: &'a [u8]) -> Vec<&'a [u8]> {
        template_parts(self.payload, &[("{t}", ts.as_bytes()), ("{body}", body)])
    }

    /// The signature alone, for `body` at `timestamp` with the first key.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        let ts = timestamp.to_string();
        self.hmac.sign_parts(&self.parts(&ts, body))
    }

    /// The signature header's value (`t=...,v1=...` for the key-value layout).
    pub fn header_value(&self, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
        let sig = self.sign(timestamp, body)?;
        Ok(match self.layout {
            Layout::KeyValue {
                timestamp_key,
                signature_key,
            } => format!("{timestamp_key}={timestamp},{signature_key}={sig}"),
            Layout::TimestampHeader(_) => sig,
        })
    }

    /// Every header the provider sends for `body` signed at `timestamp`.
    pub fn sign_headers(&self, timestamp: i64, body: &[u8]) -> Result<Vec<(String, String)>, SignatureError> {
        let mut headers = vec![(self.header.to_string(), self.header_value(timestamp, body)?)];
        if let Layout::TimestampHeader(h) = self.layout {
            headers.push((h.to_string(), timestamp.to_string()));
        }
        Ok(headers)
    }

    /// Verifies a key-value header value against `body` at `now`; returns the signed timestamp.
    pub fn verify(&self, value: &str, body: &[u8], now: i64) -> Result<i64, SignatureError> {
        self.verify_values(value, None, body, now)
    }

    /// Verifies a request's headers against its raw body at its receive time.
    pub fn verify_request(&self, request: &WebhookRequest) -> Result<i64, SignatureError> {
        let value = require(request, self.header)?;
        let ts = match self.layout {
            Layout::TimestampHeader(h) => Some(require(request, h)?),
            Layout::KeyValue { .. } => None,
        };
        self.verify_values(value, ts, &request.body, request.received_at)
    }

    fn verify_values(
        &self,
        value: &str,
        ts: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<i64, SignatureError> {
        let malformed = |reason: &str| SignatureError::MalformedHeader {
            header: self.header,
            reason: reason.into(),
        };
        let encoding = self.hmac.encoding;
        let (t, sigs): (i64, Vec<Vec<u8>>) = match self.layout {
            Layout::KeyValue {
                timestamp_key,
                signature_key,
            } => {
                let pairs = parse_kv_header(self.header, value, &[timestamp_key, signature_key])?;
                let missing = |key: &str, what: &str| match pairs.iter().find(|(k, _)| k.trim() == key) {
                    Some((k, _)) => malformed(&format!(
                        "no {key}= {what}: the key {k:?} has spaces around it (Stripe's libraries match \
                         keys exactly)"
                    )),
                    None => malformed(&format!("no {key}= {what}")),
                };
                // Several timestamps: the first counts, as in stripe-python and stripe-ruby
                // (stripe-node and stripe-go take the last; a two-two split where python and node
                // differ, so our earlier behaviour stays; Stripe sends one). Spaces around the
                // digits, a sign and leading zeros are allowed, as by python's int(), node's
                // parseInt and ruby's Integer(); `1_700_000_000` is refused (python and ruby take
                // it, node reads 1, go refuses).
                let (_, t) = pairs
                    .iter()
                    .find(|(k, _)| *k == timestamp_key)
                    .ok_or_else(|| missing(timestamp_key, "timestamp"))?;
                let t = parse_timestamp(self.header, t)?;
                if !pairs.iter().any(|(k, _)| *k == signature_key) {
                    return Err(missing(signature_key, "signature"));
                }
                // Compared as text with the lower-case hex Stripe sends, as stripe-python, -node
                // and -ruby do (stripe-go alone decodes the hex, so accepts upper case).
                let sigs = pairs
                    .iter()
                    .filter(|(k, _)| *k == signature_key)
                    .filter_map(|(_, v)| encoding.decode_exact(v))
                    .collect();
                (t, sigs)
            }
            Layout::TimestampHeader(h) => {
                let t = parse_timestamp(h, ts.ok_or(SignatureError::MissingHeader(h))?)?;
                let sigs = candidates(self.header, value)?;
                (t, sigs.into_iter().filter_map(|s| encoding.decode(s)).collect())
            }
        };
        let ts = t.to_string();
        self.hmac.verify_decoded(&self.parts(&ts, body), t, &sigs, now)?;
        Ok(t)
    }
}

/// Splits `template` into literal text and the values of its placeholders, in order.
pub(crate) fn template_parts<'a>(template: &'a str, values: &[(&str, &'a [u8])]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        let next = values
            .iter()
            .filter_map(|(name, value)| rest.find(name).map(|at| (at, *name, *value)))
            .min_by_key(|(at, _, _)| *at);
        match next {
            Some((at, name, value)) => {
                parts.push(&rest.as_bytes()[..at]);
                parts.push(value);
                rest = &rest[at + name.len()..];
            }
            None => {
                parts.push(rest.as_bytes());
                rest = "";
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_literals_and_values() {
        let parts = template_parts(
            "{id}.{t}.{body}",
            &[("{t}", b"12"), ("{id}", b"m"), ("{body}", b"{}")],
        );
        assert_eq!(parts.concat(), b"m.12.{}");
        assert_eq!(
            template_parts("{t}:{body}", &[("{t}", b"5"), ("{body}", b"x")]).concat(),
            b"5:x"
        );
        assert_eq!(
            template_parts("{body}", &[("{t}", b"5"), ("{body}", b"{t}")]).concat(),
            b"{t}"
        );
    }
}
