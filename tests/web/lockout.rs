//! Issue 26, item 1: a stranger cannot lock a user out. Wrong passwords slow down the pair of
//! client address and username; the per-username ceiling stops only a guess from many addresses,
//! and not a browser that proves an earlier good login. Clients are told apart by their source
//! address: the server keys on the TCP peer, and every 127.0.0.0/8 address reaches loopback.

use std::net::IpAddr;

use payments_store::Role;
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::support::{csrf_from, location, Db, TestServer, PASSWORD};

/// A browser whose connections come from `from` (a loopback address of its own).
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(server: &TestServer, from: &str) -> Client {
        let from: IpAddr = from.parse().expect("address");
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .local_address(from)
                .build()
                .expect("client"),
            base: server.base.clone(),
        }
    }

    async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        let page = self.get("/login").await.text().await.expect("login page");
        let token = csrf_from(&page);
        self.http
            .post(format!("{}/login", self.base))
            .form(&[("username", user), ("password", password), ("csrf_token", &token)])
            .send()
            .await
            .expect("POST /login")
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }
}

fn retry_after(resp: &reqwest::Response) -> u64 {
    resp.headers()
        .get("retry-after")
        .expect("429 without Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Wrong passwords from `attacker` for `user` until the first 429; the answers before it.
async fn fail_until_slowed(attacker: &Client, user: &str) -> (Vec<StatusCode>, reqwest::Response) {
    let mut before = Vec::new();
    for i in 0..20 {
        let resp = attacker.login(user, &format!("wrong-password-{i}")).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            return (before, resp);
        }
        before.push(resp.status());
    }
    panic!("20 wrong passwords for {user} from one address were never slowed: {before:?}");
}

async fn logs_in(client: &Client, user: &str) -> reqwest::Response {
    let resp = client.login(user, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{user} logs in");
    assert!(["/me", "/admin/receipts"].contains(&location(&resp).as_str()));
    resp
}

/// Behind a reverse proxy named in `TRUSTED_PROXIES`, the client is the address the proxy puts
/// in `X-Forwarded-For`: a stranger failing for carol through the proxy does not slow carol
/// through the same proxy, and a client that is not the proxy cannot choose its address by
/// writing the header itself.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_who_is_limited() {
    let server = TestServer::start_with(
        crate::support::Db::Sqlite,
        &[("TRUSTED_PROXIES", "127.0.0.7".to_string())],
    )
    .await;
    server.add_user("carol", Role::User);
    let proxy_for = |client: &str| {
        let from: IpAddr = "127.0.0.7".parse().expect("address");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", client.parse().expect("header"));
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .local_address(from)
                .default_headers(headers)
                .build()
                .expect("client"),
            base: server.base.clone(),
        }
    };
    // The stranger, through the proxy, is slowed...
    let stranger = proxy_for("198.51.100.66");
    let (before, _) = fail_until_slowed(&stranger, "carol").await;
    assert_eq!(before.len(), 4, "{before:?}");
    // ... and carol, through the same proxy, from a fresh browser, is not.
    logs_in(&proxy_for("203.0.113.10"), "carol").await;

    // Not through the proxy: the header is the client's own word, and is ignored.
    let spoofer = Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .local_address("127.0.0.8".parse::<IpAddr>().expect("address"))
            .build()
            .expect("client"),
        base: server.base.clone(),
    };
    let mut statuses = Vec::new();
    for i in 0..6 {
        let page = spoofer.get("/login").await.text().await.expect("login page");
        let resp = spoofer
            .http
            .post(format!("{}/login", spoofer.base))
            .header("x-forwarded-for", format!("192.0.2.{i}"))
            .form(&[
                ("username", "carol"),
                ("password", &format!("wrong-{i}")),
                ("csrf_token", &csrf_from(&page)),
            ])
            .send()
            .await
            .expect("POST /login");
        statuses.push(resp.status());
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "a forged X-Forwarded-For does not give a fresh address: {statuses:?}"
    );
}

crate::on_both_backends! {
    strangers_failures_do_not_lock_out: carol_and_an_admin_log_in_while_a_stranger_keeps_failing_on_sqlite, carol_and_an_admin_log_in_while_a_stranger_keeps_failing_on_postgres, "web_lockout_stranger";
    distributed_guess_meets_the_ceiling: a_guess_from_many_addresses_meets_the_username_ceiling_but_not_a_known_device_on_sqlite, a_guess_from_many_addresses_meets_the_username_ceiling_but_not_a_known_device_on_postgres, "web_lockout_distributed";
}

async fn strangers_failures_do_not_lock_out(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("carol", Role::User);
    server.add_user("root", Role::Admin);
    let attacker = Client::new(&server, "127.0.0.2");

    // The attacker's own pair is slowed: a few free tries, then 429 with a growing Retry-After.
    let (before, refused) = fail_until_slowed(&attacker, "carol").await;
    assert!(
        before.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{before:?}"
    );
    assert_eq!(
        before.len(),
        4,
        "3 free wrong passwords, and the 4th starts the delay"
    );
    let first = retry_after(&refused);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("from this address for this username"));
    // Waiting what it was told lets the pair try once more, and the next delay is longer.
    tokio::time::sleep(std::time::Duration::from_secs(first)).await;
    let resp = attacker.login("carol", "wrong-password-again").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = attacker.login("carol", "wrong-password-again").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let second = retry_after(&resp);
    assert!(second > first, "the delay doubles: {first} s, then {second} s");
    // The admin's name too.
    let (before, _) = fail_until_slowed(&attacker, "root").await;
    assert_eq!(before.len(), 4);

    // Five wrong passwords for carol from a stranger's address are audited (on the database).
    let entries = server.audit("user.login", None);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].subject, "user carol");
    assert!(
        entries[0].detail.contains("\"failures\":5"),
        "{}",
        entries[0].detail
    );
    assert!(entries[0].detail.contains("127.0.0.2"), "{}", entries[0].detail);

    // Carol logs in from her own address, and is told what happened since her last visit.
    let carol = Client::new(&server, "127.0.0.3");
    logs_in(&carol, "carol").await;
    let me = carol.get("/me").await.text().await.unwrap();
    assert!(
        me.contains("5 failed sign-in attempts for your account from other addresses"),
        "{me}"
    );
    let me = carol.get("/me").await.text().await.unwrap();
    assert!(
        !me.contains("failed sign-in attempts"),
        "the notice is shown once"
    );

    // The attacker keeps trying; carol keeps getting in, each time, from a fresh browser too.
    for round in 0..3 {
        let resp = attacker.login("carol", "still-wrong").await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "round {round}");
        logs_in(&Client::new(&server, "127.0.0.3"), "carol").await;
        logs_in(&carol, "carol").await;
    }
    // The admin logs in from elsewhere and can read the entry.
    let root = Client::new(&server, "127.0.0.4");
    logs_in(&root, "root").await;
    let audit = root.get("/admin/audit?action=user.login").await;
    assert_eq!(audit.status(), StatusCode::OK);
    let audit = audit.text().await.unwrap();
    assert!(
        audit.contains("user carol") && audit.contains("failures from other addresses"),
        "{audit}"
    );
}

async fn distributed_guess_meets_the_ceiling(db: Db) {
    let server = TestServer::start_with(db, &[]).await;
    server.add_user("carol", Role::User);
    // Carol's browser has logged in before: it holds her device proof.
    let carol = Client::new(&server, "127.0.0.3");
    let resp = logs_in(&carol, "carol").await;
    let set_cookie: Vec<&str> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with("portal_device="))
        .collect();
    assert_eq!(set_cookie.len(), 1, "{set_cookie:?}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/login", "Max-Age="] {
        assert!(
            set_cookie[0].contains(attribute),
            "{attribute} in {}",
            set_cookie[0]
        );
    }
    assert!(
        !set_cookie[0].contains("Secure"),
        "an http site's cookie is not Secure"
    );

    // One wrong password from each of many addresses: each pair stays under its own limit,
    // but the username's ceiling is met.
    let mut answers = Vec::new();
    let mut ceiling = None;
    for i in 1..=60 {
        let guesser = Client::new(&server, &format!("127.0.1.{i}"));
        let resp = guesser.login("carol", &format!("guess-{i}")).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            ceiling = Some(resp.text().await.unwrap());
            break;
        }
        answers.push(resp.status());
    }
    let ceiling = ceiling.unwrap_or_else(|| panic!("60 addresses never met the ceiling: {answers:?}"));
    assert!(ceiling.contains("Too many logins for this username"), "{ceiling}");
    assert!(
        answers.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{answers:?}"
    );
    assert!(
        answers.len() < 40,
        "the ceiling came after {} guesses",
        answers.len()
    );

    // Now a browser without the proof is refused, even with the right password...
    let fresh = Client::new(&server, "127.0.0.9");
    let resp = fresh.login("carol", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&resp) >= 1);
    // ...and carol's own browser, which proves her earlier login, gets in (again and again).
    for _ in 0..3 {
        logs_in(&carol, "carol").await;
    }
    // The proof spares the ceiling, not the password check.
    let resp = carol.login("carol", "not her password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}
