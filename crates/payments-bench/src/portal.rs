//! `--portal`: every page of the portal on a database with 1,000 usage records, receipts and
//! audit entries and on one with a centre's history (by default 1,000,000 usage records, 100,000
//! of them one payer's, 1,000,000 receipts and 10,000,000 audit entries), seeded in bulk (see
//! [`super::seed`]), measured through the real server in the same run: each page's median over
//! several requests, and the ratio.

use std::io::Write;
use std::time::{Duration, Instant};

use payments_store::{Durability, PoolOptions, Store};

use super::seed::{self, Sizes, MONTH, START};
use super::{ms, Args, Failure, Scratch, ServerProcess};

const PASSWORD: &str = "bench-password-of-some-length-42";
const SMALL: usize = 1_000;
const REQUESTS: usize = 15;

pub(super) fn err(e: impl std::fmt::Display) -> Failure {
    e.to_string()
}

/// Creates `name` through the server binary (`web user add --password-stdin`).
pub(super) fn add_user(
    binary: &std::path::Path,
    url: &str,
    dir: &std::path::Path,
    name: &str,
) -> Result<(), Failure> {
    add_account(binary, url, dir, name, false)
}

fn add_account(
    binary: &std::path::Path,
    url: &str,
    dir: &std::path::Path,
    name: &str,
    admin: bool,
) -> Result<(), Failure> {
    let mut args = vec!["user", "add", name, "--password-stdin"];
    if admin {
        args.push("--admin");
    }
    let mut child = std::process::Command::new(binary)
        .args(&args)
        .env("DATABASE_URL", url)
        .env("LOG_DIR", dir.join("log"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(err)?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .map_err(err)?;
    let out = child.wait_with_output().map_err(err)?;
    if !out.status.success() {
        return Err(format!(
            "web user add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// A logged-in client: the session cookie sent by hand (the benchmark's HTTP client keeps none).
pub(super) struct Session {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

fn cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect()
}

impl Session {
    pub(super) async fn login(base: &str, user: &str) -> Result<Session, Failure> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(err)?;
        let page = client.get(format!("{base}/login")).send().await.map_err(err)?;
        let cookie = cookies(&page).join("; ");
        let html = page.text().await.map_err(err)?;
        let token = html
            .split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .ok_or("no CSRF token on the login page")?
            .to_string();
        let resp = client
            .post(format!("{base}/login"))
            .header("Cookie", &cookie)
            .form(&[("username", user), ("password", PASSWORD), ("csrf_token", &token)])
            .send()
            .await
            .map_err(err)?;
        if resp.status() != reqwest::StatusCode::SEE_OTHER {
            return Err(format!("login as {user}: {}", resp.status()));
        }
        let mut jar: Vec<String> = cookie.split("; ").map(str::to_string).collect();
        for c in cookies(&resp) {
            let name = c.split('=').next().unwrap_or_default().to_string();
            jar.retain(|old| !old.starts_with(&format!("{name}=")));
            jar.push(c);
        }
        Ok(Session {
            client,
            base: base.to_string(),
            cookie: jar.join("; "),
        })
    }

    /// The page's body and how long it took.
    pub(super) async fn get(&self, path: &str) -> Result<(String, Duration), Failure> {
        let (body, _, took) = self.get_bytes(path).await?;
        let body = String::from_utf8(body).map_err(|e| format!("GET {path}: not UTF-8: {e}"))?;
        Ok((body, took))
    }

    /// The body of `path` as bytes, the time to its first chunk and to its end.
    pub(super) async fn get_bytes(&self, path: &str) -> Result<(Vec<u8>, Duration, Duration), Failure> {
        let started = Instant::now();
        let mut resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .map_err(err)?;
        if !resp.status().is_success() {
            return Err(format!("GET {path}: {}", resp.status()));
        }
        let mut body = Vec::new();
        let mut first = None;
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {path}: {e}"))? {
            first.get_or_insert_with(|| started.elapsed());
            body.extend_from_slice(&chunk);
        }
        Ok((body, first.unwrap_or_default(), started.elapsed()))
    }

    /// Median microseconds of `REQUESTS` requests for `path` (after one unmeasured).
    async fn median_us(&self, path: &str) -> Result<u64, Failure> {
        self.get(path).await?;
        let mut times = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            times.push(u64::try_from(self.get(path).await?.1.as_micros()).unwrap_or(u64::MAX));
        }
        times.sort_unstable();
        Ok(times[times.len() / 2])
    }
}

/// The "later records" link of My Usage (keyset paging), when the page has one.
fn later_link(body: &str) -> Option<String> {
    let end = body.find("\" rel=\"next\"")?;
    let start = body[..end].rfind("href=\"")? + 6;
    Some(body[start..end].replace("&#x2F;", "/").replace("&amp;", "&"))
}

/// One page measured on both databases.
struct Figure {
    label: String,
    small_us: u64,
    large_us: u64,
}

/// The pages measured, each on the database it is given, as `(label, median µs)`: a payer's
/// My Usage and receipts, an admin's All receipts and audit log, with their filters and the
/// pages their "older" links lead to; then the complete CSV, timed once.
async fn measure(base: &str, receipts: (i64, i64)) -> Result<Vec<(String, u64)>, Failure> {
    let payer = Session::login(base, "payer").await?;
    let admin = Session::login(base, "root").await?;
    let day = |t: i64| {
        let d = time_day(t);
        format!("{:04}-{:02}-{:02}", d.0, d.1, d.2)
    };
    let last_month = START + 11 * MONTH;
    let mid = START + 6 * MONTH;
    let mut out = Vec::new();
    let payer_pages = [
        ("My Usage", "/me".to_string()),
        (
            "My Usage, last month",
            format!(
                "/me?from={}&to={}",
                day(last_month),
                day(last_month + MONTH - 86_400)
            ),
        ),
        (
            "payer's receipt (1st page of lines)",
            format!("/receipts/{}", receipts.0),
        ),
    ];
    for (label, path) in payer_pages {
        out.push((label.to_string(), payer.median_us(&path).await?));
    }
    let (first, _) = payer.get("/me").await?;
    let later = later_link(&first).ok_or("My Usage has no \"later records\" link")?;
    out.push(("My Usage, later records".into(), payer.median_us(&later).await?));

    let admin_pages = [
        ("All receipts", "/admin/receipts".to_string()),
        (
            "All receipts, user+status",
            "/admin/receipts?user=p07&status=unpaid".into(),
        ),
        (
            "All receipts, one month",
            format!(
                "/admin/receipts?from={}&to={}",
                day(mid),
                day(mid + MONTH - 86_400)
            ),
        ),
        ("All receipts, provider", "/admin/receipts?provider=stripe".into()),
        ("All receipts, search", "/admin/receipts?q=p13".into()),
        ("a one-line receipt", format!("/receipts/{}", receipts.1)),
        ("Audit log", "/admin/audit".into()),
        ("Audit log, action", "/admin/audit?action=payment.finalize".into()),
        ("Audit log, actor", "/admin/audit?actor=root".into()),
        (
            "Audit log, one day",
            format!("/admin/audit?from={}&to={}", day(mid), day(mid)),
        ),
        (
            "Audit log, receipt",
            format!("/admin/audit?receipt={}", receipts.1),
        ),
        ("Audit log, text search", "/admin/audit?q=evt_bench_77".into()),
    ];
    for (label, path) in admin_pages {
        out.push((label.to_string(), admin.median_us(&path).await?));
    }
    for (label, path) in [
        ("All receipts, older", "/admin/receipts"),
        ("Audit log, older", "/admin/audit"),
    ] {
        let (page, _) = admin.get(path).await?;
        let older = later_link(&page).ok_or(format!("{path} has no link to older entries"))?;
        out.push((label.to_string(), admin.median_us(&older).await?));
    }
    let (csv, took) = admin.get("/admin/receipts.csv").await?;
    out.push((
        format!("receipts CSV, whole ({} lines)", csv.lines().count()),
        u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    ));
    Ok(out)
}

/// `--portal`: a database with 1,000 of each (usage records, receipts, audit entries) and one
/// with `sizes`, seeded in bulk; every page's median on each through the real server, with the
/// ratio, and each server's peak memory.
pub(super) fn run(args: &Args, server_binary: &std::path::Path, sizes: Sizes) -> Result<(), Failure> {
    let dir = tempfile::tempdir().map_err(err)?;
    let small_sizes = Sizes {
        usage: SMALL,
        payer_usage: SMALL,
        receipts: SMALL,
        audit: SMALL,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let mut results: Vec<Vec<(String, u64)>> = Vec::new();
    for s in [small_sizes, sizes] {
        let scratch = Scratch::create(args)?;
        add_account(server_binary, scratch.url(), dir.path(), "payer", false)?;
        add_account(server_binary, scratch.url(), dir.path(), "root", true)?;
        let seeding = Instant::now();
        let receipts = {
            let relaxed = PoolOptions {
                durability: Durability::Relaxed,
                ..PoolOptions::default()
            };
            let store = Store::open(scratch.url(), &relaxed).map_err(err)?;
            seed::seed(&store, s)?
        };
        println!(
            "seeded {:?}: {} usage records of one payer and {} of twenty others, {} receipts, {} audit entries in {} s",
            args.backend,
            s.payer_usage,
            s.usage,
            s.receipts,
            s.audit,
            seeding.elapsed().as_secs()
        );
        let server = ServerProcess::start(server_binary, scratch.url(), Durability::Durable, dir.path())?;
        let got = runtime.block_on(measure(&server.base, receipts));
        let report = server.stop()?;
        if let Some(kib) = report.peak_rss_kib {
            println!("peak RSS of the server: {} MB", kib / 1024);
        }
        results.push(got?);
        if args.keep_databases {
            println!("kept: {}", scratch.url());
            std::mem::forget(scratch);
        }
    }
    println!(
        "== {:?}: median of {REQUESTS} requests; small: 1,000 records of the payer, 1,000 of others, 1,000 receipts, \
         1,000 audit entries; large: {} records of the payer, {} of others, {} receipts, {} audit entries",
        args.backend, sizes.payer_usage, sizes.usage, sizes.receipts, sizes.audit
    );
    let figures: Vec<Figure> = results[0]
        .iter()
        .zip(&results[1])
        .map(|(s, l)| Figure {
            label: if s.0 == l.0 {
                l.0.clone()
            } else {
                format!("{} / {}", s.0, l.0)
            },
            small_us: s.1,
            large_us: l.1,
        })
        .collect();
    for f in &figures {
        println!(
            "{:<48} small {:>9} ms   large {:>9} ms   ratio {}",
            f.label,
            ms(f.small_us),
            ms(f.large_us),
            super::ratio(f.large_us, f.small_us)
        );
    }
    Ok(())
}

/// The UTC calendar day of unix time `t` (days since 1970 to a civil date, Howard Hinnant's
/// algorithm), for the date filter.
fn time_day(t: i64) -> (i64, i64, i64) {
    let z = t.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_are_civil_dates() {
        assert_eq!(super::time_day(0), (1970, 1, 1));
        assert_eq!(super::time_day(super::START), (2025, 12, 1));
        assert_eq!(super::time_day(1_709_164_800), (2024, 2, 29));
    }
}
