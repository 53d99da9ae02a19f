//! A bounded, deterministic set of malformed and mutated bodies and headers: errors, never
//! panics, and nothing changed after signing is accepted.

use serde_json::Value;

use super::{catch, ensure, fail, Check, Cx, Secret};
use crate::webhook::WebhookRequest;

/// At most this many JSON leaves are mutated.
const LEAVES: usize = 16;
/// Raw JSON texts put in place of each leaf: huge, negative, out-of-range and wrong types.
const REPLACEMENTS: [&str; 9] = [
    "99999999999999999999999999999",
    "-1",
    "1e999",
    "-9223372036854775809",
    "\"x\"",
    "null",
    "[]",
    "{}",
    "true",
];
const MARK: &str = "\u{1}conformance-mutation\u{1}";

fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    if out.len() >= LEAVES {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                leaves(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                leaves(child, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// The mutated bodies, each with a label: truncations, bit flips, and every JSON leaf replaced
/// by each of [`REPLACEMENTS`].
fn mutations(body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let n = body.len();
    for cut in [0, 1, n / 4, n / 2, n.saturating_sub(1)] {
        if cut < n {
            out.push((format!("truncated to {cut} bytes"), body[..cut].to_vec()));
        }
    }
    for i in 0..16 {
        if n == 0 {
            break;
        }
        let pos = i * n / 16;
        let mut b = body.to_vec();
        b[pos] ^= 1 << (i % 8);
        out.push((format!("bit {} of byte {pos} flipped", i % 8), b));
    }
    if let Ok(doc) = serde_json::from_slice::<Value>(body) {
        let mut paths = Vec::new();
        leaves(&doc, String::new(), &mut paths);
        let quoted = Value::String(MARK.into()).to_string();
        for path in paths {
            let mut d = doc.clone();
            if let Some(slot) = d.pointer_mut(&path) {
                *slot = Value::String(MARK.into());
            }
            let text = d.to_string();
            for r in REPLACEMENTS {
                let mutated = text.replace(&quoted, r).into_bytes();
                // Putting `null` where `null` was changes nothing.
                if mutated != body {
                    out.push((format!("{path} = {r}"), mutated));
                }
            }
        }
    }
    out
}

/// Signed bodies that are not the provider's events are refused.
pub async fn malformed(cx: &Cx<'_>) -> Check {
    for body in [&b""[..], b"{not json", b"[]", b"{}", b"null", b"\xff\xfe\x00"] {
        let req = cx.signed(body);
        let result = catch(cx.f.provider().parse_webhook(&req)).await.map_err(|p| {
            fail(format!(
                "parse_webhook panicked on {:?}: {p}",
                String::from_utf8_lossy(body)
            ))
        })?;
        ensure!(
            result.is_err(),
            "the signed body {:?} was accepted as an event",
            String::from_utf8_lossy(body)
        );
    }
    Ok(())
}

/// Every mutation of a genuine body, freshly signed (so the parser sees it), never panics;
/// under the original signature it is refused.
pub async fn mutated_bodies(cx: &Cx<'_>) -> Check {
    let body = cx.sample_body().await?;
    let now = cx.f.now();
    let original = cx.f.sign(&body, now, Secret::Current);
    let provider = cx.f.provider();
    for (what, mutated) in mutations(&body) {
        let resigned = cx.signed(&mutated);
        // Accepted or refused, both are fine: only a panic is not.
        let _verdict = catch(provider.parse_webhook(&resigned))
            .await
            .map_err(|p| fail(format!("parse_webhook panicked on the body with {what}: {p}")))?;
        if let Some(h) = &original {
            let req = WebhookRequest::new(h.clone(), mutated, now);
            let result = catch(provider.parse_webhook(&req))
                .await
                .map_err(|p| fail(format!("parse_webhook panicked on the body with {what}: {p}")))?;
            ensure!(result.is_err(), "the body with {what} after signing was accepted");
        }
    }
    Ok(())
}

/// Every signing header mutated (emptied, truncated, bit-flipped, huge numbers, repeated,
/// non-ASCII, 10 kB long) never panics; an emptied signature header is refused.
pub async fn mutated_headers(cx: &Cx<'_>) -> Check {
    let body = cx.sample_body().await?;
    let now = cx.f.now();
    let Some(headers) = cx.f.sign(&body, now, Secret::Current) else {
        return Err(super::skip("the provider's webhooks carry no signature headers"));
    };
    let provider = cx.f.provider();
    for (i, (name, value)) in headers.iter().enumerate() {
        let half = value
            .char_indices()
            .nth(value.chars().count() / 2)
            .map_or(0, |(j, _)| j);
        let mut flipped = value.clone().into_bytes();
        if let Some(b) = flipped.get_mut(value.len() / 3) {
            *b ^= 0x04;
        }
        let variants = [
            String::new(),
            value[..half].to_string(),
            String::from_utf8_lossy(&flipped).into_owned(),
            "t=99999999999999999999999,v1=00".to_string(),
            "99999999999999999999999999999".to_string(),
            format!("{value},{value}"),
            ",,,=,=".to_string(),
            "\u{fc}\u{0}\u{202e}".to_string(),
            "a".repeat(10_000),
        ];
        for (j, v) in variants.into_iter().enumerate() {
            let mut h = headers.clone();
            h[i].1 = v;
            let req = WebhookRequest::new(h, body.clone(), now);
            let result = catch(provider.parse_webhook(&req)).await.map_err(|p| {
                fail(format!(
                    "parse_webhook panicked with header {name} mutated (variant {j}): {p}"
                ))
            })?;
            let is_sig =
                cx.f.signature_header()
                    .is_some_and(|s| s.eq_ignore_ascii_case(name));
            ensure!(
                !(is_sig && j == 0 && result.is_ok()),
                "an empty {name} header was accepted"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn mutations_are_bounded_and_deterministic() {
        let body = br#"{"id":"evt_1","data":{"amount":123456,"currency":"USD","list":[1,2]}}"#;
        let a = super::mutations(body);
        let b = super::mutations(body);
        assert_eq!(a, b);
        assert_eq!(a.len(), 5 + 16 + 5 * 9);
        assert!(a
            .iter()
            .any(|(_, m)| m == br#"{"data":{"amount":1e999,"currency":"USD","list":[1,2]},"id":"evt_1"}"#));
    }
}
