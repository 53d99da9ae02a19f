//! Logs to the console and to `LOG_DIR/app.log`. Secrets are never logged: configuration
//! types redact them in `Debug`, and webhook bodies are not logged.

use std::io::ErrorKind;
use std::path::Path;

use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"))
}

/// Console only (CLI commands before the configuration is known).
pub fn console() {
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(fmt::layer().with_writer(std::io::stderr))
        .try_init();
}

/// Why `dir` cannot hold `app.log`, found without creating anything: `None` when it can. A
/// missing folder is fine when its nearest existing parent is a folder we may write in (it is
/// created then); an existing one must be a folder we may write in (a probe file is created
/// there and removed at once), and an existing `app.log` must open for appending.
pub fn dir_problem(dir: &Path) -> Option<String> {
    let mut existing = dir;
    let missing = loop {
        match std::fs::metadata(existing) {
            Ok(_) => break existing != dir,
            // Missing, or under a file: the nearest existing parent says which.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                match existing.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                    _ => {
                        existing = Path::new(".");
                        break true;
                    }
                }
            }
            Err(e) => return Some(format!("{} cannot be read: {e}", existing.display())),
        }
    };
    if !existing.is_dir() {
        return Some(match missing {
            true => format!(
                "{} is a file, so no folder can be created under it",
                existing.display()
            ),
            false => format!("{} is a file, not a folder", existing.display()),
        });
    }
    let probe = existing.join(format!(".app.log.probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => return Some(format!("cannot write in {}: {e}", existing.display())),
    }
    let log = dir.join("app.log");
    if !missing && log.exists() {
        if let Err(e) = std::fs::OpenOptions::new().append(true).open(&log) {
            return Some(format!("{} cannot be opened for appending: {e}", log.display()));
        }
    }
    None
}

/// Console and `dir/app.log`, as text or (`json`) one JSON object a line; keep the guard alive
/// for the life of the server.
pub fn to_file(dir: &Path, json: bool) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!(
            "cannot create LOG_DIR {}: {e}; logging to the console only",
            dir.display()
        );
        return None;
    }
    let (writer, guard) = tracing_appender::non_blocking(tracing_appender::rolling::never(dir, "app.log"));
    let installed = if json {
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry()
                .with(filter())
                .with(fmt::layer().json().with_writer(std::io::stderr))
                .with(fmt::layer().json().with_writer(writer)),
        )
    } else {
        let file_layer = fmt::layer()
            .with_ansi(false)
            .fmt_fields(FileFields::default())
            .with_writer(writer);
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry()
                .with(filter())
                .with(fmt::layer().with_writer(std::io::stderr))
                .with(file_layer),
        )
    };
    installed.ok()?;
    Some(guard)
}

/// The file's own span-field formatter: fmt layers that share a field formatter type share the
/// formatted span fields too, and the console's are coloured (ANSI escapes in `app.log`).
#[derive(Default)]
struct FileFields(fmt::format::DefaultFields);

impl<'writer> fmt::FormatFields<'writer> for FileFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: fmt::format::Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        self.0.format_fields(writer, fields)
    }
}
