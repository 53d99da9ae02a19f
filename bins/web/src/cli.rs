//! The command line: `web serve` (default), `web migrate`, `web reconcile`, `web user add`,
//! `web user passwd`, `web user logout`, `web usage import`.

use std::io::{BufRead, IsTerminal};
use std::net::TcpListener;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use payments_store::{PoolOptions, Role, Store};

use payments_app::accounts::{self, seed_if_empty};
use payments_app::reconcile::Reconciler;
use payments_app::usage;

use crate::config::{Config, Env, Source};
use crate::startup::{self, StartError};

#[derive(Debug, Parser)]
#[command(
    name = "web",
    about = "HPC usage portal with pluggable payment providers",
    version
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run one reconciliation cycle (look up due open payments at the provider, settle them,
    /// expire abandoned checkouts), print what it did and exit (1 when a look-up failed).
    Reconcile,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage usage records.
    Usage {
        #[command(subcommand)]
        command: UsageCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is prompted for, or read from standard input.
    Add {
        username: String,
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password; every session of that user ends.
    Passwd {
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End every session of a user (they must log in again).
    Logout { username: String },
}

#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Import usage records from CSV (header: username,job_id,description,cpu_core_seconds,gpu_seconds,ended_at):
    /// all rows in one transaction or none, read as a stream (any size, bounded memory).
    Import {
        file: PathBuf,
        /// Check the whole file (every row against the users and what is stored) without
        /// importing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

impl Cli {
    /// Parses the command line; `--help` lists the server's variables and those of every
    /// adapter compiled into this binary (from the registry).
    pub fn parse_with_variables() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().after_long_help(variables_help()).get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// The environment variables, for `web --help`.
pub fn variables_help() -> String {
    let mut text = String::from("Environment (also read from ./.env):\n");
    for (name, meaning) in crate::config::VARIABLES
        .iter()
        .chain(payments_app::settings::VARIABLES)
    {
        text.push_str(&format!("  {name:<30} {meaning}\n"));
    }
    for (provider, name, meaning) in crate::registry::variables() {
        text.push_str(&format!("  {name:<30} [{provider}] {meaning}\n"));
    }
    text.push_str(&format!(
        "\nProviders compiled in: {} (known: {})",
        crate::registry::compiled().join(", "),
        crate::registry::KNOWN.join(", ")
    ));
    text
}

/// Runs the command; the error is printed by `main` and the process exits 1.
pub fn run(cli: Cli) -> Result<(), StartError> {
    let serving = matches!(cli.command, None | Some(Command::Serve));
    let config = match Config::from_source(&Env) {
        Ok(config) => config,
        Err(e) if serving => {
            // One start names every problem: the port too, if it can be tried.
            let bind = crate::config::Env
                .get("BIND_ADDR")
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(|| "127.0.0.1:8000".into());
            let in_use = bind.trim().parse::<std::net::SocketAddr>().ok().and_then(|addr| {
                TcpListener::bind(addr).err().map(|source| StartError::Bind {
                    addr: addr.to_string(),
                    source,
                })
            });
            return Err(match in_use {
                None => e.into(),
                Some(bind) => StartError::Problems(vec![format!("configuration: {e}"), bind.to_string()]),
            });
        }
        Err(e) => return Err(e.into()),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Reconcile => reconcile_once(config),
        Command::Migrate => {
            // The whole configuration, the provider's variables too, before the database is
            // created or changed: a migrated database for a server that cannot start helps no one.
            let problems = startup::provider_problems(&config, &Env);
            if !problems.is_empty() {
                return Err(StartError::Problems(problems));
            }
            let store = Store::open(&config.database_url, &PoolOptions::default())?;
            println!(
                "database {} is up to date ({})",
                payments_store::redact(&config.database_url),
                store.backend()
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    admin,
                    password_stdin,
                },
        } => {
            let bad = |e: String| StartError::App(crate::error::AppError::BadRequest(e));
            // A name that cannot be an account is refused before the password is asked for.
            accounts::check_username(&username).map_err(bad)?;
            let password = read_password(password_stdin).map_err(bad)?;
            accounts::check_password(&password, &username).map_err(bad)?;
            let store = Store::open(&config.database_url, &PoolOptions::default())?;
            let role = if admin { Role::Admin } else { Role::User };
            accounts::create_user(&store, &username, &password, role)?;
            println!("created {} {}", role, username);
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Passwd {
                    username,
                    password_stdin,
                },
        } => {
            let bad = |e: String| StartError::App(crate::error::AppError::BadRequest(e));
            let password = read_password(password_stdin).map_err(bad)?;
            accounts::check_password(&password, &username).map_err(bad)?;
            let store = Store::open(&config.database_url, &PoolOptions::default())?;
            let ended = accounts::set_password(&store, &username, &password, "cli")?;
            println!("password of {username} set; {ended} session(s) ended");
            Ok(())
        }
        Command::User {
            command: UserCommand::Logout { username },
        } => {
            let store = Store::open(&config.database_url, &PoolOptions::default())?;
            let ended = store.end_sessions(&username, "cli")?;
            println!("{ended} session(s) of {username} ended");
            Ok(())
        }
        Command::Usage {
            command: UsageCommand::Import { file, dry_run },
        } => {
            let store = Store::open(&config.database_url, &PoolOptions::default())?;
            import_usage(&store, &file, &config.rates(), dry_run)
        }
    }
}

/// `web usage import FILE [--dry-run]`: a progress line on a terminal (rows read, rows/s),
/// then what was imported, or every problem (the first 100 and a count) with nothing imported.
fn import_usage(
    store: &Store,
    file: &std::path::Path,
    rates: &usage::RateCard,
    dry_run: bool,
) -> Result<(), StartError> {
    let input = std::fs::File::open(file)
        .map_err(|e| StartError::Problems(vec![format!("cannot open {}: {e}", file.display())]))?;
    let started = std::time::Instant::now();
    let on_terminal = std::io::stderr().is_terminal();
    let mut last = started;
    let mut progress = |read: u64| {
        if on_terminal && last.elapsed() >= std::time::Duration::from_millis(250) {
            last = std::time::Instant::now();
            let per_sec = u128::from(read) * 1000 / started.elapsed().as_millis().max(1);
            eprint!("\r{read} rows read ({per_sec} rows/s)...");
        }
    };
    let buffered = std::io::BufReader::with_capacity(1 << 20, input);
    let outcome = usage::import_checked(store, buffered, rates, "cli", dry_run, &mut progress);
    if on_terminal {
        eprint!("\r\x1b[K");
    }
    let outcome = outcome.map_err(|e| {
        StartError::Problems(vec![format!(
            "nothing was imported from {}:\n{e}",
            file.display()
        )])
    })?;
    let elapsed = started.elapsed();
    let per_sec = u128::from(outcome.read) * 1000 / elapsed.as_millis().max(1);
    if outcome.problem_count > 0 {
        return Err(StartError::Problems(vec![format!(
            "nothing was imported from {}: {} of {} rows have problems:\n  {}",
            file.display(),
            outcome.problem_count,
            outcome.read,
            usage::problem_lines(&outcome).join("\n  ")
        )]));
    }
    if dry_run {
        println!(
            "{}: all {} rows are good; nothing was imported (--dry-run)",
            file.display(),
            outcome.read
        );
    } else {
        println!(
            "imported {} usage records from {} in {} ms ({per_sec} rows/s)",
            outcome.imported,
            file.display(),
            elapsed.as_millis()
        );
    }
    Ok(())
}

/// `web reconcile`: one cycle with the configured provider and database.
#[actix_web::main]
async fn reconcile_once(config: Config) -> Result<(), StartError> {
    if let Some(problem) = startup::log_dir_problem(&config) {
        return Err(StartError::Problems(vec![problem]));
    }
    let _log_guard = payments_app::logging::to_file(&config.log_dir, config.json_logs);
    let settings = config.app.reconcile;
    let state = startup::build_state(config, &Env)?;
    let reconciler = Reconciler::new(settings)?;
    let report = reconciler
        .run_cycle(&state.app, payments_core::unix_now())
        .await?;
    tracing::info!(%report, "reconcile (one cycle from the command line)");
    let names: Vec<&str> = state.app.providers().all().map(|p| p.provider.name()).collect();
    println!("reconciled with {}: {report}", names.join(", "));
    if report.errors > 0 {
        return Err(StartError::Problems(vec![format!(
            "{} look-ups or captures failed; see the log and the audit log (payment.reconcile)",
            report.errors
        )]));
    }
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    };
    Ok(password)
}

/// Checks everything that can be checked without writing (provider, port, templates, LOG_DIR) and
/// names every problem at once; only then opens the database (which creates an SQLite file),
/// the log file, and seeds the demo accounts.
#[actix_web::main]
async fn serve(mut config: Config) -> Result<(), StartError> {
    let mut problems = Vec::new();
    let notes = startup::fill_dev_secrets(&mut config)?;
    let addr = config.bind_addr.to_string();
    let mut cannot_listen = |source| {
        let problem = StartError::Bind {
            addr: addr.clone(),
            source,
        };
        problems.push(problem.to_string());
    };
    let listener = TcpListener::bind(config.bind_addr)
        .map_err(&mut cannot_listen)
        .ok();
    let bound = match listener.as_ref().map(TcpListener::local_addr) {
        Some(bound) => bound.map_err(&mut cannot_listen).ok(),
        None => None,
    };
    if let (Some(bound), false) = (bound, config.site_base_url_explicit) {
        config.app.site_base_url = crate::listen::site_for(bound);
    }
    let enabled = startup::build_providers(&config, &Env)
        .map_err(|e| problems.push(format!("configuration: {e}")))
        .ok();
    for active in enabled.iter().flatten() {
        problems.extend(startup::lifetime_problem(&config, active));
    }
    if let Err(e) = crate::templates::Templates::load() {
        problems.push(format!("templates: {e}"));
    }
    problems.extend(startup::log_dir_problem(&config));
    let (Some(listener), Some(bound), Some(enabled), true) = (listener, bound, enabled, problems.is_empty())
    else {
        return Err(StartError::Problems(problems));
    };
    let options = PoolOptions {
        durability: config.durability,
        ..PoolOptions::default()
    };
    let store = Store::open(&config.database_url, &options)?;
    let _log_guard = payments_app::logging::to_file(&config.log_dir, config.json_logs);
    for note in notes {
        tracing::warn!("{note}");
    }
    if config.durability == payments_store::Durability::Relaxed {
        tracing::warn!("{}", startup::RELAXED_WARNING);
    }
    if !config.enables("dummy") && config.app.issuer.name.is_none() {
        tracing::warn!(
            "ISSUER_NAME is not set: receipts say that no issuer is configured; set ISSUER_NAME, \
             ISSUER_ADDRESS and ISSUER_TAX_ID to print your organisation on them"
        );
    }
    let retired = startup::retired_providers(&config, &Env, &store)?;
    let providers =
        payments_app::Providers::new(enabled, retired).map_err(|e| StartError::Problems(vec![e]))?;
    let state = startup::assemble(config, providers, store)?;
    let cfg = state.config.clone();
    if cfg.providers.iter().all(|p| p == "dummy") {
        let store = state.store().clone();
        let rates = cfg.rates();
        if let Some(demo) = actix_web::web::block(move || seed_if_empty(&store, &rates))
            .await
            .map_err(crate::error::AppError::from)??
        {
            // One column for the names, so that both passwords start under each other.
            let width = demo.user.0.len().max(demo.admin.0.len());
            println!("First run: created demo accounts (shown only now):");
            println!("  user  {:<width$}  password {}", demo.user.0, demo.user.1);
            println!("  admin {:<width$}  password {}", demo.admin.0, demo.admin.1);
        }
    } else {
        let store = state.store().clone();
        let users = actix_web::web::block(move || store.count_users())
            .await
            .map_err(crate::error::AppError::from)??;
        if users == 0 {
            // No demo accounts with a real provider: say how to get in.
            println!(
                "First run: there are no users yet. Create the first administrator with \
                 `web user add NAME --admin` (it asks for the password), then log in."
            );
        }
    }
    let names = state.provider_names().join(", ");
    tracing::info!(
        providers = %names,
        database = state.store().backend(),
        site = cfg.app.site_base_url,
        "listening on {bound}"
    );
    for line in crate::listen::announce(bound, &cfg.app.site_base_url, cfg.site_base_url_explicit) {
        println!("{line}");
    }
    println!(
        "Open {}/login  (provider{}: {names}, database: {})",
        cfg.app.site_base_url,
        if state.provider_names().len() == 1 {
            ""
        } else {
            "s"
        },
        state.store().backend()
    );
    if state.provider_names().len() > 1 {
        for name in state.provider_names() {
            println!(
                "  webhooks of {name}: {}/payments/webhook/{name}",
                cfg.app.site_base_url
            );
        }
    }
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    crate::server::server(state, listener, workers)
        .map_err(|source| StartError::Bind {
            addr: cfg.bind_addr.to_string(),
            source,
        })?
        .await
        .map_err(|source| StartError::Bind {
            addr: cfg.bind_addr.to_string(),
            source,
        })
}
