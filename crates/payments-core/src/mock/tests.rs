//! The kit against a real client: reqwest over loopback.

use std::time::Duration;

use serde_json::{json, Value};

use super::{match_pattern, Auth, Fault, Idempotency, Method, MockRequest, OAuth, ProviderMock, Reply};

#[derive(Debug, Default)]
struct Shop {
    orders: Vec<(String, i64)>,
    tokens: Vec<String>,
}

fn create(state: &mut Shop, req: &MockRequest<'_>) -> Reply {
    let amount = req
        .form()
        .iter()
        .find(|(k, _)| k == "amount")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    let Some(amount) = amount else {
        return Reply::json(400, &json!({"error": {"code": "amount_missing"}}));
    };
    let id = format!("ord_{}", state.orders.len() + 1);
    state.orders.push((id.clone(), amount));
    Reply::json(
        201,
        &json!({"id": id, "amount": amount, "url": format!("{}/pay/{id}", req.base_uri())}),
    )
}

fn get(state: &mut Shop, req: &MockRequest<'_>) -> Reply {
    match state.orders.iter().find(|(id, _)| id == req.param("id")) {
        Some((id, amount)) => Reply::json(200, &json!({"id": id, "amount": amount})),
        None => Reply::json(404, &json!({"error": {"code": "not_found"}})),
    }
}

async fn shop(auth: Auth) -> ProviderMock<Shop> {
    ProviderMock::builder("mock-kit-test", Shop::default())
        .auth(
            auth,
            Reply::json(401, &json!({"error": {"code": "unauthorized"}})),
        )
        .fault_reply(|status| Reply::json(status, &json!({"error": {"code": "internal", "status": status}})))
        .route(Method::POST, "/v1/orders", create)
        .route(Method::GET, "/v1/orders/{id}", get)
        .page(Method::GET, "/pay/{id}", |state, req| {
            let known = state.orders.iter().any(|(id, _)| id == req.param("id"));
            Reply::text(if known { 200 } else { 404 }, "text/html", "hosted page")
        })
        .not_found(|_, req| {
            Reply::json(
                404,
                &json!({"error": {"code": "no_route", "path": req.url.path()}}),
            )
        })
        .start()
        .await
}

fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("client")
}

async fn post(mock: &ProviderMock<Shop>, auth: Option<&str>, amount: i64) -> reqwest::Result<(u16, Value)> {
    send(client(Duration::from_secs(10)), mock, auth, amount).await
}

async fn send(
    client: reqwest::Client,
    mock: &ProviderMock<Shop>,
    auth: Option<&str>,
    amount: i64,
) -> reqwest::Result<(u16, Value)> {
    let mut r = client
        .post(format!("{}/v1/orders", mock.uri()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("amount={amount}"));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let response = r.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

async fn get_order(mock: &ProviderMock<Shop>, id: &str) -> (u16, Value) {
    let response = client(Duration::from_secs(10))
        .get(format!("{}/v1/orders/{id}", mock.uri()))
        .bearer_auth("sk_1")
        .send()
        .await
        .expect("GET");
    (response.status().as_u16(), response.json().await.expect("JSON"))
}

#[test]
fn patterns_match_segments_params_and_prefixes() {
    assert_eq!(match_pattern("/v1/a", "/v1/a"), Some(vec![]));
    assert_eq!(match_pattern("/v1/a", "/v1/a/b"), None);
    assert_eq!(match_pattern("/v1/a", "/v1/b"), None);
    assert_eq!(
        match_pattern("/v1/a/{id}/refunds", "/v1/a/x_1/refunds"),
        Some(vec![("id".to_string(), "x_1".to_string())])
    );
    assert_eq!(match_pattern("/v1/a/{id}", "/v1/a/"), None);
    assert_eq!(match_pattern("/charges*", "/charges/c/refunds"), Some(vec![]));
    assert_eq!(match_pattern("/charges/*", "/charges"), None);
}

#[tokio::test]
async fn routes_share_typed_state_with_the_test() {
    let mock = shop(Auth::bearer("sk_1")).await;
    assert!(mock.uri().starts_with("http://127.0.0.1:"), "{}", mock.uri());
    let (status, body) = post(&mock, Some("Bearer sk_1"), 1_250).await.expect("POST");
    assert_eq!(status, 201);
    assert_eq!(body["id"], "ord_1");
    assert_eq!(body["url"], format!("{}/pay/ord_1", mock.uri()));
    assert_eq!(mock.state().orders, [("ord_1".to_string(), 1_250)]);

    // The test changes the state; the next answer shows it.
    mock.state().orders[0].1 = 99;
    assert_eq!(
        get_order(&mock, "ord_1").await,
        (200, json!({"id": "ord_1", "amount": 99}))
    );
    assert_eq!(get_order(&mock, "ord_9").await.0, 404);

    // A path no route knows.
    let response = client(Duration::from_secs(10))
        .delete(format!("{}/v1/orders/ord_1", mock.uri()))
        .bearer_auth("sk_1")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "no_route");
    assert_eq!(mock.count(Method::GET, "/v1/orders/ord_1").await, 1);
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_the_providers_401_and_change_nothing() {
    let cases = [
        (Auth::bearer("sk_1"), "Bearer sk_1", "Bearer sk_2"),
        (
            Auth::basic("skey_1", ""),
            "Basic c2tleV8xOg==",
            "Basic c2tleV8yOg==",
        ),
        (
            Auth::basic("client", "secret"),
            "Basic Y2xpZW50OnNlY3JldA==",
            "Bearer Y2xpZW50OnNlY3JldA==",
        ),
    ];
    for (auth, good, bad) in cases {
        let mock = shop(auth.clone()).await;
        for wrong in [Some(bad), None] {
            let (status, body) = post(&mock, wrong, 100).await.expect("POST");
            assert_eq!(
                (status, &body),
                (401, &json!({"error": {"code": "unauthorized"}})),
                "{auth:?}"
            );
        }
        // Unknown paths are behind the check too.
        let response = client(Duration::from_secs(10))
            .get(format!("{}/v1/unknown", mock.uri()))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status().as_u16(), 401);
        assert!(mock.state().orders.is_empty(), "{auth:?}");
        assert_eq!(
            post(&mock, Some(good), 100).await.expect("POST").0,
            201,
            "{auth:?}"
        );
    }

    // A header of the provider's own.
    let mock = shop(Auth::header("X-Api-Key", "k1")).await;
    let send = |key: &'static str| {
        client(Duration::from_secs(10))
            .post(format!("{}/v1/orders", mock.uri()))
            .header("x-api-key", key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("amount=5")
            .send()
    };
    assert_eq!(send("k2").await.expect("POST").status().as_u16(), 401);
    assert_eq!(send("k1").await.expect("POST").status().as_u16(), 201);
    assert_eq!(mock.state().orders.len(), 1);
}

#[tokio::test]
async fn a_check_over_the_state_accepts_tokens_the_mock_issued() {
    let mock = ProviderMock::builder("mock-kit-test", Shop::default())
        .auth_with(
            |state: &Shop, req| {
                let token = req
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                token.is_some_and(|t| state.tokens.iter().any(|k| k == t))
            },
            Reply::json(401, &json!({"error": "invalid_token"})),
        )
        .public_route(Method::POST, "/oauth/token", |state, req| {
            if !Auth::basic("id", "secret").accepts(req) {
                return Reply::json(401, &json!({"error": "invalid_client"}));
            }
            let token = format!("tok{}", state.tokens.len());
            state.tokens.push(token.clone());
            Reply::json(200, &json!({"access_token": token}))
        })
        .route(Method::POST, "/v1/orders", create)
        .start()
        .await;
    assert_eq!(post(&mock, Some("Bearer tok0"), 1).await.expect("POST").0, 401);
    let token = client(Duration::from_secs(10))
        .post(format!("{}/oauth/token", mock.uri()))
        .basic_auth("id", Some("secret"))
        .send()
        .await
        .expect("token");
    assert_eq!(token.status().as_u16(), 200);
    assert_eq!(post(&mock, Some("Bearer tok0"), 1).await.expect("POST").0, 201);
    mock.state().tokens.clear(); // revoked by the test
    assert_eq!(post(&mock, Some("Bearer tok0"), 1).await.expect("POST").0, 401);
    assert_eq!(mock.state().orders.len(), 1);
}

#[tokio::test]
async fn a_5xx_once_answers_in_the_providers_format_without_effect() {
    let mock = shop(Auth::bearer("sk_1")).await;
    mock.inject(Method::POST, "/v1/orders", Fault::Status(503), 1);
    let (status, body) = post(&mock, Some("Bearer sk_1"), 10).await.expect("POST");
    assert_eq!(
        (status, body),
        (503, json!({"error": {"code": "internal", "status": 503}}))
    );
    assert!(mock.state().orders.is_empty());
    // Once only: the next one goes through; other routes never met it.
    assert_eq!(post(&mock, Some("Bearer sk_1"), 10).await.expect("POST").0, 201);
    assert_eq!(mock.state().orders.len(), 1);

    // A fault on another route, an exact reply, and a prefix, used in order.
    mock.inject(
        Method::GET,
        "/v1/orders/{id}",
        Fault::Reply(Reply::json(429, &json!({"slow": "down"})).into()),
        1,
    );
    mock.inject(Method::GET, "/v1/*", Fault::Status(500), 2);
    assert_eq!(get_order(&mock, "ord_1").await, (429, json!({"slow": "down"})));
    assert_eq!(get_order(&mock, "ord_1").await.0, 500);
    assert_eq!(get_order(&mock, "ord_1").await.0, 500);
    assert_eq!(get_order(&mock, "ord_1").await.0, 200);

    // Unauthorized requests do not use up a fault.
    mock.inject(Method::POST, "/v1/orders", Fault::Status(500), 1);
    assert_eq!(post(&mock, Some("Bearer nope"), 10).await.expect("POST").0, 401);
    assert_eq!(post(&mock, Some("Bearer sk_1"), 10).await.expect("POST").0, 500);
}

#[tokio::test]
async fn a_served_object_answers_as_given_until_served_again() {
    let mock = shop(Auth::bearer("sk_1")).await;
    mock.serve("get", "/v1/orders/ord_9", 200, &json!({"id": "ord_9", "v": 1}));
    assert_eq!(
        get_order(&mock, "ord_9").await,
        (200, json!({"id": "ord_9", "v": 1}))
    );
    assert_eq!(get_order(&mock, "ord_9").await.1["v"], 1, "again and again");
    // The latest serve of a path wins; other paths still reach the handler.
    mock.serve("GET", "/v1/orders/ord_9", 200, &json!({"id": "ord_9", "v": 2}));
    assert_eq!(get_order(&mock, "ord_9").await.1["v"], 2);
    assert_eq!(get_order(&mock, "ord_8").await.0, 404);
    // Behind the auth check, like every fault.
    let unauthorized = client(Duration::from_secs(10))
        .get(format!("{}/v1/orders/ord_9", mock.uri()))
        .send()
        .await
        .expect("GET");
    assert_eq!(unauthorized.status().as_u16(), 401);
}

#[tokio::test]
async fn a_timeout_has_no_effect_and_a_late_answer_has_one() {
    let mock = shop(Auth::bearer("sk_1")).await;
    let quick = || client(Duration::from_millis(300));
    mock.inject(
        Method::POST,
        "/v1/orders",
        Fault::Timeout(Duration::from_secs(30)),
        1,
    );
    let err = send(quick(), &mock, Some("Bearer sk_1"), 10).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(mock.state().orders.is_empty(), "a timeout fault has no effect");

    mock.inject(
        Method::POST,
        "/v1/orders",
        Fault::LateAnswer(Duration::from_secs(30)),
        1,
    );
    let err = send(quick(), &mock, Some("Bearer sk_1"), 20).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(mock.state().orders, [("ord_1".to_string(), 20)], "took effect");
    assert_eq!(mock.count(Method::POST, "/v1/orders").await, 2);
}

#[tokio::test]
async fn a_lost_answer_changes_the_state_and_answers_with_an_error() {
    let mock = shop(Auth::bearer("sk_1")).await;
    mock.inject(Method::POST, "/v1/orders", Fault::LostAnswer, 1);
    let (status, body) = post(&mock, Some("Bearer sk_1"), 10).await.expect("POST");
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "internal");
    assert_eq!(mock.state().orders, [("ord_1".to_string(), 10)]);
    // A retry is a second request: the provider decides (here: a second order).
    assert_eq!(
        post(&mock, Some("Bearer sk_1"), 10).await.expect("POST").1["id"],
        "ord_2"
    );
}

#[tokio::test]
async fn pages_skip_auth_and_faults_and_are_not_api_requests() {
    let mock = shop(Auth::bearer("sk_1")).await;
    mock.inject_when(|_| true, Fault::Status(500), 10);
    let page = client(Duration::from_secs(10))
        .get(format!("{}/pay/ord_1", mock.uri()))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status().as_u16(), 404);
    assert_eq!(post(&mock, Some("Bearer sk_1"), 7).await.expect("POST").0, 500);
    assert_eq!(mock.received().await.len(), 2);
    let api = mock.api_requests().await;
    assert_eq!(api.len(), 1);
    assert_eq!(api[0].url.path(), "/v1/orders");
}

#[tokio::test]
async fn record_hands_every_api_request_to_the_oracle_recorder() {
    let mock = shop(Auth::bearer("sk_1")).await;
    post(&mock, Some("Bearer sk_1"), 4_200).await.expect("POST");
    client(Duration::from_secs(10))
        .get(format!("{}/pay/ord_1?x=1", mock.uri()))
        .send()
        .await
        .expect("page");
    get_order(&mock, "ord_1").await;
    let label = format!("kit-record-{}", std::process::id());
    assert_eq!(mock.record(&label).await.expect("record"), 2);

    let dir = crate::oracle::record_dir("mock-kit-test");
    let mut docs: Vec<Value> = std::fs::read_dir(&dir)
        .expect("record dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("{label}-")))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).expect("read")).expect("JSON"))
        .collect();
    docs.sort_by_key(|d| d["method"].as_str().map(str::to_string));
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["method"], "GET");
    assert_eq!(docs[0]["path"], "/v1/orders/ord_1");
    assert_eq!(docs[1]["provider"], "mock-kit-test");
    assert_eq!(docs[1]["method"], "POST");
    assert_eq!(docs[1]["path"], "/v1/orders");
    assert_eq!(docs[1]["body"], "amount=4200");
    assert_eq!(docs[1]["headers"]["authorization"], "Bearer sk_1");
}

async fn keyed(mock: &ProviderMock<Shop>, key: &str, amount: i64) -> (u16, Option<String>, Value) {
    let response = client(Duration::from_secs(10))
        .post(format!("{}/v1/orders", mock.uri()))
        .bearer_auth("sk_1")
        .header("idempotency-key", key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("amount={amount}"))
        .send()
        .await
        .expect("POST");
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap_or("").to_string());
    (
        response.status().as_u16(),
        replayed,
        response.json().await.expect("JSON"),
    )
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_even_after_a_lost_one() {
    let mock = ProviderMock::builder("mock-kit-test", Shop::default())
        .auth(Auth::bearer("sk_1"), Reply::json(401, &json!({})))
        .idempotency(
            Idempotency::header("Idempotency-Key")
                .conflict(|key| {
                    Reply::json(400, &json!({"error": {"code": "idempotency_error", "key": key}}))
                })
                .on_replay(|r| r.header("Idempotent-Replayed", "true")),
        )
        .route(Method::POST, "/v1/orders", create)
        .start()
        .await;
    let (status, replayed, first) = keyed(&mock, "k1", 10).await;
    assert_eq!((status, replayed, &first["id"]), (201, None, &json!("ord_1")));
    let (status, replayed, again) = keyed(&mock, "k1", 10).await;
    assert_eq!((status, replayed.as_deref(), &again), (201, Some("true"), &first));
    let (status, _, conflict) = keyed(&mock, "k1", 11).await;
    assert_eq!((status, &conflict["error"]["key"]), (400, &json!("k1")));
    assert_eq!(mock.state().orders.len(), 1);

    // The answer is lost, the retry with the same key gets it: still one order.
    mock.inject(Method::POST, "/v1/orders", Fault::LostAnswer, 1);
    assert_eq!(keyed(&mock, "k2", 20).await.0, 502);
    let (status, replayed, retry) = keyed(&mock, "k2", 20).await;
    assert_eq!(
        (status, replayed.as_deref(), &retry["id"]),
        (201, Some("true"), &json!("ord_2"))
    );
    assert_eq!(mock.state().orders.len(), 2);

    // An injected 5xx has no effect and is not kept: the retry creates.
    mock.inject(Method::POST, "/v1/orders", Fault::Status(500), 1);
    assert_eq!(keyed(&mock, "k3", 30).await.0, 500);
    assert_eq!(keyed(&mock, "k3", 30).await.1, None);
    assert_eq!(mock.state().orders.len(), 3);
}

#[test]
fn a_reply_becomes_the_response_it_describes() {
    let r = Reply::json(201, &json!({"a": 1}))
        .header("X-One", "1")
        .header("x-one", "2");
    assert_eq!(
        r.headers,
        [
            ("Content-Type".to_string(), "application/json".to_string()),
            ("x-one".to_string(), "2".to_string())
        ]
    );
    assert_eq!(r.json_body(), Some(json!({"a": 1})));
    assert_eq!(
        Reply::redirect("/back").headers,
        [("Location".to_string(), "/back".to_string())]
    );
}

#[test]
fn unique_ids_have_the_asked_shape_and_never_repeat() {
    let ids: Vec<String> = (0..500).map(|_| super::unique_id("chrg_test_", 16)).collect();
    for id in &ids {
        let tail = id.strip_prefix("chrg_test_").expect("prefix");
        assert_eq!(tail.len(), 16, "{id}");
        assert!(
            tail.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{id}"
        );
    }
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
}

#[tokio::test]
async fn bodies_read_as_objects_from_json_and_bracketed_forms() {
    let mock = ProviderMock::builder("mock-kit-test", Vec::<Value>::new())
        .public_route(Method::POST, "/echo", |seen: &mut Vec<Value>, req| {
            seen.push(Value::Object(req.body_object()));
            Reply::new(204)
        })
        .start()
        .await;
    let send = |content_type: &'static str, body: &'static str| {
        client(Duration::from_secs(10))
            .post(format!("{}/echo", mock.uri()))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let form = "amount=100&metadata[payment_id]=p1&line_items[0][price_data][currency]=thb&a=1&a[b]=2";
    send("application/x-www-form-urlencoded", form)
        .await
        .expect("form");
    send(
        "application/json; charset=utf-8",
        r#"{"amount": 100, "metadata": {"payment_id": "p1"}}"#,
    )
    .await
    .expect("json");
    send("application/json", "[1, 2]").await.expect("array");
    assert_eq!(
        *mock.state(),
        [
            json!({"amount": "100", "metadata": {"payment_id": "p1"},
                   "line_items": {"0": {"price_data": {"currency": "thb"}}}, "a": {"b": "2"}}),
            json!({"amount": 100, "metadata": {"payment_id": "p1"}}),
            json!({}),
        ]
    );
}

#[tokio::test]
async fn an_oauth_endpoint_issues_the_only_tokens_the_api_accepts() {
    let oauth = OAuth::client_credentials("/v1/oauth2/token", "id", "secret")
        .expires_in(600)
        .extra(json!({"scope": "payments"}));
    let mock = ProviderMock::builder("mock-kit-test", Shop::default())
        .oauth(oauth, Reply::json(401, &json!({"error": "invalid_token"})))
        .route(Method::POST, "/v1/orders", create)
        .start()
        .await;
    let token = |id: &'static str, secret: &'static str, grant: &'static str| {
        client(Duration::from_secs(10))
            .post(format!("{}/v1/oauth2/token", mock.uri()))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(grant)
            .send()
    };
    let wrong = token("id", "nope", "grant_type=client_credentials")
        .await
        .expect("token");
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(
        wrong.json::<Value>().await.expect("JSON")["error"],
        "invalid_client"
    );
    let grant = token("id", "secret", "grant_type=password").await.expect("token");
    assert_eq!(grant.status().as_u16(), 400);
    let ok: Value = token("id", "secret", "grant_type=client_credentials")
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        (&ok["token_type"], &ok["expires_in"], &ok["scope"]),
        (&json!("Bearer"), &json!(600), &json!("payments"))
    );
    let bearer = format!("Bearer {}", ok["access_token"].as_str().expect("token"));
    assert_eq!(mock.token_requests(), 3);

    assert_eq!(post(&mock, Some("Bearer made-up"), 1).await.expect("POST").0, 401);
    assert_eq!(post(&mock, Some(&bearer), 1).await.expect("POST").0, 201);
    mock.reject_all_tokens(true);
    assert_eq!(post(&mock, Some(&bearer), 1).await.expect("POST").0, 401);
    mock.reject_all_tokens(false);
    mock.revoke_tokens();
    assert_eq!(post(&mock, Some(&bearer), 1).await.expect("POST").0, 401);
    assert_eq!(mock.state().orders.len(), 1);
}
