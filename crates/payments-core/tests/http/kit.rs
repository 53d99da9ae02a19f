//! The provider HTTP kit against a real local mock server (wiremock on 127.0.0.1).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use payments_core::http::{api_error, ApiErrors, Auth, Client, Idempotency, Lookup, Request};
use payments_core::{ProviderError, RetryPolicy};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// The test provider's error JSON: `{"error": {"code", "message"}}`.
struct Errors;

impl ApiErrors for Errors {
    fn api_error(&self, status: u16, body: &[u8]) -> ProviderError {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let s = |k: &str| v["error"][k].as_str().map(str::to_string);
        api_error("acme", status, s("code"), s("message"), body)
    }
}

fn policy(timeout_ms: u64) -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        timeout: Duration::from_millis(timeout_ms),
    }
}

fn client(server: &MockServer, auth: Auth) -> Client {
    Client::new("acme", &server.uri(), auth, policy(2_000), Errors).expect("client")
}

fn err(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": code, "message": format!("{code} says no")}}))
}

/// Answers `responses` in turn, then the last one forever.
struct Sequence(Mutex<Vec<ResponseTemplate>>);

impl Respond for Sequence {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let mut list = self.0.lock().expect("lock");
        if list.len() > 1 {
            list.remove(0)
        } else {
            list[0].clone()
        }
    }
}

fn sequence(list: Vec<ResponseTemplate>) -> Sequence {
    Sequence(Mutex::new(list))
}

async fn requests(server: &MockServer, m: &str, p: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == m && r.url.path() == p)
        .collect()
}

#[tokio::test]
async fn retries_are_bounded_and_only_for_timeouts_429_and_5xx() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/down"))
        .respond_with(err(503, "down"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(sequence(vec![
            err(429, "slow_down"),
            err(502, "gateway"),
            ResponseTemplate::new(200).set_body_json(json!({"ok": true})),
        ]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bad"))
        .respond_with(err(404, "no_such_thing"))
        .mount(&server)
        .await;
    let c = client(&server, Auth::Bearer("sk_1".into()));

    let e = c.send(&Request::get("/down")).await.expect_err("503 forever");
    assert!(
        matches!(&e, ProviderError::Unavailable { provider: "acme", message } if message.contains("down says no") && message.contains("after 3 attempts")),
        "{e:?}"
    );
    assert_eq!(
        requests(&server, "GET", "/down").await.len(),
        3,
        "bounded by max_attempts"
    );

    let v: Value = c.json(&Request::get("/flaky")).await.expect("third attempt");
    assert_eq!(v["ok"], true);
    assert_eq!(requests(&server, "GET", "/flaky").await.len(), 3);

    let e = c.send(&Request::get("/bad")).await.expect_err("404");
    assert!(
        matches!(&e, ProviderError::Api { status: 404, code: Some(c), .. } if c == "no_such_thing"),
        "the adapter's error mapping: {e:?}"
    );
    assert_eq!(
        requests(&server, "GET", "/bad").await.len(),
        1,
        "4xx is never retried"
    );
    let bad = requests(&server, "GET", "/bad").await;
    assert_eq!(
        bad[0].headers.get("authorization").expect("auth").to_str().ok(),
        Some("Bearer sk_1")
    );

    // Timeouts are retried too.
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1_500)))
        .mount(&server)
        .await;
    let impatient = Client::new("acme", &server.uri(), Auth::None, policy(200), Errors).expect("client");
    let e = impatient.send(&Request::get("/slow")).await.expect_err("timeout");
    assert!(
        matches!(&e, ProviderError::Unavailable { message, .. } if message.contains("timed out")),
        "{e:?}"
    );
    assert_eq!(requests(&server, "GET", "/slow").await.len(), 3);
}

#[tokio::test]
async fn the_same_idempotency_key_is_sent_on_every_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/things"))
        .respond_with(sequence(vec![
            err(500, "oops"),
            err(503, "busy"),
            ResponseTemplate::new(200).set_body_json(json!({"id": "th_1"})),
        ]))
        .mount(&server)
        .await;
    let c = client(
        &server,
        Auth::Basic {
            username: "key".into(),
            password: String::new(),
        },
    );
    let request = Request::post("/v1/things")
        .form(vec![("metadata[ref]".into(), "pay 1".into())])
        .idempotency(Idempotency::Header("Idempotency-Key", "pay:1:checkout:0"));
    let v: Value = c.json(&request).await.expect("third attempt");
    assert_eq!(v["id"], "th_1");
    let sent = requests(&server, "POST", "/v1/things").await;
    assert_eq!(sent.len(), 3);
    for r in &sent {
        assert_eq!(
            r.headers.get("idempotency-key").expect("key").to_str().ok(),
            Some("pay:1:checkout:0")
        );
        assert_eq!(r.body, b"metadata[ref]=pay+1");
        assert_eq!(
            r.headers.get("content-type").expect("type").to_str().ok(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            r.headers.get("authorization").expect("auth").to_str().ok(),
            Some("Basic a2V5Og==")
        );
    }
}

/// A provider without an idempotency header: `POST /charges` creates (and remembers by our
/// reference), `GET /charges/search?ref=` finds.
#[derive(Clone, Default)]
struct Charges {
    created: Arc<Mutex<Vec<Value>>>,
    /// Answers lost (delayed past the client's timeout) for the next n creates.
    lose: Arc<Mutex<usize>>,
    /// Fails the next n creates with 503 *before* creating anything.
    refuse: Arc<Mutex<usize>>,
}

impl Respond for Charges {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        if request.method.as_str() == "GET" {
            let wanted = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "ref")
                .map(|(_, v)| v.to_string())
                .unwrap_or_default();
            let found: Vec<Value> = self
                .created
                .lock()
                .expect("lock")
                .iter()
                .filter(|c| c["ref"] == wanted.as_str())
                .cloned()
                .collect();
            return ResponseTemplate::new(200).set_body_json(json!({ "data": found }));
        }
        {
            let mut refuse = self.refuse.lock().expect("lock");
            if *refuse > 0 {
                *refuse -= 1;
                return err(503, "unavailable");
            }
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut created = self.created.lock().expect("lock");
        let charge =
            json!({"id": format!("ch_{}", created.len() + 1), "ref": body["ref"], "amount": body["amount"]});
        created.push(charge.clone());
        let response = ResponseTemplate::new(200).set_body_json(charge);
        let mut lose = self.lose.lock().expect("lock");
        if *lose > 0 {
            *lose -= 1;
            return response.set_delay(Duration::from_millis(1_500));
        }
        response
    }
}

/// The adapter's lookup: the charge carrying our reference, if one exists.
struct ByRef(&'static str);

#[payments_core::async_trait]
impl Lookup for ByRef {
    async fn find(&self, client: &Client) -> Result<Option<Vec<u8>>, ProviderError> {
        let found: Value = client
            .json(&Request::get(format!("/charges/search?ref={}", self.0)))
            .await?;
        Ok(found["data"]
            .as_array()
            .and_then(|list| list.first())
            .map(|c| c.to_string().into_bytes()))
    }
}

#[tokio::test]
async fn lookup_before_resend_prevents_a_second_create_after_a_lost_answer() {
    let server = MockServer::start().await;
    let charges = Charges::default();
    Mock::given(wiremock::matchers::path_regex("^/charges"))
        .respond_with(charges.clone())
        .mount(&server)
        .await;
    let c = Client::new("acme", &server.uri(), Auth::None, policy(300), Errors).expect("client");
    let lookup = ByRef("pay_1");
    let create = |r: &'static str| {
        Request::post("/charges")
            .json(&json!({"ref": r, "amount": 5_000}))
            .expect("json")
    };

    // The create took effect but its answer was lost: the retry finds it and sends nothing more.
    *charges.lose.lock().expect("lock") = 1;
    let v: Value = c
        .json(&create("pay_1").idempotency(Idempotency::LookupBeforeResend(&lookup)))
        .await
        .expect("found by our reference");
    assert_eq!(v["id"], "ch_1");
    assert_eq!(v["ref"], "pay_1");
    assert_eq!(
        requests(&server, "POST", "/charges").await.len(),
        1,
        "not re-sent"
    );
    assert_eq!(
        charges.created.lock().expect("lock").len(),
        1,
        "one charge at the provider"
    );
    assert_eq!(requests(&server, "GET", "/charges/search").await.len(), 1);

    // A 503 that created nothing: the lookup finds nothing, so the create is sent again.
    let lookup2 = ByRef("pay_2");
    *charges.refuse.lock().expect("lock") = 1;
    let v: Value = c
        .json(&create("pay_2").idempotency(Idempotency::LookupBeforeResend(&lookup2)))
        .await
        .expect("second attempt creates");
    assert_eq!(v["id"], "ch_2");
    assert_eq!(requests(&server, "POST", "/charges").await.len(), 3);
    assert_eq!(
        charges.created.lock().expect("lock").len(),
        2,
        "still one charge per payment"
    );

    // Without a strategy a POST that may have arrived is not repeated at all.
    *charges.lose.lock().expect("lock") = 1;
    let e = c.send(&create("pay_3")).await.expect_err("answer lost");
    assert!(
        matches!(&e, ProviderError::Unavailable { message, .. } if message.contains("not repeated")),
        "{e:?}"
    );
    assert_eq!(requests(&server, "POST", "/charges").await.len(), 4);

    // LookupFirst: a second call for the same operation finds the first one's charge and sends
    // nothing; a first call for a new one looks up once, then creates.
    let lookup1 = ByRef("pay_1");
    let v: Value = c
        .json(&create("pay_1").idempotency(Idempotency::LookupFirst(&lookup1)))
        .await
        .expect("found before sending");
    assert_eq!(v["id"], "ch_1");
    assert_eq!(
        requests(&server, "POST", "/charges").await.len(),
        4,
        "nothing sent"
    );
    let lookup5 = ByRef("pay_5");
    let v: Value = c
        .json(&create("pay_5").idempotency(Idempotency::LookupFirst(&lookup5)))
        .await
        .expect("created");
    assert_eq!(v["ref"], "pay_5");
    assert_eq!(requests(&server, "POST", "/charges").await.len(), 5);
    assert_eq!(requests(&server, "GET", "/charges/search").await.len(), 4);
}

/// The token endpoint: counts requests and hands out `tok-<n>` valid for `expires_in` seconds.
#[derive(Clone)]
struct Tokens {
    issued: Arc<Mutex<u32>>,
    expires_in: u64,
}

impl Respond for Tokens {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        // base64("cid:csecret")
        if auth != Some("Basic Y2lkOmNzZWNyZXQ=") || request.body != b"grant_type=client_credentials" {
            return err(401, "invalid_client");
        }
        let mut n = self.issued.lock().expect("lock");
        *n += 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": self.expires_in
        }))
    }
}

fn oauth(margin_secs: u64) -> Auth {
    Auth::OAuthClientCredentials {
        token_path: "/oauth/token".into(),
        client_id: "cid".into(),
        client_secret: "csecret".into(),
        refresh_margin: Duration::from_secs(margin_secs),
    }
}

fn bearer(r: &wiremock::Request) -> String {
    r.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_oauth_token_is_cached_and_shared_and_refreshed_after_a_401() {
    let server = MockServer::start().await;
    let tokens = Tokens {
        issued: Arc::new(Mutex::new(0)),
        expires_in: 3_600,
    };
    Mock::given(path("/oauth/token"))
        .respond_with(tokens.clone())
        .mount(&server)
        .await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let c = client(&server, oauth(300));
    assert!(!format!("{c:?}").contains("csecret"), "Debug hides the secret");
    let clone = c.clone();
    let calls = (0..6).map(|i| {
        let c = if i % 2 == 0 { c.clone() } else { clone.clone() };
        tokio::spawn(async move { c.send(&Request::get("/orders")).await })
    });
    for call in calls {
        call.await.expect("join").expect("call");
    }
    assert_eq!(
        *tokens.issued.lock().expect("lock"),
        1,
        "one token for six concurrent calls on two clones"
    );
    for r in requests(&server, "GET", "/orders").await {
        assert_eq!(bearer(&r), "Bearer tok-1");
    }

    // The provider revokes tok-1: one 401, one new token, the call repeated with it.
    server.reset().await;
    Mock::given(path("/oauth/token"))
        .respond_with(tokens.clone())
        .mount(&server)
        .await;
    Mock::given(path("/orders"))
        .respond_with(sequence(vec![
            err(401, "invalid_token"),
            ResponseTemplate::new(200).set_body_json(json!({})),
        ]))
        .mount(&server)
        .await;
    c.send(&Request::get("/orders")).await.expect("refreshed once");
    let sent: Vec<String> = requests(&server, "GET", "/orders")
        .await
        .iter()
        .map(bearer)
        .collect();
    assert_eq!(sent, ["Bearer tok-1", "Bearer tok-2"]);
    clone
        .send(&Request::get("/orders"))
        .await
        .expect("the clone uses the new token");
    assert_eq!(*tokens.issued.lock().expect("lock"), 2);

    // A second 401 in a row is the provider's answer, not another refresh.
    Mock::given(path("/always401"))
        .respond_with(err(401, "invalid_token"))
        .mount(&server)
        .await;
    let e = c.send(&Request::get("/always401")).await.expect_err("401");
    assert!(matches!(e, ProviderError::Api { status: 401, .. }), "{e:?}");
    assert_eq!(requests(&server, "GET", "/always401").await.len(), 2);
}

#[tokio::test]
async fn an_expiring_token_is_replaced_before_it_expires_and_bad_credentials_are_named() {
    let server = MockServer::start().await;
    // Valid for 0 s: every call needs a fresh one.
    let tokens = Tokens {
        issued: Arc::new(Mutex::new(0)),
        expires_in: 0,
    };
    Mock::given(path("/oauth/token"))
        .respond_with(tokens.clone())
        .mount(&server)
        .await;
    Mock::given(path("/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let c = client(&server, oauth(300));
    c.send(&Request::get("/orders")).await.expect("call");
    c.send(&Request::get("/orders")).await.expect("call");
    assert_eq!(*tokens.issued.lock().expect("lock"), 2);

    let wrong = client(
        &server,
        Auth::OAuthClientCredentials {
            token_path: "/oauth/token".into(),
            client_id: "cid".into(),
            client_secret: "wrong".into(),
            refresh_margin: Duration::from_secs(300),
        },
    );
    let e = wrong
        .send(&Request::get("/orders"))
        .await
        .expect_err("bad credentials");
    assert!(
        matches!(&e, ProviderError::Api { status: 401, code: Some(c), .. } if c == "invalid_client"),
        "{e:?}"
    );
}
