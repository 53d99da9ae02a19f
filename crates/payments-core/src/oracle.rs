//! Recording outbound requests for the API-description oracles (`../shared/oracles`).
//!
//! Adapter tests run the adapter against a local mock server; after a test, they pass every
//! request the mock server received (the bytes that went over the wire) to
//! [`record_request`], which writes one JSON file per request in the oracle's format under
//! `$ORACLE_RECORD_DIR/<provider>/` (default: `target/oracle-requests/<provider>/` at the
//! workspace root). CI then runs `check-requests` on that folder.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// One request as the mock server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Without the leading `?`; empty when there is none.
    pub query: &'a str,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// The folder recordings for `provider` go to.
pub fn record_dir(provider: &str) -> PathBuf {
    let base = std::env::var_os("ORACLE_RECORD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/oracle-requests"));
    base.join(provider)
}

/// Writes `request` as `<dir>/<provider>/<label>-<pid>-<n>.json`.
pub fn record_request(
    provider: &str,
    label: &str,
    request: &RecordedRequest<'_>,
) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = record_dir(provider);
    std::fs::create_dir_all(&dir)?;
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let doc = serde_json::json!({
        "provider": provider,
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": headers,
        "body": String::from_utf8_lossy(request.body),
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let safe: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{safe}-{}-{n}.json", std::process::id()));
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?,
    )?;
    Ok(path)
}

/// Records every request a wiremock mock server received (exact method, path, query, headers and
/// body) for which `keep` is true; returns how many were written.
#[cfg(feature = "wiremock")]
pub fn record_wiremock(
    provider: &str,
    label: &str,
    requests: &[wiremock::Request],
    keep: impl Fn(&wiremock::Request) -> bool,
) -> std::io::Result<usize> {
    let mut written = 0;
    for r in requests.iter().filter(|r| keep(r)) {
        let headers = r
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        record_request(
            provider,
            label,
            &RecordedRequest {
                method: r.method.as_str(),
                path: r.url.path(),
                query: r.url.query().unwrap_or(""),
                headers,
                body: &r.body,
            },
        )?;
        written += 1;
    }
    Ok(written)
}
