//! The portal in a real browser: headless Chromium driven through chromedriver (WebDriver), at
//! desktop (1280x800) and phone (390x844) sizes, against a real server on a loopback port with
//! a real SQLite file.
//!
//! - the whole pay flow with the dummy provider: fail, cancel, then succeed;
//! - every page: no sideways scroll at 390 px, no serious or critical axe-core finding, and a
//!   full-page screenshot of each size in `target/screenshots/` (look at them).
//!
//! Without chromedriver these tests are reported as ignored, and the build says so loudly
//! (`bins/web/build.rs`); with `REQUIRE_BROWSER=1` (CI) they run and fail if it is missing.
//!
//! The helpers ([`Chrome`], [`Chrome::check_page`], ...) are for any test that wants a browser:
//! start one with `Chrome::start(PHONE).await`, log in with [`Chrome::log_in`], open pages with
//! [`Chrome::open`] and wait for what a page shows with [`Chrome::wait_for`].

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use payments_store::{ReceiptStatus, Role};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Browser, TestServer, PASSWORD};

/// axe-core, vendored from npm (see `axe/README.md`: version, licence MPL-2.0).
const AXE_JS: &str = include_str!("axe/axe.min.js");

/// How long a page or an element may take to appear before the test fails (a bound, not a
/// measurement: the wait ends as soon as it is there).
const WAIT: Duration = Duration::from_secs(20);

/// A window size the pages are looked at in.
#[derive(Debug, Clone, Copy)]
pub struct Viewport {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub mobile: bool,
}

pub const DESKTOP: Viewport = Viewport {
    name: "desktop",
    width: 1280,
    height: 800,
    mobile: false,
};

pub const PHONE: Viewport = Viewport {
    name: "phone",
    width: 390,
    height: 844,
    mobile: true,
};

/// Chromium processes are heavy on a small machine: one browser test at a time.
pub fn one_browser_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `CHROMEDRIVER` if set, else `chromedriver` on `PATH` (as `bins/web/build.rs` decides).
fn find_chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMEDRIVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
}

/// Where screenshots go: `target/screenshots/` of the build that made this test binary.
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/web-<hash>
    let target = exe
        .ancestors()
        .nth(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

/// A Chrome DevTools command through chromedriver's `goog/cdp/execute` (full-page screenshots).
#[derive(Debug)]
struct Cdp {
    method: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.method, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A chromedriver process (and the Chromium it starts), in a process group of its own so that
/// everything it started is ended with it.
struct DriverProcess {
    child: Child,
    url: String,
}

impl DriverProcess {
    async fn start() -> DriverProcess {
        let path = find_chromedriver().unwrap_or_else(|| {
            panic!(
                "BROWSER TESTS CANNOT RUN: chromedriver not found (REQUIRE_BROWSER=1 or it went away after the \
                 build). Install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver) \
                 or set CHROMEDRIVER."
            )
        });
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(&path)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()))
        };
        let url = format!("http://127.0.0.1:{port}");
        let driver = DriverProcess { child, url };
        // Ready when /status answers (bounded wait).
        let client = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = client
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {} within {WAIT:?}",
                driver.url
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// One headless Chromium at one window size, pointed at a test server.
pub struct Chrome {
    pub driver: Client,
    pub viewport: Viewport,
    base: String,
    _process: DriverProcess,
}

/// A serious or critical axe-core finding.
#[derive(Debug, serde::Deserialize)]
pub struct AxeFinding {
    pub id: String,
    pub impact: String,
    pub help: String,
    pub nodes: Vec<String>,
}

impl Chrome {
    pub async fn start(viewport: Viewport, server: &TestServer) -> Chrome {
        let process = DriverProcess::start().await;
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--no-first-run",
            "--hide-scrollbars",
            "--lang=en-US",
        ];
        let binary = std::env::var("CHROME_BIN").ok();
        let mut options = json!({
            "args": args,
            // The exact viewport, whatever the window around it.
            "mobileEmulation": { "deviceMetrics": {
                "width": viewport.width,
                "height": viewport.height,
                "pixelRatio": 1,
                "mobile": viewport.mobile,
                "touch": viewport.mobile,
            }},
        });
        if let Some(bin) = binary {
            options["binary"] = json!(bin);
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        let driver = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&process.url)
            .await
            .expect("start a Chromium session (is chromium installed?)");
        driver
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts");
        let chrome = Chrome {
            driver,
            viewport,
            base: server.base.clone(),
            _process: process,
        };
        // The viewport as a page with `<meta name=viewport>` sees it.
        chrome.open("/login").await;
        let (w, h): (u32, u32) = chrome
            .script("return [window.innerWidth, window.innerHeight]")
            .await
            .map(|v| serde_json::from_value(v).expect("viewport"))
            .expect("viewport size");
        assert_eq!(
            (w, h),
            (viewport.width, viewport.height),
            "{} viewport",
            viewport.name
        );
        chrome
    }

    pub async fn quit(self) {
        let Chrome { driver, _process, .. } = self;
        driver.close().await.expect("quit Chromium");
    }

    /// Runs `script` in the page and returns what it returned.
    pub async fn script(&self, script: &str) -> Result<Value, fantoccini::error::CmdError> {
        self.driver.execute(script, Vec::new()).await
    }

    /// Opens a path of the test server and waits until the page has its `<h1>`.
    pub async fn open(&self, path: &str) {
        self.driver
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("{}: open {path}: {e}", self.viewport.name));
        self.wait_for("h1").await;
    }

    /// The first element matching `css`, waiting for it (bounded poll).
    pub async fn wait_for(&self, css: &str) -> Element {
        let found = self
            .driver
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(el) => el,
            Err(e) => {
                let (path, shot) = self.failure_evidence().await;
                panic!(
                    "{}: no {css:?} within {WAIT:?} (at {path}; screenshot {}): {e}",
                    self.viewport.name,
                    shot.display()
                )
            }
        }
    }

    /// Where the browser is and a screenshot of it, for a failure message.
    async fn failure_evidence(&self) -> (String, PathBuf) {
        let path = self.path().await;
        let shot = self.screenshot("FAILED").await;
        (path, shot)
    }

    /// Waits until the page's `<h1>` contains `text`.
    pub async fn wait_for_heading(&self, text: &str) {
        let condition = format!(
            "const h = document.querySelector('h1'); return !!h && h.textContent.includes({});",
            json!(text)
        );
        self.wait_until(&format!("a heading with {text:?}"), &condition)
            .await;
    }

    /// Polls `condition` (a script returning true or false) until it is true, failing after
    /// [`WAIT`]. A script error (a page being replaced) counts as false.
    pub async fn wait_until(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.script(condition).await.ok() == Some(json!(true)) {
                return;
            }
            if Instant::now() >= deadline {
                let h1 = self
                    .script("const h = document.querySelector('h1'); return h ? h.textContent : null")
                    .await
                    .unwrap_or(Value::Null);
                let (path, shot) = self.failure_evidence().await;
                panic!(
                    "{}: no {what} within {WAIT:?} (at {path}, heading {h1}; screenshot {})",
                    self.viewport.name,
                    shot.display()
                );
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the first element matching `css`, waiting for it first.
    pub async fn click(&self, css: &str) {
        let el = self.wait_for(css).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("{}: click {css}: {e}", self.viewport.name));
    }

    /// Clicks the button whose text is `text`, waiting for it (bounded poll).
    pub async fn click_button(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            for button in self
                .driver
                .find_all(Locator::Css("button"))
                .await
                .unwrap_or_default()
            {
                if button.text().await.is_ok_and(|t| t.trim() == text) {
                    button
                        .click()
                        .await
                        .unwrap_or_else(|e| panic!("{}: click {text:?}: {e}", self.viewport.name));
                    return;
                }
            }
            if Instant::now() >= deadline {
                let (path, shot) = self.failure_evidence().await;
                panic!(
                    "{}: no button {text:?} within {WAIT:?} (at {path}; screenshot {})",
                    self.viewport.name,
                    shot.display()
                );
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The current page's path and query.
    pub async fn path(&self) -> String {
        let url = self.driver.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Logs in through the login form and waits for the landing page.
    pub async fn log_in(&self, user: &str) {
        self.open("/login").await;
        self.wait_for("input[name=username]")
            .await
            .send_keys(user)
            .await
            .expect("type the username");
        self.wait_for("input[name=password]")
            .await
            .send_keys(PASSWORD)
            .await
            .expect("type the password");
        self.click_button("Log in").await;
        // Users land on My Usage, admins on All receipts.
        self.wait_until(
            "My Usage or All receipts",
            "const h = document.querySelector('h1'); return !!h && /My Usage|All receipts/.test(h.textContent);",
        )
        .await;
    }

    /// Logs out with the header's button.
    pub async fn log_out(&self) {
        self.click_button("Log out").await;
        self.wait_for_heading("Log in").await;
    }

    /// `(document.documentElement.scrollWidth, window.innerWidth)`.
    pub async fn widths(&self) -> (u64, u64) {
        let v = self
            .script("return [document.documentElement.scrollWidth, window.innerWidth]")
            .await
            .expect("widths");
        serde_json::from_value(v).expect("two numbers")
    }

    /// The serious and critical axe-core findings on the current page.
    pub async fn axe(&self) -> Vec<AxeFinding> {
        let present = self.script("return typeof window.axe").await.expect("axe check");
        if present != json!("object") {
            self.driver
                .execute(AXE_JS, Vec::new())
                .await
                .expect("inject axe-core");
        }
        let out = self
            .driver
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { resultTypes: ['violations'] }).then(r => done({ findings:
                  r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 6).map(n => n.target.join(' ') + ' :: ' +
                      (n.failureSummary || '').replace(/\s+/g, ' ')) })) }))
                .catch(e => done({ error: String(e) }));"#,
                Vec::new(),
            )
            .await
            .expect("run axe-core");
        if let Some(e) = out.get("error") {
            panic!("axe-core failed on {}: {e}", self.path().await);
        }
        serde_json::from_value(out["findings"].clone()).expect("axe findings")
    }

    /// A full-page PNG in `target/screenshots/<name>-<viewport>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 },
                }),
            )
            .await;
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64_decode(data);
        let path = screenshot_dir().join(format!("{name}-{}.png", self.viewport.name));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// A Chrome DevTools command's result.
    pub async fn cdp(&self, method: &'static str, params: Value) -> Value {
        self.driver
            .issue_cmd(Cdp { method, params })
            .await
            .unwrap_or_else(|e| panic!("{}: {method}: {e}", self.viewport.name))
    }

    /// What every page must pass: a screenshot is taken, nothing scrolls sideways on a phone,
    /// and axe-core finds nothing serious or critical. Returns a list of problems (empty when
    /// the page passes) so that a test can report every page at once.
    pub async fn check_page(&self, name: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let path = self.path().await;
        self.screenshot(name).await;
        // Against the window the test asked for: a page too wide for a phone can make the
        // browser widen its layout viewport (and `innerWidth` with it) instead of scrolling.
        let (scroll, inner) = self.widths().await;
        let asked = u64::from(self.viewport.width);
        if scroll > asked || inner > asked {
            problems.push(format!(
                "{name} ({path}) at {}: scrolls sideways, {scroll} px wide (window {inner} px) for a {asked} px screen",
                self.viewport.name
            ));
        }
        // Every header says what its column is (visually hidden text counts), for screen readers.
        let empty_headers = self
            .script("return [...document.querySelectorAll('th')].filter(th => !th.textContent.trim()).length")
            .await
            .expect("count empty headers");
        if empty_headers != json!(0) {
            problems.push(format!(
                "{name} ({path}) at {}: {empty_headers} empty table header(s)",
                self.viewport.name
            ));
        }
        for f in self.axe().await {
            problems.push(format!(
                "{name} ({path}) at {}: axe {} [{}] {}: {}",
                self.viewport.name,
                f.id,
                f.impact,
                f.help,
                f.nodes.join(" | ")
            ));
        }
        problems
    }
}

fn base64_decode(data: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64 screenshot")
}

/// A server with alice (enough usage for two pages of My Usage, with long job ids) and root.
async fn portal_with_usage() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    for i in 0..75 {
        let job = if i % 7 == 0 {
            format!("array-job-{i:03}-with-a-rather-long-identifier-from-the-scheduler")
        } else {
            format!("job-{i:03}")
        };
        server.add_usage_ended(
            "alice",
            &job,
            1 + i % 5,
            &format!("2026-11-{:02}T12:00:00Z", 1 + i % 28),
        );
    }
    server
}

/// Runs an async browser test on its own runtime, one at a time.
/// Declares a flow's two tests, at desktop and at phone size, each ignored (and saying why)
/// where no Chromium was found at build time.
macro_rules! at_both_sizes {
    ($flow:ident: $desktop:ident, $phone:ident) => {
        #[test]
        #[cfg_attr(
            browser_tests_ignored,
            ignore = "SKIPPED, needs Chromium: apt-get install chromium chromium-driver (or set CHROMEDRIVER)"
        )]
        fn $desktop() {
            run($flow(DESKTOP));
        }

        #[test]
        #[cfg_attr(
            browser_tests_ignored,
            ignore = "SKIPPED, needs Chromium: apt-get install chromium chromium-driver (or set CHROMEDRIVER)"
        )]
        fn $phone() {
            run($flow(PHONE));
        }
    };
}

/// Fails with every problem a flow collected at `viewport`, or passes when there were none.
fn assert_no_problems(problems: &[String], viewport: &str) {
    assert!(
        problems.is_empty(),
        "{} problem(s) at {viewport}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn run(test: impl std::future::Future<Output = ()>) {
    let _one = one_browser_at_a_time();
    actix_web::rt::System::new().block_on(test);
}

/// The pay flow as a person does it, at one size: select usage, create a receipt, Pay now; on
/// the dummy provider's page Fail, then Cancel, then Succeed; each outcome page says what
/// happened.
async fn pay_flow(viewport: Viewport) {
    let server = portal_with_usage().await;
    let chrome = Chrome::start(viewport, &server).await;
    let shot = |step: &str| format!("flow-{step}");
    chrome.log_in("alice").await;
    chrome.screenshot(&shot("1-usage")).await;

    // Select all on this page, and the live total follows.
    chrome.click_button("Select all on this page").await;
    let count = chrome
        .wait_for("#selection-count")
        .await
        .text()
        .await
        .expect("count");
    assert_eq!(
        count, "50",
        "{}: all 50 rows of page 1 are selected",
        viewport.name
    );
    let total = chrome
        .wait_for("#selection-total")
        .await
        .text()
        .await
        .expect("total");
    assert!(
        total.starts_with("THB ") && total != "THB 0.00",
        "{}: {total}",
        viewport.name
    );
    chrome.click_button("Create receipt from selected").await;
    chrome.wait_for_heading("Receipt #").await;
    let receipt: i64 = chrome
        .path()
        .await
        .trim_start_matches("/receipts/")
        .parse()
        .expect("receipt id in the address");
    let shown_total = chrome.wait_for("#total").await.text().await.expect("total");
    assert_eq!(
        shown_total, total,
        "{}: the receipt's total is the selection's",
        viewport.name
    );
    chrome.screenshot(&shot("2-receipt")).await;

    // Fail and Succeed come back to the outcome page; Cancel to My Usage with a message.
    for (button, outcome, says) in [
        ("Fail", "failed", "did not go through"),
        ("Cancel", "cancelled", "You cancelled the payment"),
        ("Succeed", "paid", "is paid"),
    ] {
        chrome.click_button("Pay now").await;
        chrome.wait_for_heading("Dummy payment provider").await;
        let amount = chrome.wait_for(".amount").await.text().await.expect("amount");
        assert_eq!(
            amount, total,
            "{}: the provider asks for the receipt's total",
            viewport.name
        );
        if button == "Fail" {
            chrome.screenshot(&shot("3-provider")).await;
        }
        chrome.click_button(button).await;
        let message = if button == "Cancel" {
            chrome.wait_for_heading("My Usage").await;
            chrome.wait_for(".notice").await
        } else {
            chrome
                .wait_for(&format!("h1#outcome[data-outcome={outcome}]"))
                .await;
            chrome.wait_for("#state").await
        };
        let text = message.text().await.expect("message");
        assert!(
            text.contains(says),
            "{}: after {button} the page says {text:?}",
            viewport.name
        );
        chrome.screenshot(&shot(&format!("4-{outcome}"))).await;
        let expected = if outcome == "paid" {
            ReceiptStatus::Paid
        } else {
            ReceiptStatus::Unpaid
        };
        assert_eq!(
            server.receipt_status(receipt),
            expected,
            "{}: after {button}",
            viewport.name
        );
        chrome.click(&format!("a[href='/receipts/{receipt}']")).await;
        chrome.wait_for_heading(&format!("Receipt #{receipt}")).await;
    }
    // Paid: no Pay now, and three attempts listed.
    let buttons = chrome
        .script("return [...document.querySelectorAll('button')].map(b => b.textContent.trim())")
        .await
        .expect("buttons");
    assert!(
        !buttons.as_array().expect("list").contains(&json!("Pay now")),
        "{}: a paid receipt offers no Pay now",
        viewport.name
    );
    let attempts = chrome
        .driver
        .find_all(Locator::Css("table code"))
        .await
        .expect("attempts")
        .len();
    assert!(attempts >= 3, "{}: {attempts} payment ids listed", viewport.name);
    chrome.screenshot(&shot("5-paid-receipt")).await;
    chrome.log_out().await;
    chrome.quit().await;
}

at_both_sizes!(pay_flow: browser_pay_flow_fail_cancel_succeed_on_desktop, browser_pay_flow_fail_cancel_succeed_on_a_phone);

/// Receipts in every state for alice, made over HTTP: (unpaid, paid, failed payment id,
/// cancelled payment id, pending payment id, paid payment id).
struct States {
    unpaid: i64,
    paid: i64,
    failed: String,
    cancelled: String,
    pending: String,
    succeeded: String,
}

async fn make_states(server: &TestServer) -> States {
    let alice = Browser::login(server, "alice").await;
    let mut payments = Vec::new();
    let mut receipts = Vec::new();
    for outcome in ["fail", "cancel", "succeed", "none"] {
        let receipt = alice.create_receipt_of_first(3).await;
        receipts.push(receipt);
        let checkout = alice.pay_now(receipt).await;
        let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
        if outcome != "none" {
            let resp = alice.simulate(&payment, outcome).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "simulate {outcome}");
        }
        payments.push(payment);
    }
    // A fifth receipt left without any payment attempt.
    let unpaid = alice.create_receipt_of_first(1).await;
    States {
        unpaid,
        paid: receipts[2],
        failed: payments[0].clone(),
        cancelled: payments[1].clone(),
        succeeded: payments[2].clone(),
        pending: payments[3].clone(),
    }
}

/// Every page at one size: screenshot, no sideways scroll, axe-core clean. Problems of all pages
/// are reported together.
async fn every_page(viewport: Viewport) {
    let server = portal_with_usage().await;
    let states = make_states(&server).await;
    let chrome = Chrome::start(viewport, &server).await;
    let mut problems = Vec::new();

    // Logged out.
    chrome.open("/login").await;
    problems.extend(chrome.check_page("login").await);
    chrome.open("/no-such-page").await;
    chrome.wait_for_heading("Page not found").await;
    problems.extend(chrome.check_page("error-404-logged-out").await);

    // A payer.
    chrome.log_in("alice").await;
    problems.extend(chrome.check_page("usage").await);
    chrome.click("a[rel=next]").await;
    chrome.wait_for("a[rel=prev]").await;
    problems.extend(chrome.check_page("usage-page-2").await);
    chrome.open(&format!("/receipts/{}", states.unpaid)).await;
    problems.extend(chrome.check_page("receipt-unpaid").await);
    chrome.open(&format!("/receipts/{}", states.paid)).await;
    problems.extend(chrome.check_page("receipt-paid").await);
    chrome
        .open(&format!("/payments/simulate?payment={}", states.pending))
        .await;
    chrome.wait_for("form button.primary").await;
    problems.extend(chrome.check_page("provider").await);
    chrome
        .open(&format!("/payments/simulate?payment={}", states.succeeded))
        .await;
    chrome.wait_for("#closed").await;
    problems.extend(chrome.check_page("provider-closed").await);
    for (name, payment, outcome) in [
        ("thanks-processing", &states.pending, "processing"),
        ("thanks-failed", &states.failed, "failed"),
        ("thanks-cancelled", &states.cancelled, "cancelled"),
        ("thanks-paid", &states.succeeded, "paid"),
    ] {
        chrome.open(&format!("/payments/thanks?payment={payment}")).await;
        chrome
            .wait_for(&format!("h1#outcome[data-outcome={outcome}]"))
            .await;
        problems.extend(chrome.check_page(name).await);
    }
    chrome.open("/receipts/999999").await;
    chrome.wait_for_heading("Page not found").await;
    problems.extend(chrome.check_page("error-404").await);
    chrome.open("/payments/thanks").await;
    chrome.wait_for_heading("This request could not be used").await;
    problems.extend(chrome.check_page("error-400").await);
    // A form sent with a token that is not this session's.
    chrome.open("/me").await;
    chrome
        .script(
            "const f = document.querySelector('header form');
             f.querySelector('input[name=csrf_token]').value = 'forged';
             f.submit();",
        )
        .await
        .expect("forge the logout form");
    chrome.wait_for_heading("This form has expired").await;
    problems.extend(chrome.check_page("error-403-csrf").await);
    // The database refuses to write receipts: the 500 page.
    server
        .store()
        .execute_sql_for_tests(
            "CREATE TRIGGER browser_test_no_receipts BEFORE INSERT ON receipts \
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .expect("trigger");
    chrome.open("/me").await;
    chrome.click_button("Select all on this page").await;
    chrome.click_button("Create receipt from selected").await;
    chrome.wait_for_heading("Something went wrong on our side").await;
    let body = chrome.wait_for("main").await.text().await.expect("text");
    assert!(
        !body.contains("disk on fire"),
        "{}: the database's words stay in the log",
        viewport.name
    );
    problems.extend(chrome.check_page("error-500").await);
    server
        .store()
        .execute_sql_for_tests("DROP TRIGGER browser_test_no_receipts;")
        .expect("drop trigger");
    chrome.log_out().await;

    // An admin.
    chrome.log_in("root").await;
    chrome.open("/admin/receipts").await;
    problems.extend(chrome.check_page("admin-receipts").await);
    chrome.open("/admin/audit").await;
    problems.extend(chrome.check_page("audit-log").await);
    chrome.open(&format!("/receipts/{}", states.paid)).await;
    problems.extend(chrome.check_page("receipt-paid-admin").await);

    // The favicon is served.
    let icon = reqwest::get(server.url("/favicon.ico")).await.expect("favicon");
    assert_eq!(icon.status(), StatusCode::OK);
    chrome.quit().await;
    assert_no_problems(&problems, viewport.name);
}

at_both_sizes!(every_page: browser_every_page_on_desktop_passes_axe, browser_every_page_on_a_phone_fits_and_passes_axe);

/// Types `text` into the first element matching `css`.
async fn type_into(chrome: &Chrome, css: &str, text: &str) {
    chrome
        .wait_for(css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("{}: type into {css}: {e}", chrome.viewport.name));
}

/// The receipt's status as its heading shows it.
async fn shown_status(chrome: &Chrome) -> String {
    chrome.wait_for("h1 .status").await.text().await.expect("status")
}

/// Refunds `amount` of the receipt on the page as an admin: the receipt page's form, then the
/// confirmation page (checked like every page, as `check_as`), then back on the receipt page.
async fn refund_in_browser(
    chrome: &Chrome,
    receipt: i64,
    amount: &str,
    reason: &str,
    check_as: &str,
) -> Vec<String> {
    let name = chrome.viewport.name;
    chrome.open(&format!("/receipts/{receipt}")).await;
    type_into(chrome, "#refund-form input[name=amount]", amount).await;
    type_into(chrome, "#refund-form input[name=reason]", reason).await;
    chrome.click_button("Review refund").await;
    chrome.wait_for("#confirm-refund").await;
    let question = chrome
        .wait_for("#confirm-text")
        .await
        .text()
        .await
        .expect("confirmation text");
    assert!(
        question.contains(&format!("Refund THB {amount} to alice")) && question.contains(reason),
        "{name}: the confirmation page says what will be refunded: {question:?}"
    );
    assert_eq!(
        refunds_shown(chrome).await,
        None,
        "{name}: reviewing refunds nothing"
    );
    let problems = chrome.check_page(check_as).await;
    chrome.click("#confirm-refund").await;
    chrome.wait_for("#refund-notice").await;
    chrome.wait_for_heading(&format!("Receipt #{receipt}")).await;
    problems
}

/// `None` on a page without the receipt's refund list (the confirmation page), else its rows.
async fn refunds_shown(chrome: &Chrome) -> Option<u64> {
    let rows = chrome
        .script("const t = document.querySelector('#refunds'); return t ? t.querySelectorAll('tbody tr').length : null")
        .await
        .expect("refund rows");
    rows.as_u64()
}

/// After the payment, as an admin at one size: a receipt paid with the dummy provider is
/// refunded half (form, confirmation), then the rest; the receipt shows partially_refunded, then
/// refunded, and the audit log filtered to `payment.refund` shows every step. The confirmation
/// page passes the page checks (no sideways scroll, axe-core).
async fn refund_flow(viewport: Viewport) {
    let name = viewport.name;
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage("alice", "job-1", 10);
    let chrome = Chrome::start(viewport, &server).await;
    let shot = |step: &str| format!("refund-{step}");

    // Alice pays THB 10.00 with the dummy provider.
    chrome.log_in("alice").await;
    chrome.click_button("Select all on this page").await;
    chrome.click_button("Create receipt from selected").await;
    chrome.wait_for_heading("Receipt #").await;
    let receipt: i64 = chrome
        .path()
        .await
        .trim_start_matches("/receipts/")
        .parse()
        .expect("receipt id in the address");
    let total = chrome.wait_for("#total").await.text().await.expect("total");
    assert_eq!(total, "THB 10.00", "{name}");
    chrome.click_button("Pay now").await;
    chrome.wait_for_heading("Dummy payment provider").await;
    chrome.click_button("Succeed").await;
    chrome.wait_for("h1#outcome[data-outcome=paid]").await;
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid, "{name}");
    chrome.log_out().await;

    // Root refunds half, then the rest.
    chrome.log_in("root").await;
    chrome.open(&format!("/receipts/{receipt}")).await;
    let offer = chrome
        .wait_for("#refund-form")
        .await
        .text()
        .await
        .expect("refund form");
    assert!(
        offer.contains("THB 10.00 of THB 10.00 can still be refunded"),
        "{name}: {offer:?}"
    );
    chrome.screenshot(&shot("1-paid-receipt")).await;
    let mut problems = refund_in_browser(&chrome, receipt, "5.00", "job 1 ran twice", "refund-confirm").await;
    assert_eq!(
        shown_status(&chrome).await,
        "Partially refunded, THB 5.00 back",
        "{name}: the status in words"
    );
    assert_eq!(
        server.receipt_status(receipt),
        ReceiptStatus::PartiallyRefunded,
        "{name}"
    );
    assert_eq!(refunds_shown(&chrome).await, Some(1), "{name}");
    let offer = chrome
        .wait_for("#refund-form")
        .await
        .text()
        .await
        .expect("refund form");
    assert!(
        offer.contains("THB 5.00 of THB 10.00 can still be refunded"),
        "{name}: {offer:?}"
    );
    chrome.screenshot(&shot("2-partially-refunded")).await;

    problems.extend(refund_in_browser(&chrome, receipt, "5.00", "the rest", "refund-confirm-rest").await);
    assert_eq!(shown_status(&chrome).await, "Refunded, THB 10.00 back", "{name}");
    assert_eq!(server.receipt_status(receipt), ReceiptStatus::Refunded, "{name}");
    assert_eq!(refunds_shown(&chrome).await, Some(2), "{name}");
    let form_left = chrome
        .script("return document.querySelector('#refund-form') !== null")
        .await
        .expect("refund form?");
    assert_eq!(form_left, json!(false), "{name}: nothing is left to refund");
    chrome.screenshot(&shot("3-refunded")).await;

    // The audit log, filtered to payment.refund with its own form: every step of both refunds.
    chrome.open("/admin/audit").await;
    chrome
        .script("document.querySelector('select[name=action]').value = 'payment.refund';")
        .await
        .expect("choose the action");
    type_into(&chrome, "input[name=receipt]", &receipt.to_string()).await;
    chrome.click_button("Filter").await;
    chrome
        .wait_until(
            "the filtered audit log",
            "return location.search.includes('action=payment.refund')",
        )
        .await;
    chrome.wait_for("table.audit").await;
    let rows = chrome
        .script(
            "return [...document.querySelectorAll('table.audit tbody tr')].map(tr =>
               [tr.children[2].textContent.trim(), tr.querySelector('.detail').textContent])",
        )
        .await
        .expect("audit rows");
    let rows: Vec<(String, String)> = serde_json::from_value(rows).expect("rows");
    assert!(
        rows.iter()
            .all(|(action, _)| action.starts_with("payment.refund")),
        "{name}: only refund entries: {rows:?}"
    );
    // Newest first: the second refund's steps, then the first's.
    let steps: Vec<&str> = rows
        .iter()
        .rev()
        .map(|(_, detail)| {
            ["requested", "provider_answer", "settled"]
                .into_iter()
                .find(|s| detail.contains(&format!("step: {s}")))
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(
        steps,
        [
            "requested",
            "provider_answer",
            "settled",
            "requested",
            "provider_answer",
            "settled"
        ],
        "{name}: {rows:?}"
    );
    chrome.screenshot(&shot("4-audit")).await;
    chrome.log_out().await;
    chrome.quit().await;
    assert_no_problems(&problems, name);
}

at_both_sizes!(refund_flow: browser_refund_half_then_the_rest_on_desktop, browser_refund_half_then_the_rest_on_a_phone);

/// The receipt page as an admin sees it when money did not move as planned, with realistic data
/// (Thai text, a long unbroken job name, a big amount): a refund whose outcome is unknown (Retry
/// and "Record what dummy shows", opened) and a second payment for the paid receipt ("Paid
/// twice", its refund form); All receipts flags it. Each page: no sideways scroll, axe clean,
/// screenshots.
async fn money_states(viewport: Viewport) {
    let name = viewport.name;
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    server.add_usage(
        "alice",
        "การจำลองสภาพอากาศ-เอเชียตะวันออกเฉียงใต้-ensemble-member-0042-of-0100-restart-from-checkpoint",
        250_000,
    );
    let alice = Browser::login(&server, "alice").await;
    let receipt = alice.create_receipt().await;
    let first = alice
        .pay_now(receipt)
        .await
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .to_string();
    // The first checkout was closed here; the second pays; then the first is paid too.
    assert!(server
        .store()
        .close_payment(
            &first,
            payments_store::PaymentState::Expired,
            "reconcile",
            "abandoned"
        )
        .unwrap());
    let second = alice
        .pay_now(receipt)
        .await
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        alice.simulate(&second, "succeed").await.status(),
        StatusCode::SEE_OTHER
    );
    let (_, amount) = server.payment_of(receipt);
    server
        .store()
        .finalize_success_if_amount_matches(&first, Some(amount), "provider:dummy", "webhook evt_late")
        .unwrap();
    // A refund of the paying payment whose answer was lost.
    let row = server
        .store()
        .request_refund(
            &second,
            1_234_567,
            "ลูกค้าขอคืนเงินบางส่วน: งานรันซ้ำสองครั้ง",
            "user:root",
        )
        .unwrap();
    server
        .store()
        .record_refund_answer(
            row.id,
            &payments_store::RefundAnswer::Unknown {
                error: "dummy unreachable: connection reset by peer".into(),
            },
            "user:root",
        )
        .unwrap();

    let chrome = Chrome::start(viewport, &server).await;
    chrome.log_in("root").await;
    chrome
        .open(&format!("/receipts/{receipt}?refund={}#refunds", row.id))
        .await;
    chrome.wait_for(&format!("#paid-twice-{first}")).await;
    chrome
        .wait_for(&format!("form[action='/admin/refunds/{}/retry']", row.id))
        .await;
    let mut problems = chrome.check_page("money-receipt").await;
    chrome.click(".record-outcome summary").await;
    chrome.wait_for(".record-form").await;
    problems.extend(chrome.check_page("money-record-outcome").await);
    chrome.open("/admin/receipts").await;
    chrome.wait_for(".status.paid-twice").await;
    problems.extend(chrome.check_page("money-admin-receipts").await);
    chrome.log_out().await;
    chrome.quit().await;
    assert_no_problems(&problems, name);
}

at_both_sizes!(money_states: browser_receipt_money_states_on_desktop, browser_receipt_money_states_on_a_phone);

/// The cells matching `css` that lie outside `[0, width]` horizontally (text and right edge),
/// `width` defaulting to the window's.
async fn cells_outside(chrome: &Chrome, css: &str, width: Option<u32>) -> Vec<String> {
    let script = format!(
        "const w = {}; return [...document.querySelectorAll({})].filter(e => {{ \
           const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > w + 0.5 || r.left < -0.5); }}) \
           .map(e => e.textContent.trim() + ' ends at ' + Math.round(e.getBoundingClientRect().right) + ' of ' + w);",
        width.map_or("window.innerWidth".to_string(), |w| w.to_string()),
        json!(css)
    );
    serde_json::from_value(chrome.script(&script).await.expect("cell positions")).expect("a list")
}

/// How many cells match `css` (so that a check of their positions cannot pass on none).
async fn count(chrome: &Chrome, css: &str) -> u64 {
    chrome
        .script(&format!(
            "return document.querySelectorAll({}).length",
            json!(css)
        ))
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

/// A4 portrait at 96 px per inch, less Chromium's default print margins (about 1 cm a side).
const A4_PRINT_WIDTH: u32 = 718;

/// The portal with long unbroken names and big amounts, as a payer and an admin read it: Amount,
/// Total and Cost stay inside the window (and inside the printed A4 width), Pay now comes before
/// the first line item, the thanks page tells a partly refunded payment, admins see money net of
/// refunds and void a receipt.
async fn money_in_view(viewport: Viewport) {
    let name = viewport.name;
    let server = TestServer::start().await;
    server.add_user("alice", Role::User);
    server.add_user("root", Role::Admin);
    let mut rows = String::new();
    for i in 0..12 {
        // 40-character job ids, 120-character descriptions without a space, big amounts.
        let job = format!("slurm-array-{i:02}-{}", "0123456789abcdefghijklmnopq");
        let desc: String = "resnet50_imagenet_lr0.1_bs256_seed42_epochs90_"
            .repeat(3)
            .chars()
            .take(120)
            .collect();
        rows.push_str(&format!(
            "alice,{job},{desc},{},0,2026-11-{:02}T12:00:00Z\n",
            4_444_444_321_i64 + i,
            1 + i
        ));
    }
    server.import_usage_rows(&rows);
    server.add_usage("alice", "การจำลองสภาพอากาศ-เอเชียตะวันออกเฉียงใต้-ensemble", 3);
    let alice = Browser::login(&server, "alice").await;
    let chrome = Chrome::start(viewport, &server).await;
    chrome.log_in("alice").await;
    let mut problems = Vec::new();

    // My Usage: every Cost on screen.
    assert!(
        count(&chrome, "#bill td.num").await >= 12,
        "{name}: the usage list"
    );
    for cell in cells_outside(&chrome, "#bill td.num, #bill th.num", None).await {
        problems.push(format!("{name}: My Usage cost off screen: {cell}"));
    }
    problems.extend(chrome.check_page("money-in-view-usage").await);

    let receipt = alice.create_receipt_of_first(13).await;
    chrome.open(&format!("/receipts/{receipt}")).await;
    assert_eq!(
        count(&chrome, "table.lines td.amt").await,
        13,
        "{name}: the lines"
    );
    for cell in cells_outside(&chrome, "table.lines td.amt, #total", None).await {
        problems.push(format!("{name}: receipt amount off screen: {cell}"));
    }
    let order = chrome
        .script(
            "const pay = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Pay now'); \
             const line = document.querySelector('table.lines tbody tr'); \
             return [pay ? pay.getBoundingClientRect().top : -1, line.getBoundingClientRect().top];",
        )
        .await
        .expect("positions");
    let (pay_top, line_top): (f64, f64) = serde_json::from_value(order).expect("two numbers");
    assert!(
        pay_top >= 0.0 && pay_top < line_top,
        "{name}: Pay now ({pay_top}) must come before the first line item ({line_top})"
    );
    problems.extend(chrome.check_page("money-in-view-receipt").await);

    // Printed on A4: the same amounts inside the printable width.
    chrome
        .cdp("Emulation.setEmulatedMedia", json!({ "media": "print" }))
        .await;
    chrome
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": A4_PRINT_WIDTH, "height": 1040, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    for cell in cells_outside(&chrome, "table.lines td.amt, #total", Some(A4_PRINT_WIDTH)).await {
        problems.push(format!("{name}: printed receipt amount outside A4: {cell}"));
    }
    chrome.screenshot("money-in-view-print").await;
    chrome
        .cdp("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
    chrome
        .cdp("Emulation.setEmulatedMedia", json!({ "media": "" }))
        .await;

    // Paid, then partly refunded by an admin: the thanks page says so.
    let checkout = alice.pay_now(receipt).await;
    let payment = checkout.rsplit('=').next().unwrap_or_default().to_string();
    assert_eq!(
        alice.simulate(&payment, "succeed").await.status(),
        StatusCode::SEE_OTHER
    );
    chrome.log_out().await;
    chrome.log_in("root").await;
    chrome.wait_for("#totals").await;
    problems.extend(
        refund_in_browser(
            &chrome,
            receipt,
            "20.00",
            "one job ran twice",
            "money-in-view-refund",
        )
        .await,
    );
    chrome.open("/admin/receipts").await;
    let net = chrome.wait_for("#totals .net").await.text().await.expect("net");
    let received = chrome
        .wait_for("#totals .received")
        .await
        .text()
        .await
        .expect("received");
    assert_ne!(net, received, "{name}: the net total is less the refund");
    for cell in cells_outside(&chrome, "#totals td.num, table.receipts td.num", None).await {
        problems.push(format!("{name}: admin total off screen: {cell}"));
    }
    problems.extend(chrome.check_page("money-in-view-admin-receipts").await);

    // Voiding an unpaid receipt through its form.
    server.add_usage("alice", "to-void", 1);
    let unpaid = alice.create_receipt().await;
    chrome.open(&format!("/receipts/{unpaid}")).await;
    chrome.wait_for("#not-yours").await;
    type_into(
        &chrome,
        "#void-form input[name=reason]",
        "billed to the wrong project",
    )
    .await;
    problems.extend(chrome.check_page("money-in-view-void-form").await);
    chrome.click_button("Void receipt").await;
    chrome.wait_for("#void-notice").await;
    assert_eq!(server.receipt_status(unpaid), ReceiptStatus::Void, "{name}");

    chrome.log_out().await;
    chrome.log_in("alice").await;
    chrome.open(&format!("/payments/thanks?payment={payment}")).await;
    chrome.wait_for_heading("Payment received, partly refunded").await;
    let said = chrome.wait_for("#refunded").await.text().await.expect("text");
    assert!(
        said.contains("THB 20.00 of it has been refunded"),
        "{name}: {said}"
    );
    problems.extend(chrome.check_page("money-in-view-thanks-refunded").await);
    // The payer's receipt: the refund numbered on it, in words, without the internal reason.
    chrome.open(&format!("/receipts/{receipt}")).await;
    let refunds = chrome.wait_for("#refunds").await.text().await.expect("refunds");
    assert!(
        refunds.contains("refunded") && !refunds.contains("one job ran twice"),
        "{name}: {refunds}"
    );
    problems.extend(chrome.check_page("money-in-view-receipt-refunded").await);

    // A provider filter over more receipts than a page adds up: the sentence that says so, in
    // view at both sizes (receipts of December 2025 and their payments written in bulk).
    let n = payments_store::RECEIPT_TOTALS_BOUND + 1;
    let alice_id = server.store().user_by_username("alice").unwrap().unwrap().id;
    server
        .store()
        .execute_sql_for_tests(&format!(
            "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n}) \
             INSERT INTO receipts (user_id, currency, total_minor, status, created_at, paid_at) \
             SELECT {alice_id}, 'THB', 100, 'paid', 1764547200 + x, 1764547200 + x FROM s; \
             INSERT INTO payments (public_id, receipt_id, provider, external_id, idempotency_key, amount_minor, \
             currency, status, created_at, updated_at, refunded_minor, second_payment) \
             SELECT 'bulk_' || id, id, 'dummy', 'bulk_ext_' || id, 'bulk_idem_' || id, 100, 'THB', 'succeeded', \
             created_at, created_at, 0, FALSE FROM receipts WHERE created_at < 1767225600"
        ))
        .unwrap();
    chrome.log_out().await;
    chrome.log_in("root").await;
    chrome.open("/admin/receipts?provider=dummy").await;
    let bounded = chrome
        .wait_for("#totals-bounded")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        bounded.contains("More than 2000 receipts match this provider or search"),
        "{name}: {bounded}"
    );
    problems.extend(chrome.check_page("money-in-view-admin-receipts-bounded").await);
    chrome.quit().await;
    assert_no_problems(&problems, name);
}

at_both_sizes!(money_in_view: browser_money_stays_in_view_on_desktop, browser_money_stays_in_view_on_a_phone);

#[cfg(all(feature = "stripe", feature = "paypal"))]
mod choice {
    use super::*;

    /// Several providers at once: the payer sees one "Pay with ..." per provider that can take the
    /// receipt, above the line items, and pays with the one chosen.
    async fn provider_choice(viewport: Viewport) {
        use payments_paypal::testing::MockPayPal;
        use payments_stripe::testing::MockStripe;
        let name = viewport.name;
        let stripe = MockStripe::start().await;
        let paypal = MockPayPal::start().await;
        let mut vars = stripe.env_vars();
        vars.extend(paypal.env_vars());
        vars.push(("PAYMENT_PROVIDERS", "dummy,stripe,paypal".into()));
        let server = TestServer::start_with(crate::support::Db::Sqlite, &vars).await;
        server.add_user("alice", Role::User);
        server.add_usage(
            "alice",
            "climate-ensemble-member-0042-of-0100-restart-from-checkpoint",
            120,
        );
        let alice = Browser::login(&server, "alice").await;
        let receipt = alice.create_receipt().await;
        let chrome = Chrome::start(viewport, &server).await;
        chrome.log_in("alice").await;
        chrome.open(&format!("/receipts/{receipt}")).await;
        let labels = chrome
            .script(
                "return [...document.querySelectorAll('#pay-with button')].map(b => b.textContent.trim())",
            )
            .await
            .expect("buttons");
        assert_eq!(
            labels,
            json!([
                "Pay with the dummy provider",
                "Pay with Stripe",
                "Pay with PayPal"
            ]),
            "{name}"
        );
        let off = cells_outside(&chrome, "#pay-with button", None).await;
        assert!(off.is_empty(), "{name}: payment buttons off screen: {off:?}");
        let mut problems = chrome.check_page("provider-choice").await;
        chrome.click_button("Pay with the dummy provider").await;
        chrome.wait_for_heading("Dummy payment provider").await;
        chrome.click_button("Succeed").await;
        chrome.wait_for("h1#outcome[data-outcome=paid]").await;
        problems.extend(chrome.check_page("provider-choice-paid").await);
        assert_eq!(server.receipt_status(receipt), ReceiptStatus::Paid, "{name}");
        assert!(stripe.session_ids().is_empty(), "{name}: Stripe was not asked");
        chrome.quit().await;
        assert_no_problems(&problems, name);
    }

    at_both_sizes!(provider_choice: browser_provider_choice_on_desktop, browser_provider_choice_on_a_phone);
}
