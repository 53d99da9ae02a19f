//! `--portal-rows N`: My Usage for a payer with a small history (1,000 records) and for one with
//! N records, in the same database, through the real server: each page's median time over
//! several requests, and the ratio. Each user's history spans twelve months; the first eleven
//! are billed (one receipt a month, made through the store), the last month is unbilled.

use std::io::Write;
use std::time::{Duration, Instant};

use payments_store::{Durability, NewUsage, PoolOptions, Store};

use super::{ms, thb, Args, Failure, Scratch, ServerProcess};

const PASSWORD: &str = "bench-password-of-some-length-42";
const SMALL: usize = 1_000;
const REQUESTS: usize = 15;
/// 2025-12-01 00:00 UTC: twelve months of 30 days from here.
const START: i64 = 1_764_547_200;
const MONTH: i64 = 30 * 86_400;

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

/// `rows` records for `user` over twelve months; the first eleven months billed, a receipt each.
fn history(store: &Store, user: &str, rows: usize) -> Result<(), Failure> {
    let cost = thb(100)?;
    let owner = store.user_by_username(user).map_err(err)?.ok_or("no such user")?;
    for start in (0..rows).step_by(50_000) {
        let chunk: Vec<NewUsage> = (start..rows.min(start + 50_000))
            .map(|i| NewUsage {
                username: user.into(),
                job_id: format!("{user}-job-{i:08}"),
                description: "bench job".into(),
                cpu_core_seconds: 360,
                gpu_seconds: 0,
                ended_at: START + (i as i64 * 12 * MONTH) / rows as i64,
                cost,
            })
            .collect();
        store.import_usage(&chunk, "bench").map_err(err)?;
    }
    for month in 0..11 {
        let since = START + month * MONTH;
        store
            .create_receipt_for_unbilled(owner.id, Some(since), Some(since + MONTH), "bench")
            .map_err(err)?;
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
        let started = Instant::now();
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .map_err(err)?;
        if !resp.status().is_success() {
            return Err(format!("GET {path}: {}", resp.status()));
        }
        let body = resp.text().await.map_err(err)?;
        Ok((body, started.elapsed()))
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

pub(super) fn run(args: &Args, server_binary: &std::path::Path, rows: usize) -> Result<(), Failure> {
    let scratch = Scratch::create(args)?;
    let dir = tempfile::tempdir().map_err(err)?;
    for user in ["small", "large"] {
        add_user(server_binary, scratch.url(), dir.path(), user)?;
    }
    let seeding = std::time::Instant::now();
    {
        let relaxed = PoolOptions {
            durability: Durability::Relaxed,
            ..PoolOptions::default()
        };
        let store = Store::open(scratch.url(), &relaxed).map_err(err)?;
        history(&store, "small", SMALL)?;
        history(&store, "large", rows)?;
    }
    println!(
        "== My Usage: {SMALL} records vs {rows} records of one payer ({:?}, 11 of 12 months billed; seeded in {} ms)",
        args.backend,
        seeding.elapsed().as_millis()
    );
    let server = ServerProcess::start(server_binary, scratch.url(), Durability::Durable, dir.path())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let last_month = {
        let day = |t: i64| {
            let d = time_day(t);
            format!("{:04}-{:02}-{:02}", d.0, d.1, d.2)
        };
        let since = START + 11 * MONTH;
        format!("/me?from={}&to={}", day(since), day(since + MONTH - 86_400))
    };
    let result: Result<(), Failure> = runtime.block_on(async {
        let small = Session::login(&server.base, "small").await?;
        let large = Session::login(&server.base, "large").await?;
        let mut lines = Vec::new();
        for (label, path) in [
            ("first page", "/me".to_string()),
            ("one-month filter", last_month.clone()),
        ] {
            lines.push((
                label,
                small.median_us(&path).await?,
                large.median_us(&path).await?,
            ));
        }
        let (small_first, _) = small.get("/me").await?;
        let (large_first, _) = large.get("/me").await?;
        match (later_link(&small_first), later_link(&large_first)) {
            (Some(s), Some(l)) => lines.push((
                "later records",
                small.median_us(&s).await?,
                large.median_us(&l).await?,
            )),
            _ => println!("(no \"later records\" link on the page: this server pages otherwise)"),
        }
        for (label, s, l) in lines {
            println!(
                "{label:<18} {SMALL} records {:>8} ms   {rows} records {:>8} ms   ratio {}",
                ms(s),
                ms(l),
                super::ratio(l, s)
            );
        }
        Ok(())
    });
    server.stop()?;
    result
}

/// `n` receipts of one payer (one usage record each, made through the store, relaxed: a
/// scratch database) and an admin.
fn receipts_db(
    args: &Args,
    binary: &std::path::Path,
    dir: &std::path::Path,
    n: usize,
) -> Result<Scratch, Failure> {
    let scratch = Scratch::create(args)?;
    add_account(binary, scratch.url(), dir, "payer", false)?;
    add_account(binary, scratch.url(), dir, "root", true)?;
    let relaxed = PoolOptions {
        durability: Durability::Relaxed,
        ..PoolOptions::default()
    };
    let store = Store::open(scratch.url(), &relaxed).map_err(err)?;
    let owner = store.user_by_username("payer").map_err(err)?.ok_or("no payer")?;
    let cost = thb(1_234)?;
    for start in (0..n).step_by(50_000) {
        let chunk: Vec<NewUsage> = (start..n.min(start + 50_000))
            .map(|i| NewUsage {
                username: "payer".into(),
                job_id: format!("r-{i:09}"),
                description: "bench job".into(),
                cpu_core_seconds: 3_600,
                gpu_seconds: 0,
                ended_at: START + i as i64,
                cost,
            })
            .collect();
        store.import_usage(&chunk, "bench").map_err(err)?;
    }
    for i in 0..n {
        let at = START + i as i64;
        store
            .create_receipt_for_unbilled(owner.id, Some(at), Some(at + 1), "bench")
            .map_err(err)?;
    }
    Ok(scratch)
}

/// `--portal-receipts N`: All receipts and its CSV for an admin, on a database of 1,000
/// receipts and on one of N: each page's median time, the ratio, and the CSV's size and time.
pub(super) fn run_receipts(args: &Args, server_binary: &std::path::Path, n: usize) -> Result<(), Failure> {
    let dir = tempfile::tempdir().map_err(err)?;
    let seeding = Instant::now();
    let small = receipts_db(args, server_binary, dir.path(), SMALL)?;
    let large = receipts_db(args, server_binary, dir.path(), n)?;
    println!(
        "== All receipts: {SMALL} receipts vs {n} receipts ({:?}; seeded in {} ms)",
        args.backend,
        seeding.elapsed().as_millis()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(err)?;
    let mut figures: Vec<Vec<(String, u64)>> = Vec::new();
    for scratch in [&small, &large] {
        let server = ServerProcess::start(server_binary, scratch.url(), Durability::Durable, dir.path())?;
        let got: Result<Vec<(String, u64)>, Failure> = runtime.block_on(async {
            let admin = Session::login(&server.base, "root").await?;
            let mut out = Vec::new();
            out.push((
                "newest page".to_string(),
                admin.median_us("/admin/receipts").await?,
            ));
            let (first, _) = admin.get("/admin/receipts").await?;
            if let Some(older) = later_link(&first) {
                out.push(("older page".to_string(), admin.median_us(&older).await?));
            }
            out.push((
                "user filter".to_string(),
                admin
                    .median_us("/admin/receipts?user=payer&status=unpaid")
                    .await?,
            ));
            let (csv, took) = admin.get("/admin/receipts.csv").await?;
            out.push((
                format!("CSV ({} lines)", csv.lines().count()),
                u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            ));
            Ok(out)
        });
        let report = server.stop()?;
        if let Some(kib) = report.peak_rss_kib {
            println!(
                "peak RSS of the server with {} receipts: {} MB",
                if figures.is_empty() { SMALL } else { n },
                kib / 1024
            );
        }
        figures.push(got?);
    }
    for (s, l) in figures[0].iter().zip(&figures[1]) {
        println!(
            "{:<26} {SMALL} receipts {:>9} ms   {n} receipts {:>9} ms   ratio {}   [{}]",
            s.0,
            ms(s.1),
            ms(l.1),
            super::ratio(l.1, s.1),
            l.0
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
