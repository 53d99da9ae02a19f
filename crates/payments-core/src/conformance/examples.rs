//! Every request the adapter sent during the run, compared with the provider's documented
//! example of that call (`evidence/requests/*.json`): the same content type, no field the
//! documentation does not have, and every value of the same kind as the example's (JSON type;
//! integer, decimal, upper- or lower-case token), so that `usd` where the example says `USD`,
//! `"20.00"` where it says `2000`, or `currencyCode` where it says `currency_code` fails even
//! though the provider mock accepted it.

use std::collections::BTreeSet;

use serde_json::Value;

use super::evidence::PublishedRequest;
use super::fixture::Received;
use super::{ensure, fail, skip, Check, Cx};

/// What a string value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Integer,
    Decimal,
    Upper,
    Lower,
    Text,
}

fn look(s: &str) -> Look {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    if digits(unsigned) {
        return Look::Integer;
    }
    if let Some((a, b)) = unsigned.split_once('.') {
        if digits(a) && digits(b) {
            return Look::Decimal;
        }
    }
    let token = s.len() >= 2
        && s.len() <= 40
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if token && !s.bytes().any(|b| b.is_ascii_lowercase()) {
        Look::Upper
    } else if token && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Look::Lower
    } else {
        Look::Text
    }
}

/// Whether our value may stand where the example has `example`.
fn same_look(example: Look, ours: Look) -> bool {
    match example {
        Look::Text => true,
        // A decimal amount in a currency without decimals is written without a point.
        Look::Decimal => matches!(ours, Look::Decimal | Look::Integer),
        other => other == ours,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `a.b[].c` for every leaf of a JSON document (an empty object or array is a leaf).
fn flatten_json(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&path, child, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for child in items {
                flatten_json(&format!("{prefix}[]"), child, out);
            }
        }
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}

/// A form key with its array indices dropped: `line_items[0][price_data]` is
/// `line_items[][price_data]`.
fn form_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if after[..close].bytes().all(|b| b.is_ascii_digit()) && close > 0 => {
                out.push_str("[]");
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn flatten_form(text: &str, prefix: &str) -> Vec<(String, Value)> {
    url::form_urlencoded::parse(text.trim().as_bytes())
        .map(|(k, v)| (format!("{prefix}{}", form_key(&k)), Value::String(v.into_owned())))
        .collect()
}

/// Whether `pattern` (`/charges/{id}/refunds`) names `path`.
fn path_matches(pattern: &str, path: &str) -> bool {
    let want: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    want.len() == got.len()
        && want.iter().zip(&got).all(|(w, g)| {
            if w.starts_with('{') && w.ends_with('}') {
                !g.is_empty()
            } else {
                w == g
            }
        })
}

/// Whether `documented` (with `*` for any one segment or key, `**` for anything below) names
/// `path`.
fn documented(pattern: &str, path: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix(".**") {
        return path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['));
    }
    if let Some(prefix) = pattern.strip_suffix("[*]") {
        return path.starts_with(&format!("{prefix}[")) && !path[prefix.len()..].contains("][");
    }
    if let Some(prefix) = pattern.strip_suffix(".*") {
        return path
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .is_some_and(|r| !r.contains('.'));
    }
    pattern == path
}

/// The fields of a request (body, then `?name` for the query) as (path, value).
fn fields(body: Option<&Value>, query: &str, form: bool) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    match body {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) if form => out.extend(flatten_form(text, "")),
        Some(Value::String(text)) => {
            let doc: Value = serde_json::from_str(text).map_err(|e| format!("the body is not JSON: {e}"))?;
            flatten_json("", &doc, &mut out);
        }
        Some(doc) => flatten_json("", doc, &mut out),
    }
    out.extend(flatten_form(query, "?"));
    Ok(out)
}

fn mime(ct: &str) -> String {
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// What in `got` disagrees with the published examples of its call (one or more: a field is
/// compared with the first example that has it; `documented_fields` of all of them count).
fn compare(examples: &[&PublishedRequest], got: &Received) -> Vec<String> {
    let mut problems = Vec::new();
    let has_body = |e: &PublishedRequest| !matches!(e.body, None | Some(Value::Null));
    let Some(lead) = examples.iter().find(|e| has_body(e)).or(examples.first()) else {
        return problems;
    };
    let form = match lead.content_type.as_deref() {
        Some(ct) => {
            let ours = got.header("content-type").map(mime).unwrap_or_default();
            if has_body(lead) && ours != mime(ct) {
                problems.push(format!("content type {ours:?}, the example's is {:?}", mime(ct)));
            }
            mime(ct) == "application/x-www-form-urlencoded"
        }
        None => matches!(lead.body, Some(Value::String(_))),
    };
    let mut published = Vec::new();
    for example in examples {
        match fields(
            example.body.as_ref(),
            example.query.as_deref().unwrap_or(""),
            form,
        ) {
            Ok(f) => published.extend(f),
            Err(e) => return vec![format!("the example {}: {e}", example.file)],
        }
    }
    let documented_fields: Vec<&String> = examples.iter().flat_map(|e| e.documented_fields.keys()).collect();
    let text = String::from_utf8_lossy(&got.body).into_owned();
    let body = (!text.trim().is_empty() && has_body(lead)).then_some(Value::String(text));
    let ours = match fields(body.as_ref(), &got.query, form) {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    for (path, value) in &ours {
        let wild = documented_fields
            .iter()
            .any(|p| p.contains('*') && documented(p, path));
        let Some((_, example_value)) = published.iter().find(|(p, _)| p == path) else {
            if !wild && !documented_fields.iter().any(|p| documented(p, path)) {
                problems.push(format!(
                    "sends `{path}`, which is neither in the example nor in its documented_fields"
                ));
            }
            continue;
        };
        if wild {
            continue;
        }
        if json_type(example_value) != json_type(value) && !example_value.is_null() {
            problems.push(format!(
                "`{path}` is a {} ({value}), the example's is a {} ({example_value})",
                json_type(value),
                json_type(example_value)
            ));
        } else if let (Value::String(e), Value::String(o)) = (example_value, value) {
            let (le, lo) = (look(e), look(o));
            if !same_look(le, lo) {
                problems.push(format!(
                    "`{path}` is {o:?} ({lo:?}), the example has {e:?} ({le:?})"
                ));
            }
        }
    }
    problems
}

/// A path with its id-like segments (any digit) written `{id}`, to name a call once.
fn call_name(method: &str, path: &str) -> String {
    let shape: Vec<String> = path
        .split('/')
        .map(|s| {
            if s.bytes().any(|b| b.is_ascii_digit()) {
                "{id}".to_string()
            } else {
                s.to_string()
            }
        })
        .collect();
    format!("{method} {}", shape.join("/"))
}

/// Every request the mock received so far has a published example and agrees with it.
pub async fn requests(cx: &Cx<'_>) -> Check {
    let evidence = cx.evidence()?;
    let received =
        cx.f.received()
            .await
            .ok_or_else(|| skip("the adapter talks to no provider"))?;
    ensure!(
        !evidence.requests.is_empty() || received.is_empty(),
        "{}/requests holds no published example request, and the adapter made {} requests",
        evidence.dir.display(),
        received.len()
    );
    let mut problems = BTreeSet::new();
    for got in &received {
        let examples: Vec<&PublishedRequest> = evidence
            .requests
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(&got.method) && path_matches(&r.path, &got.path))
            .collect();
        if examples.is_empty() {
            problems.insert(format!(
                "{}: no published example request for this call",
                call_name(&got.method, &got.path)
            ));
            continue;
        }
        let files: Vec<&str> = examples.iter().map(|e| e.file.as_str()).collect();
        for p in compare(&examples, got) {
            problems.insert(format!("{} ({}): {p}", files.join(" + "), examples[0].call));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(problems.into_iter().take(20).collect::<Vec<_>>().join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example(body: Value, content_type: &str) -> PublishedRequest {
        PublishedRequest {
            file: "requests/x.json".into(),
            source: "docs".into(),
            call: "create_checkout".into(),
            method: "POST".into(),
            path: "/v2/checkout/orders".into(),
            content_type: Some(content_type.into()),
            query: None,
            body: Some(body),
            documented_fields: serde_json::Map::new(),
        }
    }

    fn sent(body: &str, content_type: &str) -> Received {
        Received {
            method: "POST".into(),
            path: "/v2/checkout/orders".into(),
            query: String::new(),
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn values_are_told_apart_by_their_look() {
        assert_eq!(look("2000"), Look::Integer);
        assert_eq!(look("20.00"), Look::Decimal);
        assert_eq!(look("USD"), Look::Upper);
        assert_eq!(look("CAPTURE"), Look::Upper);
        assert_eq!(look("usd"), Look::Lower);
        assert_eq!(look("Usd"), Look::Text);
        assert_eq!(look("https://example.com/x"), Look::Text);
        assert!(same_look(Look::Decimal, Look::Integer));
        assert!(!same_look(Look::Integer, Look::Decimal));
        assert!(!same_look(Look::Upper, Look::Lower));
        assert!(same_look(Look::Text, Look::Upper));
    }

    #[test]
    fn a_lower_case_currency_where_the_example_has_upper_case_is_named() {
        let ex = example(
            json!({"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "USD", "value": "100.00"}}]}),
            "application/json",
        );
        let good =
            r#"{"intent":"CAPTURE","purchase_units":[{"amount":{"currency_code":"JPY","value":"1234"}}]}"#;
        assert!(compare(&[&ex], &sent(good, "application/json")).is_empty());
        let bad =
            r#"{"intent":"CAPTURE","purchase_units":[{"amount":{"currency_code":"jpy","value":1234}}]}"#;
        let problems = compare(&[&ex], &sent(bad, "application/json"));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("currency_code"), "{problems:?}");
        assert!(problems[1].contains("is a number"), "{problems:?}");
    }

    #[test]
    fn a_field_the_example_lacks_needs_its_documentation() {
        let mut ex = example(
            json!("line_items[0][price]=price_1&mode=payment&metadata[order_id]=6735"),
            "application/x-www-form-urlencoded",
        );
        let body = "line_items[0][price_data][currency]=thb&mode=payment&metadata[payment_id]=pay_1";
        let problems = compare(&[&ex], &sent(body, "application/x-www-form-urlencoded"));
        assert_eq!(problems.len(), 2, "{problems:?}");
        ex.documented_fields.insert(
            "line_items[][price_data][currency]".into(),
            json!("API reference"),
        );
        ex.documented_fields
            .insert("metadata[*]".into(), json!("API reference"));
        assert!(compare(&[&ex], &sent(body, "application/x-www-form-urlencoded")).is_empty());
        let json_sent = compare(&[&ex], &sent("{\"mode\":\"payment\"}", "application/json"));
        assert!(json_sent[0].contains("content type"), "{json_sent:?}");
    }

    #[test]
    fn paths_and_documented_patterns_match_as_written() {
        assert!(path_matches("/charges/{id}/refunds", "/charges/chrg_1/refunds"));
        assert!(!path_matches("/charges/{id}/refunds", "/charges/chrg_1"));
        assert!(documented("metadata[*]", "metadata[payment_id]"));
        assert!(!documented("metadata[*]", "metadata[a][b]"));
        assert!(documented("metadata.*", "metadata.payment_id"));
        assert!(!documented("metadata.*", "metadata.a.b"));
        assert!(documented(
            "webhook_event.**",
            "webhook_event.resource.re|ated_ids.order_id"
        ));
        assert!(documented("webhook_event.**", "webhook_event.links[].href"));
        assert!(!documented("webhook_event.**", "webhook_events.id"));
        assert_eq!(
            form_key("line_items[0][price_data][x]"),
            "line_items[][price_data][x]"
        );
        assert_eq!(
            call_name("GET", "/charges/chrg_1/refunds"),
            "GET /charges/{id}/refunds"
        );
    }
}
