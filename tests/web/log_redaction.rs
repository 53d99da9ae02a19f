//! Secret query values never reach a log file (issue 26): the real binary, its LOG_DIR in a
//! temporary folder, requests carrying passwords, tokens and the real metrics token in their
//! query strings, paths and request ids; then every file it wrote there is read.

use std::process::Command;

use reqwest::StatusCode;

use crate::startup::serve_until_open;

const METRICS_TOKEN: &str = "mtok7Hq2Zr9Lw4Xc8Vb1Nm6Pk3Js5Df0";

#[tokio::test]
async fn secret_query_values_and_the_metrics_token_never_reach_a_log_file() {
    let logs = tempfile::tempdir().expect("log dir");
    let log_dir = logs.path().display().to_string();
    let (lines, mut child, _dir) = serve_until_open(&[
        ("BIND_ADDR", "127.0.0.1:0"),
        ("LOG_DIR", &log_dir),
        ("METRICS_TOKEN", METRICS_TOKEN),
    ]);
    let base = crate::startup::base_from_open_line(&lines);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let secrets = [
        "pw-value-1",
        "tok-value-2",
        "key-value-3",
        "acc-value-4",
        "sig-value-5",
        "code-value-6",
        "sess-value-7",
        "secret-value-8",
    ];
    let token_escaped: String = METRICS_TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
    let targets = [
        "/me?password=pw-value-1&token=tok-value-2".to_string(),
        "/login?x_api_key=key-value-3&accessToken=acc-value-4&Signature=sig-value-5&page=visible-page".into(),
        "/login?code=code-value-6&SESSION=sess-value-7&client_secret=secret-value-8&q=visible-q".into(),
        format!("/metrics?token={METRICS_TOKEN}"),
        format!("/admin/audit?actor={METRICS_TOKEN}"),
        format!("/login?shown=1&t={token_escaped}"),
        format!("/nowhere/{METRICS_TOKEN}/page"),
    ];
    for target in &targets {
        let resp = client.get(format!("{base}{target}")).send().await.expect("GET");
        assert!(resp.status().as_u16() < 500, "{target}: {}", resp.status());
    }
    // The token where it belongs (and in the query again): answered, and still not logged.
    let resp = client
        .get(format!("{base}/metrics?token={METRICS_TOKEN}&via=header"))
        .bearer_auth(METRICS_TOKEN)
        .header("X-Request-Id", METRICS_TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        !request_id.is_empty() && request_id != METRICS_TOKEN,
        "a request id holding the token is replaced: {request_id}"
    );
    // SIGTERM, so the log is flushed before it is read.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();

    let mut all = String::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(logs.path()).expect("read LOG_DIR") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).expect("read log")));
            files.push(path);
        }
    }
    assert!(!files.is_empty(), "the server wrote no file in its LOG_DIR");
    println!("{} log file(s), {} bytes", files.len(), all.len());
    for secret in secrets.iter().chain([&METRICS_TOKEN, &token_escaped.as_str()]) {
        assert!(!all.contains(secret), "{secret} in the log:\n{all}");
    }
    // The requests are still logged, with their names and REDACTED values.
    for line in [
        "\"GET /me?password=REDACTED&token=REDACTED\" 303",
        "\"GET /login?x_api_key=REDACTED&accessToken=REDACTED&Signature=REDACTED&page=visible-page\" 200",
        "\"GET /login?code=REDACTED&SESSION=REDACTED&client_secret=REDACTED&q=visible-q\" 200",
        "\"GET /metrics?token=REDACTED\" 404",
        "\"GET /admin/audit?actor=REDACTED\" 303",
        "\"GET /login?shown=1&t=REDACTED\" 200",
        "\"GET /nowhere/REDACTED/page\" 404",
        "\"GET /metrics?token=REDACTED&via=header\" 200",
    ] {
        assert!(all.contains(line), "no {line} in:\n{all}");
    }
}
