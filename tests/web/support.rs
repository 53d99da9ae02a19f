//! A real server on a loopback port with a fresh database, and a browser-like client.

use std::collections::HashMap;
use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use payments_app::accounts::hash_password;
use payments_core::Money;
use payments_store::testing::TempPostgres;
use payments_store::{AuditQuery, AuditRow, ReceiptStatus, Role, Store};
use payments_web::config::Config;
use payments_web::startup;
use payments_web::state::AppState;
use reqwest::redirect::Policy;
use reqwest::StatusCode;

pub const WEBHOOK_SECRET: &str = "test-webhook-secret";
pub const PASSWORD: &str = "correct horse battery";

/// Which database a test server uses.
pub enum Db {
    Sqlite,
    Postgres(TempPostgres),
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    _db: Db,
}

impl TestServer {
    /// A dummy-provider server on SQLite.
    pub async fn start() -> TestServer {
        Self::start_with(Db::Sqlite, &[]).await
    }

    /// `vars` override the defaults (PAYMENT_PROVIDER=dummy, ...).
    pub async fn start_with(db: Db, vars: &[(&str, String)]) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let database_url = match &db {
            Db::Sqlite => format!("sqlite://{}", dir.path().join("app.db").display()),
            Db::Postgres(pg) => pg.url.clone(),
        };
        let mut env: HashMap<String, String> = [
            ("PAYMENT_PROVIDER", "dummy".to_string()),
            ("SITE_BASE_URL", base.clone()),
            ("DATABASE_URL", database_url),
            ("PAYMENT_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
            (
                "SESSION_SECRET",
                "a-session-secret-of-at-least-32-characters".to_string(),
            ),
            ("LOG_DIR", dir.path().join("log").display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in vars {
            env.insert(k.to_string(), v.clone());
        }
        // A list of providers replaces the default single one.
        if env.contains_key("PAYMENT_PROVIDERS") && !vars.iter().any(|(k, _)| *k == "PAYMENT_PROVIDER") {
            env.remove("PAYMENT_PROVIDER");
        }
        let config = Config::from_source(&env).expect("config");
        let state = startup::build_state(config, &env).expect("state");
        // The server runs on a thread and runtime of its own, so that dropping the TestServer can
        // stop it and wait until its workers have let go of the store.
        let (tx, rx) = std::sync::mpsc::channel();
        let server_state = state.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = payments_web::server::server(server_state, listener, 1).expect("server");
                tx.send(server.handle()).expect("handle");
                let _ = server.await;
            });
        });
        let handle = rx.recv().expect("server started");
        TestServer {
            base,
            state,
            handle,
            thread: Some(thread),
            _dir: dir,
            _db: db,
        }
    }

    /// The PostgreSQL database behind this server, if it has one.
    #[cfg(feature = "postgres")]
    pub fn postgres(&self) -> Option<&TempPostgres> {
        match &self._db {
            Db::Postgres(pg) => Some(pg),
            Db::Sqlite => None,
        }
    }

    pub fn store(&self) -> &Store {
        self.state.store()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn add_user(&self, name: &str, role: Role) {
        self.store()
            .create_user(name, &hash_password(PASSWORD).expect("hash"), role)
            .expect("create user");
    }

    /// Imports usage worth `cpu_hours` CPU core-hours at the default rate (THB 1.00 each).
    pub fn add_usage(&self, user: &str, job: &str, cpu_hours: i64) {
        self.add_usage_ended(user, job, cpu_hours, "2026-11-01T12:00:00Z");
    }

    /// Like [`TestServer::add_usage`], for a job that ended at `ended` (RFC 3339).
    pub fn add_usage_ended(&self, user: &str, job: &str, cpu_hours: i64, ended: &str) {
        self.import_usage_rows(&format!("{user},{job},test job,{},0,{ended}\n", cpu_hours * 3600));
    }

    /// Imports usage CSV `rows` (without the header line) at the server's rates, as the import
    /// page does.
    pub fn import_usage_rows(&self, rows: &str) {
        let csv = format!("{}\n{rows}", payments_app::usage::HEADER);
        payments_app::usage::import(self.store(), csv.as_bytes(), &self.state.config.rates(), "test")
            .expect("import");
    }

    pub fn audit(&self, action: &str, receipt: Option<i64>) -> Vec<AuditRow> {
        self.store()
            .audit_log(&AuditQuery {
                action: Some(action.into()),
                receipt_id: receipt,
                limit: 1000,
                offset: 0,
            })
            .expect("audit")
            .0
    }

    pub fn receipt_status(&self, id: i64) -> ReceiptStatus {
        self.store()
            .receipt(id)
            .expect("db")
            .expect("receipt")
            .status()
            .expect("status")
    }

    /// The newest payment of a receipt: (public id, amount).
    pub fn payment_of(&self, receipt: i64) -> (String, Money) {
        let p = self.store().payments_for_receipt(receipt).expect("db").remove(0);
        (p.public_id.clone(), p.amount().expect("amount"))
    }

    /// Posts a webhook as a provider would.
    pub async fn post_webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (StatusCode, serde_json::Value) {
        self.post_webhook_at("/payments/webhook", headers, body).await
    }

    /// Posts a webhook to `path` (a provider's own URL, `/payments/webhook/stripe`).
    pub async fn post_webhook_at(
        &self,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (StatusCode, serde_json::Value) {
        let client = reqwest::Client::new();
        let mut req = client.post(self.url(path)).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.send().await.expect("webhook request");
        let status = resp.status();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }
}

impl Drop for TestServer {
    /// Stops the server and waits for its thread, so the connection pool is gone before the
    /// database is dropped and before the process exits (libpq threads still connecting while
    /// the process exits can crash the test binary).
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A browser: cookies, no automatic redirects (tests look at each 303).
pub struct Browser {
    pub client: reqwest::Client,
    base: String,
}

pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    html[start..start + 64].to_string()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location on {}", resp.status()))
        .to_string()
}

/// An open checkout on a server running `provider` (its `vars` pointing it at a mock).
pub struct OpenCheckout {
    pub server: TestServer,
    pub receipt: i64,
    /// Our payment id.
    pub payment: String,
    /// The provider's id of the checkout (`cs_...`, `tr_...`, an order or charge id).
    pub external_id: String,
}

impl OpenCheckout {
    /// Starts the server on `db` with `provider` and `vars`; `user` has `cpu_hours` of usage,
    /// makes it a receipt and presses "Pay now".
    pub async fn start(db: Db, provider: &str, vars: &[(&str, String)], user: &str, cpu_hours: i64) -> Self {
        let mut vars = vars.to_vec();
        vars.push(("PAYMENT_PROVIDER", provider.to_string()));
        let server = TestServer::start_with(db, &vars).await;
        server.add_user(user, Role::User);
        server.add_usage(user, "j1", cpu_hours);
        let browser = Browser::login(&server, user).await;
        let receipt = browser.create_receipt().await;
        browser.pay_now(receipt).await;
        let (payment, _) = server.payment_of(receipt);
        let external_id = server
            .store()
            .payment_by_public_id(&payment)
            .unwrap()
            .unwrap()
            .external_id
            .expect("the checkout's provider id is stored");
        OpenCheckout {
            server,
            receipt,
            payment,
            external_id,
        }
    }
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        Browser::at(&server.base)
    }

    /// A browser for a server at `base` (e.g. the real binary started by a test).
    pub fn at(base: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: base.to_string(),
        }
    }

    fn abs(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.abs(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> String {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        resp.text().await.expect("body")
    }

    /// A fresh CSRF token from a page of the site.
    pub async fn csrf(&self) -> String {
        csrf_from(&self.get_text("/login").await)
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.abs(path))
            .form(fields)
            .send()
            .await
            .expect("POST")
    }

    /// POST with the session's CSRF token added.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_form(path, &all).await
    }

    /// Reviews a refund of `amount` for `payment` (the receipt page's form) and returns the
    /// confirmation page's token (its hidden `request` field).
    pub async fn review_refund(&self, payment: &str, amount: &str, reason: &str) -> String {
        let resp = self
            .submit(
                &format!("/admin/payments/{payment}/refund"),
                &[("amount", amount), ("reason", reason)],
            )
            .await;
        assert_eq!(resp.status(), reqwest::StatusCode::OK, "the refund's review page");
        let page = resp.text().await.expect("body");
        let at = page
            .find("name=\"request\" value=\"")
            .unwrap_or_else(|| panic!("no refund token on the confirmation page: {page}"));
        let rest = &page[at + "name=\"request\" value=\"".len()..];
        rest[..rest.find('"').expect("end of the token")].to_string()
    }

    /// Reviews and confirms a refund, as an admin does with the two pages.
    pub async fn confirm_refund(&self, payment: &str, amount: &str, reason: &str) -> reqwest::Response {
        let token = self.review_refund(payment, amount, reason).await;
        self.submit(
            &format!("/admin/payments/{payment}/refund"),
            &[
                ("amount", amount),
                ("reason", reason),
                ("confirm", "yes"),
                ("request", &token),
            ],
        )
        .await
    }

    /// Presses `outcome` (`succeed`, `fail`, `cancel`) for `payment` on the dummy provider's
    /// page, as the payer does.
    pub async fn simulate(&self, payment: &str, outcome: &str) -> reqwest::Response {
        self.submit(
            "/payments/simulate",
            &[("payment", payment), ("outcome", outcome)],
        )
        .await
    }

    pub async fn login(server: &TestServer, user: &str) -> Browser {
        let b = Browser::new(server);
        let resp = b
            .submit("/login", &[("username", user), ("password", PASSWORD)])
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login as {user}");
        // Users land on My Usage, admins on All receipts.
        let landing = location(&resp);
        assert!(
            ["/me", "/admin/receipts"].contains(&landing.as_str()),
            "login as {user}: {landing}"
        );
        b
    }

    /// Selects all unbilled records on /me and creates a receipt; returns its id.
    pub async fn create_receipt(&self) -> i64 {
        self.receipt_from_me(None).await
    }

    /// A receipt of the first `n` unbilled records on /me; its id.
    pub async fn create_receipt_of_first(&self, n: usize) -> i64 {
        self.receipt_from_me(Some(n)).await
    }

    async fn receipt_from_me(&self, take: Option<usize>) -> i64 {
        let me = self.get_text("/me").await;
        let ids: Vec<String> = me
            .match_indices("name=\"record\" value=\"")
            .take(take.unwrap_or(usize::MAX))
            .map(|(i, m)| {
                me[i + m.len()..]
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        match take {
            Some(n) => assert_eq!(ids.len(), n, "{n} unbilled records on /me"),
            None => assert!(!ids.is_empty(), "no unbilled records on /me"),
        }
        let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("record", id.as_str())).collect();
        let token = csrf_from(&me);
        fields.push(("csrf_token", &token));
        let resp = self.post_form("/receipts", &fields).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "create receipt");
        location(&resp)
            .trim_start_matches("/receipts/")
            .parse()
            .expect("receipt id")
    }

    /// "Pay now": returns where the browser is sent.
    pub async fn pay_now(&self, receipt: i64) -> String {
        self.pay_with(receipt, None).await
    }

    /// "Pay with `provider`" (`None`: the one offered); returns where it sent the browser.
    pub async fn pay_with(&self, receipt: i64, provider: Option<&str>) -> String {
        let fields: Vec<(&str, &str)> = provider.map(|p| ("provider", p)).into_iter().collect();
        let resp = self
            .submit(&format!("/payments/receipts/{receipt}/start"), &fields)
            .await;
        if resp.status() != StatusCode::SEE_OTHER {
            panic!(
                "Pay now answered {}: {}",
                resp.status(),
                resp.text().await.unwrap_or_default()
            );
        }
        location(&resp)
    }
}

/// Declares an async test twice, on SQLite and on a fresh PostgreSQL database named `$db`;
/// `$run` takes the [`Db`]. The PostgreSQL one is listed as ignored, with the reason, when
/// PostgreSQL is not configured (see README).
#[macro_export]
macro_rules! on_both_backends {
    ($($run:ident: $sqlite:ident, $postgres:ident, $db:literal;)+) => {$(
        #[actix_web::test]
        async fn $sqlite() {
            $run($crate::support::Db::Sqlite).await;
        }

        #[actix_web::test]
        #[cfg_attr(
            postgres_tests_ignored,
            ignore = "needs PostgreSQL: set TEST_DATABASE_URL and use --all-features (see README)"
        )]
        async fn $postgres() {
            if let Some(pg) = payments_store::testing::postgres($db) {
                $run($crate::support::Db::Postgres(pg)).await;
            }
        }
    )+};
}
