//! `web usage import` as an operator runs it, on a file larger than any one statement can take:
//! `--dry-run` checks without importing, the import is all or nothing, and the problems of a
//! bad file are listed by line (the first 100, then a count), on SQLite and PostgreSQL.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::Db;

const ROWS: usize = 60_000;

fn web(dir: &std::path::Path, database: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_web"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database)
        .env("LOG_DIR", dir.join("log"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run web");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rows` jobs spread over `users` users (user0, user1, ...).
fn usage_file(path: &std::path::Path, rows: usize, users: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "{}", payments_app::usage::HEADER).unwrap();
    for i in 0..rows {
        writeln!(
            out,
            "user{},job-{i:07},array task {i},3600,0,2026-11-01T12:00:00Z",
            i % users
        )
        .unwrap();
    }
}

crate::on_both_backends! {
    import_on: a_file_of_sixty_thousand_rows_is_checked_then_imported_whole, import_on_postgres, "web_usage_import";
}

async fn import_on(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let database = match &db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("app.db").display()),
        Db::Postgres(pg) => pg.url.clone(),
    };
    let db_ = database.clone();
    let run = move |args: &[&str], stdin: &str| web(dir.path(), &db_, args, stdin);
    for user in ["user0", "user1", "user2"] {
        let (ok, _, err) = run(
            &["user", "add", user, "--password-stdin"],
            "a-long-enough-password-42\n",
        );
        assert!(ok, "{err}");
    }
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("good.csv");
    usage_file(&good, ROWS, 3);
    let good = good.to_str().unwrap();

    let (ok, out, err) = run(&["usage", "import", good, "--dry-run"], "");
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "all {ROWS} rows are good; nothing was imported (--dry-run)"
        )),
        "{out}"
    );
    let count = |store: &payments_store::Store| -> usize {
        (0..3)
            .map(|u| {
                let user = store.user_by_username(&format!("user{u}")).unwrap().unwrap();
                store.usage_for_user(user.id).unwrap().len()
            })
            .sum()
    };
    let store = payments_store::Store::open(&database, &payments_store::PoolOptions::default()).unwrap();
    assert_eq!(count(&store), 0, "a dry run imports nothing");

    let (ok, out, err) = run(&["usage", "import", good], "");
    assert!(ok, "{err}");
    assert!(
        out.starts_with(&format!("imported {ROWS} usage records from")),
        "{out}"
    );
    assert_eq!(count(&store), ROWS);

    // The same file again: every row is refused, nothing changes.
    let (ok, out, err) = run(&["usage", "import", good], "");
    assert!(!ok, "{out}");
    assert!(
        err.contains(&format!("{ROWS} of {ROWS} rows have problems")),
        "{err}"
    );
    assert!(
        err.contains("line 2: job \"job-0000000\" of user0 was already imported"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "... and {} more bad rows (only the first 100 are listed)",
            ROWS - 100
        )),
        "{err}"
    );
    assert_eq!(
        err.matches("\n  line ").count(),
        100,
        "the first 100 problems: {err}"
    );
    assert_eq!(count(&store), ROWS, "all or nothing");
}
