//! Error pages over plain HTTP (the browser tests look at them too): the site's layout with its
//! navigation, a heading, what went wrong and a sentence saying what to do; the favicon.

use payments_store::Role;
use reqwest::StatusCode;

use crate::support::{Browser, TestServer};

#[actix_web::test]
async fn error_pages_have_the_layout_and_say_what_to_do() {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_usage("alice", "job-1", 2);

    // Logged out: an unknown address.
    let anon = Browser::new(&server);
    let resp = anon.get("/no/such/page").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = resp.text().await.unwrap();
    for says in [
        "<h1>Page not found</h1>",
        "Check the address, or log in",
        "href=\"/login\"",
        "/static/app.css",
        "name=\"viewport\"",
    ] {
        assert!(body.contains(says), "404 page lacks {says:?}: {body}");
    }

    let alice = Browser::login(&server, "alice").await;
    let cases = [
        (
            "/receipts/999999",
            StatusCode::NOT_FOUND,
            "Page not found",
            "Check the address, or go to My Usage",
        ),
        (
            "/receipts/abc",
            StatusCode::NOT_FOUND,
            "Page not found",
            "Check the address",
        ),
        (
            "/payments/thanks",
            StatusCode::BAD_REQUEST,
            "This request could not be used",
            "The payment parameter is missing.",
        ),
    ];
    for (path, status, heading, says) in cases {
        let resp = alice.get(path).await;
        assert_eq!(resp.status(), status, "{path}");
        let body = resp.text().await.unwrap();
        assert!(body.contains(&format!("<h1>{heading}</h1>")), "{path}: {body}");
        assert!(body.contains(says), "{path}: {says:?} in {body}");
        assert!(
            body.contains("href=\"/me\">My Usage</a>") && body.contains("Log out"),
            "{path}: the navigation of the logged-in user"
        );
    }

    // A form with a token that is not this session's: 403 with what to do.
    let resp = alice.post_form("/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.text().await.unwrap();
    assert!(body.contains("<h1>This form has expired</h1>"), "{body}");
    assert!(body.contains("reload the page"), "{body}");
    assert!(!body.contains("CSRF"), "no jargon for people: {body}");

    // A GET to an address that only takes POST.
    let resp = alice.get("/logout").await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert!(resp.text().await.unwrap().contains("Log out"));

    // The database refuses: 500 in the layout, without the database's words.
    server
        .store()
        .execute_sql_for_tests(
            "CREATE TRIGGER no_receipts BEFORE INSERT ON receipts BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    let me = alice.get_text("/me").await;
    let record = me
        .split("name=\"record\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let token = crate::support::csrf_from(&me);
    let resp = alice
        .post_form("/receipts", &[("record", &record), ("csrf_token", &token)])
        .await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("<h1>Something went wrong on our side</h1>"),
        "{body}"
    );
    assert!(body.contains("try again in a few minutes"), "{body}");
    let reference = body
        .split("<code id=\"reference\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("a reference for support");
    assert_eq!(
        reference, request_id,
        "the reference is the request id the log lines carry"
    );
    assert!(!body.contains("disk on fire"), "{body}");
    assert!(body.contains("Log out"), "{body}");

    // Machine endpoints keep their own answers.
    let resp = alice.get("/payments/pay_nope/status").await;
    assert!(resp.status().is_client_error());
    assert!(!resp.text().await.unwrap().contains("<header>"));

    // The favicon.
    let resp = anon.get("/favicon.ico").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/x-icon");
    let icon = resp.bytes().await.unwrap();
    assert_eq!(&icon[..4], &[0, 0, 1, 0], "an ICO file");
}
