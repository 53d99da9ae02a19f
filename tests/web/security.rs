//! Access control, CSRF, login.

use payments_store::Role;
use reqwest::StatusCode;

use crate::support::{location, Browser, TestServer};

#[actix_web::test]
async fn anonymous_browsers_are_sent_to_login() {
    let server = TestServer::start().await;
    let anon = Browser::new(&server);
    for path in ["/me", "/receipts/1", "/admin/audit", "/payments/thanks?payment=x"] {
        let resp = anon.get(path).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&resp), "/login", "{path}");
    }
}

#[actix_web::test]
async fn wrong_passwords_are_refused() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    let b = Browser::new(&server);
    let resp = b
        .submit("/login", &[("username", "alice"), ("password", "nope")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = b
        .submit("/login", &[("username", "nobody"), ("password", "nope")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(b.get("/me").await.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn another_users_receipt_is_not_found() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("mallory", Role::User);
    server.add_usage("alice", "j1", 3);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let mallory = Browser::login(&server, "mallory").await;
    assert_eq!(
        mallory.get(&format!("/receipts/{receipt}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let resp = mallory
        .submit(&format!("/payments/receipts/{receipt}/start"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(
        server.store().payments_for_receipt(receipt).unwrap().is_empty(),
        "no intent was created"
    );
    // Nor can she bill alice's records.
    let record = server.store().usage_for_receipt(receipt).unwrap()[0]
        .id
        .to_string();
    server.add_usage("alice", "j2", 1);
    let resp = mallory.submit("/receipts", &[("record", &record)]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn posts_without_a_valid_csrf_token_are_refused() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_usage("alice", "j1", 3);
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let forged = "0".repeat(64);
    for (path, fields) in [
        (format!("/payments/receipts/{receipt}/start"), vec![]),
        ("/receipts".to_string(), vec![("record", "1")]),
        ("/logout".to_string(), vec![]),
        (
            format!("/payments/receipts/{receipt}/start"),
            vec![("csrf_token", forged.as_str())],
        ),
    ] {
        let resp = alice.post_form(&path, &fields).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert!(server.store().payments_for_receipt(receipt).unwrap().is_empty());
    // A login form needs one too (login CSRF).
    let anon = Browser::new(&server);
    let resp = anon
        .post_form(
            "/login",
            &[("username", "alice"), ("password", crate::support::PASSWORD)],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn the_session_cookie_is_httponly_and_lax() {
    let server = TestServer::start().await;
    let resp = Browser::new(&server).get("/login").await;
    let cookie = resp
        .headers()
        .get("set-cookie")
        .expect("session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http base URL: no Secure flag");
}

#[actix_web::test]
async fn oversized_webhooks_are_refused() {
    let server = TestServer::start().await;
    let body = vec![b'x'; 300 * 1024];
    let (status, _) = server.post_webhook(&[], &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[actix_web::test]
async fn an_https_site_gets_secure_cookies() {
    let server = TestServer::start_with(
        crate::support::Db::Sqlite,
        &[("SITE_BASE_URL", "https://portal.example.org".to_string())],
    )
    .await;
    let resp = Browser::new(&server).get("/login").await;
    let cookie = resp
        .headers()
        .get("set-cookie")
        .expect("session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}
