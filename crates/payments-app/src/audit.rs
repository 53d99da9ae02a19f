//! The audit log as people read it: the actions it records, and an entry's detail as lines with
//! the webhook signature's verdict as a word. (The store writes every entry in the same
//! transaction as the change it records.)

/// Every action the log records, for the audit page's filter.
pub const ACTIONS: &[&str] = &[
    "payment.intent",
    "payment.webhook",
    "payment.finalize",
    "payment.capture",
    "payment.close",
    "payment.refund",
    "payment.dispute",
    "payment.reconcile",
    "receipt.create",
    "receipt.void",
    "usage.import",
    "user.create",
    "user.login",
    "user.password",
    "user.sessions_ended",
];

/// An entry's detail JSON as `key: value` lines, and the signature verdict as a word
/// (`verified`, `refused`) instead of the emoji the entry stores.
pub fn readable_detail(detail: &str) -> (Option<&'static str>, Vec<(String, String)>) {
    let mut lines = detail_lines(detail);
    let badge = badge_of(&mut lines);
    (badge, lines)
}

/// The signature verdict of an entry as a word, and its detail without the emoji marks.
fn badge_of(detail: &mut [(String, String)]) -> Option<&'static str> {
    let mut badge = None;
    for (k, v) in detail.iter_mut() {
        if k != "signature" {
            continue;
        }
        if let Some(rest) = v.strip_prefix('\u{2705}') {
            badge = Some("verified");
            *v = rest.trim().to_string();
        } else if let Some(rest) = v.strip_prefix('\u{274c}') {
            badge = Some("refused");
            *v = rest.trim().to_string();
        }
    }
    badge
}

/// The detail JSON as `key: value` lines (strings unquoted), for reading rather than parsing.
fn detail_lines(detail: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<serde_json::Value>(detail) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect(),
        _ => vec![("detail".into(), detail.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_verdict_becomes_a_word_and_strings_lose_their_quotes() {
        let (badge, lines) =
            readable_detail(r#"{"signature":"\u2705 hmac-sha256","amount":"THB 1.00","count":3,"x":null}"#);
        assert_eq!(badge, Some("verified"));
        assert!(
            lines.contains(&("signature".into(), "hmac-sha256".into())),
            "{lines:?}"
        );
        assert!(lines.contains(&("amount".into(), "THB 1.00".into())), "{lines:?}");
        assert!(lines.contains(&("count".into(), "3".into())), "{lines:?}");
        assert!(!lines.iter().any(|(k, _)| k == "x"), "nulls are left out");
        assert_eq!(
            readable_detail("not json").1,
            [("detail".to_string(), "not json".to_string())]
        );
    }
}
