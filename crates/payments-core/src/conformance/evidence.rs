//! The provider's own evidence, read from the adapter crate's `evidence/` folder: webhook
//! payloads copied from the provider's documentation or official SDK tests, with the normalized
//! event that documentation implies; signature vectors made independently of the adapter's
//! code; and the provider's documented example request for every call the adapter makes.
//!
//! The files are data, each naming its source; `docs/writing-an-adapter.md` describes their
//! format. This module loads them; `published.rs` replays them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::Kind;

/// Everything in one adapter's `evidence/` folder.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub dir: PathBuf,
    pub events: Vec<PublishedEvent>,
    /// `None` when the folder has no `signatures.json`.
    pub signatures: Option<SignatureVectors>,
    pub requests: Vec<PublishedRequest>,
}

/// One published webhook delivery and what the provider's documentation says it means.
#[derive(Debug, Clone)]
pub struct PublishedEvent {
    /// `events/<name>.json`.
    pub file: String,
    pub source: String,
    /// The suite's event kind this evidence stands for.
    pub covers: Kind,
    /// Headers sent as published besides the signature (an event-id header).
    pub headers: Vec<(String, String)>,
    /// The body as sent: the published one with `patch` applied.
    pub body: Vec<u8>,
    /// What the adapter re-fetches while handling it, answered as published.
    pub served: Vec<Served>,
    /// The normalized event the documentation implies (see [`Expect`]).
    pub expect: Expect,
}

/// One answer the provider mock gives as published while an event is replayed.
#[derive(Debug, Clone, Deserialize)]
pub struct Served {
    #[serde(default)]
    pub source: String,
    pub method: String,
    pub path: String,
    #[serde(default = "ok")]
    pub status: u16,
    pub body: Value,
}

fn ok() -> u16 {
    200
}

/// The normalized event a published payload stands for; `None` fields are not checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `payment_succeeded`, `payment_failed`, `payment_pending`, `checkout_expired`,
    /// `capture_required`, `refunded`, `disputed` or `other`.
    pub kind: String,
    /// For `refunded`: the running total the event states (`null`: it states none).
    #[serde(default, deserialize_with = "present")]
    pub refunded_total: Option<Option<i64>>,
    pub event_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub external_payment_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub payment_ref: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub amount: Option<Option<ExpectAmount>>,
    #[serde(default, deserialize_with = "present")]
    pub refund: Option<Option<ExpectRefund>>,
}

/// Tells a key given as `null` (`Some(None)`) from a key left out (`None`).
fn present<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectAmount {
    /// ISO 4217 minor units.
    pub minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectRefund {
    pub id: String,
    /// This refund's amount, ISO 4217 minor units.
    pub amount: Option<i64>,
    /// `pending`, `succeeded`, `failed` or `canceled`.
    pub state: Option<String>,
}

/// `signatures.json`: vectors made independently of the adapter's code.
#[derive(Debug, Clone, Deserialize)]
pub struct SignatureVectors {
    pub source: String,
    #[serde(default)]
    pub scheme: String,
    pub cases: Vec<SignatureCase>,
}

/// One signature vector: a delivery as the provider (or its official SDK) signed it.
#[derive(Debug, Clone, Deserialize)]
pub struct SignatureCase {
    pub name: String,
    #[serde(default)]
    pub source: String,
    /// The webhook secret exactly as an operator configures it.
    pub secret: String,
    /// The time to verify at (unix seconds).
    pub received_at: i64,
    #[serde(deserialize_with = "header_map")]
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub valid: bool,
    /// Anything else the vector carries (PayPal: the documented verification request).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

fn header_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let map = serde_json::Map::<String, Value>::deserialize(d)?;
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(serde::de::Error::custom(format!(
                "header {k} must be a string, not {other}"
            ))),
        })
        .collect()
}

/// The provider's documented example request for one call.
#[derive(Debug, Clone, Deserialize)]
pub struct PublishedRequest {
    #[serde(skip)]
    pub file: String,
    pub source: String,
    /// `create_checkout`, `refund`, `fetch_payment`, ... (for the reader; matching is by
    /// method and path).
    pub call: String,
    pub method: String,
    /// With `{name}` for an id segment: `/charges/{id}/refunds`.
    pub path: String,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
    /// A form body as a string, a JSON body as JSON; `null` for none.
    #[serde(default)]
    pub body: Option<Value>,
    /// Fields the adapter may send that the example lacks, each with the documentation that
    /// describes it; a `*` segment stands for any key of a free-form map (`metadata[*]`).
    #[serde(default)]
    pub documented_fields: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct EventFile {
    source: String,
    covers: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    #[serde(default)]
    patch: serde_json::Map<String, Value>,
    #[serde(default, deserialize_with = "header_map")]
    headers: Vec<(String, String)>,
    body: Value,
    #[serde(default)]
    served: Vec<Served>,
    expect: Expect,
}

impl Kind {
    /// The kind whose [`label`](Kind::label) is `label`.
    pub fn from_label(label: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == label)
    }
}

/// Sets `pointer` (RFC 6901) in `doc` to `value`, creating objects on the way.
fn set_pointer(doc: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    let path = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("patch {pointer:?} is not a JSON pointer (it starts with '/')"))?;
    let mut at = doc;
    let parts: Vec<String> = path
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        at = match at {
            Value::Object(map) => {
                if last {
                    map.insert(part.clone(), value);
                    return Ok(());
                }
                map.entry(part.clone())
                    .or_insert_with(|| Value::Object(Default::default()))
            }
            Value::Array(items) => {
                let n: usize = part
                    .parse()
                    .map_err(|_| format!("patch {pointer:?}: {part:?} is not an array index"))?;
                let item = items
                    .get_mut(n)
                    .ok_or_else(|| format!("patch {pointer:?}: no item {n}"))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
            _ => return Err(format!("patch {pointer:?}: {part:?} is inside a scalar")),
        };
    }
    Err(format!("patch {pointer:?} names the whole body"))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn name_of(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

fn published_event(dir: &Path, path: &Path) -> Result<PublishedEvent, String> {
    let file = name_of(dir, path);
    let raw: EventFile = serde_json::from_value(read_json(path)?).map_err(|e| format!("{file}: {e}"))?;
    if raw.source.trim().is_empty() {
        return Err(format!("{file}: no source"));
    }
    let covers = Kind::from_label(&raw.covers).ok_or_else(|| {
        format!(
            "{file}: covers {:?} is none of {:?}",
            raw.covers,
            Kind::ALL.map(Kind::label)
        )
    })?;
    let body = match raw.body {
        Value::String(text) if raw.patch.is_empty() => text.into_bytes(),
        Value::String(_) => return Err(format!("{file}: a patch applies to JSON bodies only")),
        mut doc => {
            for (pointer, value) in raw.patch {
                set_pointer(&mut doc, &pointer, value).map_err(|e| format!("{file}: {e}"))?;
            }
            serde_json::to_vec(&doc).map_err(|e| format!("{file}: {e}"))?
        }
    };
    Ok(PublishedEvent {
        file,
        source: raw.source,
        covers,
        headers: raw.headers,
        body,
        served: raw.served,
        expect: raw.expect,
    })
}

impl Evidence {
    /// Reads `dir` (`events/*.json`, `signatures.json`, `requests/*.json`); an error names
    /// the file and what is wrong with it.
    pub fn load(dir: &Path) -> Result<Evidence, String> {
        if !dir.is_dir() {
            return Err(format!("{} is not a folder", dir.display()));
        }
        let mut evidence = Evidence {
            dir: dir.to_path_buf(),
            ..Evidence::default()
        };
        let mut problems = Vec::new();
        for path in json_files(&dir.join("events"))? {
            match published_event(dir, &path) {
                Ok(e) => evidence.events.push(e),
                Err(e) => problems.push(e),
            }
        }
        let signatures = dir.join("signatures.json");
        if signatures.exists() {
            match read_json(&signatures).and_then(|v| {
                serde_json::from_value::<SignatureVectors>(v).map_err(|e| format!("signatures.json: {e}"))
            }) {
                Ok(s) if s.source.trim().is_empty() => problems.push("signatures.json: no source".into()),
                Ok(s) => evidence.signatures = Some(s),
                Err(e) => problems.push(e),
            }
        }
        for path in json_files(&dir.join("requests"))? {
            let file = name_of(dir, &path);
            match read_json(&path).and_then(|v| {
                serde_json::from_value::<PublishedRequest>(v).map_err(|e| format!("{file}: {e}"))
            }) {
                Ok(r) if r.source.trim().is_empty() => problems.push(format!("{file}: no source")),
                Ok(mut r) => {
                    r.file = file;
                    evidence.requests.push(r);
                }
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            Ok(evidence)
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patch_sets_existing_and_new_keys() {
        let mut doc = json!({"data": {"object": {"metadata": {}}}, "list": [{"a": 1}]});
        set_pointer(&mut doc, "/data/object/metadata/payment_id", json!("pay_1")).unwrap();
        set_pointer(&mut doc, "/list/0/a", json!(2)).unwrap();
        set_pointer(&mut doc, "/new/deep", json!(true)).unwrap();
        assert_eq!(doc["data"]["object"]["metadata"]["payment_id"], "pay_1");
        assert_eq!(doc["list"][0]["a"], 2);
        assert_eq!(doc["new"]["deep"], true);
        assert!(set_pointer(&mut doc, "/list/5/a", json!(1)).is_err());
        assert!(set_pointer(&mut doc, "no-slash", json!(1)).is_err());
        assert!(set_pointer(&mut doc, "/list/0/a/b", json!(1)).is_err());
    }

    #[test]
    fn a_key_given_as_null_is_told_from_a_key_left_out() {
        let e: Expect = serde_json::from_value(json!({"kind": "refunded", "refunded_total": null})).unwrap();
        assert_eq!(e.refunded_total, Some(None));
        assert_eq!(e.payment_ref, None);
        let bad = serde_json::from_value::<Expect>(json!({"kind": "refunded", "amout": null}));
        assert!(bad.is_err(), "a misspelt key is refused");
    }
}
