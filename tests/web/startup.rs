//! Start-up: configuration errors, health.

use std::process::Command;

use reqwest::StatusCode;

use crate::support::TestServer;

fn run_web(env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_web"));
    cmd.current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.arg("migrate").output().expect("run web");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_provider_stops_start_up_with_a_clear_message() {
    let (code, stderr) = run_web(&[("PAYMENT_PROVIDER", "foo")]);
    let dir = tempfile::tempdir().unwrap();
    let serve = Command::new(env!("CARGO_BIN_EXE_web"))
        .current_dir(dir.path())
        .env_clear()
        .env("PAYMENT_PROVIDER", "foo")
        .env("BIND_ADDR", "127.0.0.1:0")
        .output()
        .expect("run web");
    let serve_err = String::from_utf8_lossy(&serve.stderr);
    assert_eq!(serve.status.code(), Some(1), "{serve_err}");
    assert!(serve_err.contains("Unknown PAYMENT_PROVIDER: foo"), "{serve_err}");
    assert!(
        serve_err.contains("dummy"),
        "lists the compiled providers: {serve_err}"
    );
    // Every command validates the whole configuration first.
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("Unknown PAYMENT_PROVIDER: foo"), "{stderr}");
}

#[test]
fn bad_configuration_names_the_variable() {
    for (var, value, expect) in [
        ("PAYMENT_CURRENCY", "XYZ", "PAYMENT_CURRENCY"),
        ("SITE_BASE_URL", "example.org", "SITE_BASE_URL"),
        ("BIND_ADDR", "nowhere", "BIND_ADDR"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("SESSION_SECRET", "short", "SESSION_SECRET"),
        ("RATE_GPU_HOUR", "12.5", "RATE_GPU_HOUR"),
        ("PAYMENT_SUCCESS_PATH", "thanks", "PAYMENT_SUCCESS_PATH"),
        ("DB_DURABILITY", "fast", "DB_DURABILITY"),
        ("WEBHOOK_QUEUE_LIMIT", "0", "WEBHOOK_QUEUE_LIMIT"),
        ("WEBHOOK_QUEUE_WAIT_MS", "soon", "WEBHOOK_QUEUE_WAIT_MS"),
    ] {
        let (code, stderr) = run_web(&[(var, value)]);
        assert_eq!(code, 1, "{var}={value}: {stderr}");
        assert!(stderr.contains(expect), "{var}={value}: {stderr}");
    }
    let (code, stderr) = run_web(&[("PAYMENT_PROVIDER", "stripe")]);
    assert_eq!(code, 1);
    if cfg!(feature = "stripe") {
        assert!(stderr.contains("SESSION_SECRET is required"), "{stderr}");
    } else {
        assert!(stderr.contains("--features stripe"), "{stderr}");
    }
}

#[test]
fn a_provider_that_is_not_compiled_in_names_its_feature() {
    let env: std::collections::HashMap<String, String> = [
        ("PAYMENT_PROVIDER", "paypal"),
        ("SESSION_SECRET", "0123456789abcdef0123456789abcdef0123456789"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = payments_web::config::Config::from_source(&env);
    if cfg!(feature = "paypal") {
        // Compiled in: it complains about PayPal's own variables instead.
        let err = payments_web::startup::build_providers(&config.unwrap(), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("PAYPAL_"), "{err}");
    } else {
        let err = config.unwrap_err().to_string();
        assert!(err.contains("--features paypal"), "{err}");
    }
}

#[actix_web::test]
async fn healthz_reports_database_and_provider() {
    let server = TestServer::start().await;
    let resp = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["database"]["reachable"], true);
    assert_eq!(body["database"]["backend"], "sqlite");
    assert_eq!(body["database"]["durability"], "durable");
    assert_eq!(body["provider"], "dummy");
}

#[actix_web::test]
async fn first_run_seeds_demo_accounts_once() {
    let server = TestServer::start().await;
    let rates = server.state.config.rates();
    let demo = payments_app::accounts::seed_if_empty(server.store(), &rates)
        .unwrap()
        .expect("seeded");
    assert_eq!(demo.user.0, "demo");
    assert!(payments_app::accounts::seed_if_empty(server.store(), &rates)
        .unwrap()
        .is_none());
    let demo_user = server.store().user_by_username("demo").unwrap().unwrap();
    assert_eq!(server.store().usage_for_user(demo_user.id).unwrap().len(), 3);
}

fn web_in(dir: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_web"))
        .current_dir(dir)
        .env_clear()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run web");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_adds_users_and_imports_usage_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = web_in(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        "a-long-password\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created user alice"), "{out}");
    let (code, _, err) = web_in(
        dir.path(),
        &["user", "add", "alice", "--password-stdin"],
        "a-long-password\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = web_in(
        dir.path(),
        &["user", "add", "bob", "--admin", "--password-stdin"],
        "short\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("at least 10 characters"), "{err}");

    let header = payments_app::usage::HEADER;
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("{header}\nalice,j1,ok,3600,0,2026-11-01T00:00:00Z\nalice,j2,x,1.5,0,2026-11-01T00:00:00Z\nnobody,j3,x,1,0,1700000000\n"),
    )
    .unwrap();
    let (code, _, err) = web_in(dir.path(), &["usage", "import", bad.to_str().unwrap()], "");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("nothing was imported") && err.contains("line 3:"),
        "{err}"
    );
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!("{header}\nalice,j1,ok,3600,0,2026-11-01T00:00:00Z\nnobody,j3,x,1,0,1700000000\n"),
    )
    .unwrap();
    let (code, _, err) = web_in(dir.path(), &["usage", "import", good.to_str().unwrap()], "");
    assert_eq!(code, 1, "an unknown user is reported by line");
    assert!(err.contains("line 3: unknown user \"nobody\""), "{err}");
    std::fs::write(
        &good,
        format!("{header}\nalice,j1,ok,3600,1800,2026-11-01T00:00:00Z\n"),
    )
    .unwrap();
    let (code, out, err) = web_in(dir.path(), &["usage", "import", good.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported 1 usage records"), "{out}");

    let url = format!("sqlite://{}/data/app.db", dir.path().display());
    let store = payments_store::Store::open(&url, &Default::default()).unwrap();
    let alice = store.user_by_username("alice").unwrap().unwrap();
    let usage = store.usage_for_user(alice.id).unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(
        usage[0].cost().unwrap().to_string(),
        "THB 26.00",
        "1 core-hour + half a GPU-hour"
    );
}

/// The site's base URL from the server's last `Open <base>/login ...` line.
pub(crate) fn base_from_open_line(lines: &[String]) -> String {
    lines
        .last()
        .and_then(|l| l.strip_prefix("Open "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|u| u.trim_end_matches("/login").to_string())
        .unwrap_or_else(|| panic!("{lines:?}"))
}

/// The real binary, started on `BIND_ADDR`, until it prints its `Open …` line: returns every
/// line it printed up to then, and the child (killed on drop by the caller).
pub(crate) fn serve_until_open(
    env: &[(&str, &str)],
) -> (Vec<String>, std::process::Child, tempfile::TempDir) {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_web"));
    cmd.current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run web");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("utf-8 stdout");
        let done = line.starts_with("Open ");
        lines.push(line);
        if done {
            break;
        }
    }
    (lines, child, dir)
}

#[tokio::test]
async fn without_site_base_url_the_server_prints_the_address_it_really_listens_on() {
    let (lines, mut child, _dir) = serve_until_open(&[("BIND_ADDR", "127.0.0.1:0")]);
    let open = lines.last().expect("an Open line");
    let url = open
        .strip_prefix("Open ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{lines:?}"));
    let port: u16 = url
        .trim_end_matches("/login")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"));
    assert_ne!(port, 0, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("Listening on 127.0.0.1:{port}")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("SITE_BASE_URL is not set")),
        "{lines:?}"
    );
    // The printed address is the one that answers.
    let health = reqwest::get(url.replace("/login", "/healthz")).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        health.expect("healthz at the printed address").status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_site_base_url_that_differs_from_bind_addr_is_named_as_the_one_used() {
    let (lines, mut child, _dir) = serve_until_open(&[
        ("BIND_ADDR", "127.0.0.1:0"),
        ("SITE_BASE_URL", "https://pay.example.org"),
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l.contains("differ")
            && l.contains("https://pay.example.org")
            && l.contains("sent to SITE_BASE_URL")),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Open https://pay.example.org/login  (provider: dummy, database: sqlite)")
    );
}

#[cfg(feature = "stripe")]
#[tokio::test]
async fn a_real_provider_on_an_empty_database_says_how_to_create_the_first_admin() {
    let (lines, mut child, _dir) = serve_until_open(&[
        ("BIND_ADDR", "127.0.0.1:0"),
        ("PAYMENT_PROVIDER", "stripe"),
        ("SESSION_SECRET", "0123456789abcdef0123456789abcdef0123"),
        ("STRIPE_SECRET_KEY", payments_stripe::testing::TEST_SECRET_KEY),
        ("STRIPE_WEBHOOK_SECRET", "whsec_first_run_0123456789abcdef"),
        ("STRIPE_API_BASE", "http://127.0.0.1:9"),
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("First run: there are no users yet")
                && l.contains("web user add NAME --admin")),
        "{lines:?}"
    );
    // No demo accounts with a real provider.
    assert!(!lines.iter().any(|l| l.contains("password ")), "{lines:?}");
}

/// Issue 25: the first run's demo accounts, as printed and as the README shows them, in columns:
/// both passwords start under each other.
#[test]
fn the_demo_accounts_are_printed_in_columns_as_the_readme_shows_them() {
    let (lines, mut child, _dir) = serve_until_open(&[("BIND_ADDR", "127.0.0.1:0")]);
    let _ = child.kill();
    let _ = child.wait();
    let column = |lines: &[&str], who: &str| {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("  {who} ")))
            .unwrap_or_else(|| panic!("no {who} line in {lines:?}"));
        line.find(" password ")
            .unwrap_or_else(|| panic!("no password in {line:?}"))
    };
    let printed: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert!(
        printed.contains(&"First run: created demo accounts (shown only now):"),
        "{printed:?}"
    );
    let at = column(&printed, "user");
    assert_eq!(column(&printed, "admin"), at, "{printed:?}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let shown: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "First run: created demo accounts (shown only now):")
        .take(3)
        .collect();
    assert_eq!(shown.len(), 3, "the README shows the block");
    assert_eq!(
        (column(&shown, "user"), column(&shown, "admin")),
        (at, at),
        "{shown:?}"
    );
}

/// Issue 25: `.env.example` names every provider this project knows in `PAYMENT_PROVIDER`'s
/// comment, and every variable `web --help` lists (the server's and those of the adapters
/// compiled in); with every adapter compiled in, nothing more.
#[test]
fn env_example_lists_every_provider_and_variable_that_web_help_does() {
    let out = Command::new(env!("CARGO_BIN_EXE_web"))
        .arg("--help")
        .env_clear()
        .output()
        .expect("web --help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env.example")).unwrap();
    let listed: std::collections::BTreeSet<&str> = example
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name))
        .filter(|name| !name.starts_with('#'))
        .collect();
    let helped: std::collections::BTreeSet<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Environment"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(helped.len() > 20, "{help}");
    let missing: Vec<_> = helped.difference(&listed).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    let providers_line = help
        .lines()
        .find(|l| l.starts_with("Providers compiled in: "))
        .expect("the providers line");
    let (compiled, known) = providers_line
        .trim_start_matches("Providers compiled in: ")
        .trim_end_matches(')')
        .split_once(" (known: ")
        .expect("compiled (known: ...)");
    let choice = example
        .lines()
        .find(|l| l.starts_with("PAYMENT_PROVIDER="))
        .expect("PAYMENT_PROVIDER");
    let comment = choice.split_once('#').map(|(_, c)| c).unwrap_or_default();
    let offered: Vec<&str> = comment
        .split('(')
        .next()
        .unwrap_or_default()
        .split('|')
        .map(str::trim)
        .collect();
    let known: Vec<&str> = known.split(", ").collect();
    assert_eq!(offered, known, "{choice}");
    for provider in &known {
        assert!(
            example.contains(&format!("# --- {provider} ")),
            "no section for {provider} in .env.example"
        );
    }
    if compiled.split(", ").count() == known.len() {
        let extra: Vec<_> = listed.difference(&helped).collect();
        assert!(
            extra.is_empty(),
            ".env.example names variables nothing reads: {extra:?}"
        );
    }
}
