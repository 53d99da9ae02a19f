fn main() {
    // A missing .env is fine; a malformed one is reported by line number, never with its
    // contents (they hold secrets).
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("error: {}", payments_web::config::dotenv_error(&e));
            std::process::exit(1);
        }
    }
    let cli = payments_web::cli::Cli::parse_with_variables();
    let serving = matches!(cli.command, None | Some(payments_web::cli::Command::Serve));
    if !serving {
        payments_app::logging::console();
    }
    if let Err(e) = payments_web::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
