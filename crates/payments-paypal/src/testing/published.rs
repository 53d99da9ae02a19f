//! PayPal's own signature check for the published vectors (`evidence/signatures.json`): a mock
//! `POST /v1/notifications/verify-webhook-signature` that answers as PayPal would, by verifying
//! the RSA signature (PKCS#1 v1.5, SHA-256: `SHA256withRSA`) over
//! `transmission_id|transmission_time|webhook_id|crc32(webhook_event bytes)` with the public key
//! of the certificate PayPal published (PayPal-node-SDK `test/mocks/notification.js`, copied into
//! the vector's note). Nothing here trusts the adapter: a field forwarded wrongly (another webhook
//! id, the event re-serialized, a header changed) makes the check fail as it would at PayPal.
//!
//! The workspace has no RSA crate; verification needs only `s^e mod n`, done here with a small
//! Montgomery multiplication over 32-bit limbs (test code, public data, no secrets).

use base64::Engine as _;
use payments_core::mock::{Method, OAuth, ProviderMock, Reply, Request};
use serde_json::{json, Value};
use sha2::Digest as _;

use super::{webhook_event_bytes, TEST_CLIENT_ID, TEST_CLIENT_SECRET};
use crate::webhook::transmission_message_with_crc;

/// An RSA public key: modulus and exponent as little-endian 32-bit limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    n: Vec<u32>,
    e: Vec<u32>,
    /// The modulus's length in bytes.
    len: usize,
}

/// One DER element at `at`: (tag, content start, content end).
fn tlv(der: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let tag = *der.get(at)?;
    let first = *der.get(at + 1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), at + 2)
    } else {
        let n = usize::from(first & 0x7f);
        let bytes = der.get(at + 2..at + 2 + n)?;
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
            at + 2 + n,
        )
    };
    let end = start.checked_add(len)?;
    (end <= der.len()).then_some((tag, start, end))
}

/// Big-endian bytes as little-endian limbs, leading zero bytes dropped.
fn limbs(be: &[u8]) -> Vec<u32> {
    let be = &be[be.iter().take_while(|b| **b == 0).count()..];
    let mut out: Vec<u32> = be
        .rchunks(4)
        .map(|c| c.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b)))
        .collect();
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// `rsaEncryption` (1.2.840.113549.1.1.1).
const RSA_OID: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

impl RsaKey {
    /// The key of the first certificate in `pem` (`-----BEGIN CERTIFICATE-----`).
    pub fn from_certificate_pem(pem: &str) -> Option<RsaKey> {
        let begin = "-----BEGIN CERTIFICATE-----";
        let start = pem.find(begin)? + begin.len();
        let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
        // A PEM quoted inside a note may carry its line breaks as the two characters `\n`.
        let b64: String = pem[start..end]
            .replace("\\n", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        // SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { 0,
        // SEQUENCE { INTEGER n, INTEGER e } } }: the BIT STRING follows the algorithm.
        let oid = der.windows(RSA_OID.len()).position(|w| w == RSA_OID)?;
        let (tag, _, alg_end) = tlv(&der, oid.checked_sub(2)?)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, bits, _) = tlv(&der, alg_end)?;
        if tag != 0x03 || der.get(bits) != Some(&0) {
            return None;
        }
        let (tag, seq, _) = tlv(&der, bits + 1)?;
        let (tag_n, n0, n1) = tlv(&der, seq)?;
        let (tag_e, e0, e1) = tlv(&der, n1)?;
        if tag != 0x30 || tag_n != 0x02 || tag_e != 0x02 {
            return None;
        }
        let n_bytes = &der[n0..n1];
        let len = n_bytes.len() - n_bytes.iter().take_while(|b| **b == 0).count();
        let n = limbs(n_bytes);
        (n[0] & 1 == 1).then(|| RsaKey {
            n,
            e: limbs(&der[e0..e1]),
            len,
        })
    }

    /// Whether `signature` is this key's PKCS#1 v1.5 SHA-256 signature of `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.len {
            return false;
        }
        let s = limbs(signature);
        let mut padded = s.clone();
        padded.resize(self.n.len(), 0);
        if s.len() > self.n.len() || !less(&padded, &self.n) {
            return false;
        }
        let m = self.pow(&padded);
        // EM = 00 01 FF..FF 00 || DigestInfo(SHA-256) || H
        const PREFIX: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
            0x00, 0x04, 0x20,
        ];
        let digest = sha2::Sha256::digest(message);
        let t_len = PREFIX.len() + digest.len();
        if self.len < t_len + 11 {
            return false;
        }
        let mut em = vec![0u8, 1];
        em.resize(self.len - t_len - 1, 0xff);
        em.push(0);
        em.extend_from_slice(&PREFIX);
        em.extend_from_slice(&digest);
        let mut got: Vec<u8> = m.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        let extra = got.len() - self.len;
        got.drain(..extra);
        got == em
    }

    /// `base^e mod n` (`base < n`, as many limbs as `n`).
    fn pow(&self, base: &[u32]) -> Vec<u32> {
        let n = &self.n;
        let k = n.len();
        // -n^-1 mod 2^32 (Newton's iteration; n is odd).
        let mut inv: u32 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n[0].wrapping_mul(inv)));
        }
        let n0 = inv.wrapping_neg();
        // R^2 mod n, R = 2^(32k): 1 doubled 64k times modulo n.
        let mut r2 = vec![0u32; k];
        r2[0] = 1;
        for _ in 0..64 * k {
            let carry = double(&mut r2);
            if carry || !less(&r2, n) {
                sub(&mut r2, n);
            }
        }
        let mont = |a: &[u32], b: &[u32]| mont_mul(a, b, n, n0);
        let base_m = mont(base, &r2);
        let mut one = vec![0u32; k];
        one[0] = 1;
        let mut acc = mont(&one, &r2);
        for limb in self.e.iter().rev() {
            for bit in (0..32).rev() {
                acc = mont(&acc, &acc);
                if (limb >> bit) & 1 == 1 {
                    acc = mont(&acc, &base_m);
                }
            }
        }
        mont(&acc, &one)
    }
}

/// `a < b` (same length).
fn less(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b` (same length, wrapping).
fn sub(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let d = u64::from(*x).wrapping_sub(u64::from(*y)).wrapping_sub(borrow);
        *x = d as u32;
        borrow = (d >> 63) & 1;
    }
}

/// `a *= 2`; the bit shifted out.
fn double(a: &mut [u32]) -> bool {
    let mut carry = 0u32;
    for x in a.iter_mut() {
        let next = *x >> 31;
        *x = (*x << 1) | carry;
        carry = next;
    }
    carry == 1
}

/// Montgomery product `a * b / R mod n` (CIOS).
fn mont_mul(a: &[u32], b: &[u32], n: &[u32], n0: u32) -> Vec<u32> {
    let k = n.len();
    let mut t = vec![0u32; k + 2];
    for &bi in b.iter().take(k) {
        let mut c = 0u64;
        for j in 0..k {
            let x = u64::from(t[j]) + u64::from(a[j]) * u64::from(bi) + c;
            t[j] = x as u32;
            c = x >> 32;
        }
        let x = u64::from(t[k]) + c;
        t[k] = x as u32;
        t[k + 1] = (x >> 32) as u32;
        let m = t[0].wrapping_mul(n0);
        let x = u64::from(t[0]) + u64::from(m) * u64::from(n[0]);
        let mut c = x >> 32;
        for j in 1..k {
            let x = u64::from(t[j]) + u64::from(m) * u64::from(n[j]) + c;
            t[j - 1] = x as u32;
            c = x >> 32;
        }
        let x = u64::from(t[k]) + c;
        t[k - 1] = x as u32;
        t[k] = t[k + 1] + (x >> 32) as u32;
        t[k + 1] = 0;
    }
    let mut out = t[..k].to_vec();
    if t[k] != 0 || !less(&out, n) {
        sub(&mut out, n);
    }
    out
}

/// The certificate PayPal published for the vectors: the PEM in any case's note of
/// `evidence/signatures.json`.
pub fn published_key(evidence: &std::path::Path) -> Option<RsaKey> {
    let text = std::fs::read_to_string(evidence.join("signatures.json")).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    let notes = doc["cases"].as_array()?.iter().filter_map(|c| c["note"].as_str());
    notes.into_iter().find_map(RsaKey::from_certificate_pem)
}

/// PayPal's answer to a verify-webhook-signature request, checked with `key`.
fn verify(key: Option<&RsaKey>, req: &Request) -> Reply {
    let text = String::from_utf8_lossy(&req.body).into_owned();
    let Ok(posted) = serde_json::from_str::<Value>(&text) else {
        return Reply::json(
            400,
            &json!({"name": "VALIDATION_ERROR", "message": "Invalid request - see details"}),
        );
    };
    let field = |name: &str| posted[name].as_str().unwrap_or_default();
    let event = webhook_event_bytes(&text).unwrap_or_default();
    let message = transmission_message_with_crc(
        field("transmission_id"),
        field("transmission_time"),
        field("webhook_id"),
        crc32fast::hash(event.as_bytes()),
    );
    let signature = base64::engine::general_purpose::STANDARD.decode(field("transmission_sig"));
    let ok = field("auth_algo") == "SHA256withRSA"
        && key.is_some_and(|k| signature.is_ok_and(|sig| k.verify_sha256(message.as_bytes(), &sig)));
    let status = if ok { "SUCCESS" } else { "FAILURE" };
    Reply::json(200, &json!({ "verification_status": status }))
}

/// A mock PayPal that serves only the token and the verify-webhook-signature calls, verifying
/// with the published certificate's key (`None`: every delivery fails).
pub async fn start_rsa_verifier(key: Option<RsaKey>) -> ProviderMock<Option<RsaKey>> {
    let oauth = OAuth::client_credentials("/v1/oauth2/token", TEST_CLIENT_ID, TEST_CLIENT_SECRET);
    let rejected = Reply::json(401, &json!({"error": "invalid_token"}));
    ProviderMock::builder(crate::PROVIDER, key)
        .oauth(oauth, rejected)
        .route(
            Method::POST,
            "/v1/notifications/verify-webhook-signature",
            |key, req| verify(key.as_ref(), req),
        )
        .start()
        .await
}
