//! Logs to the console and to `LOG_DIR/app.log`. Secrets are never logged: configuration
//! types redact them in `Debug`, and webhook bodies are not logged.

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
