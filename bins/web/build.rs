//! Build-time rules for the server's tests: the PostgreSQL rule shared with payments-store (see
//! that file), and the browser rule: the browser tests (`tests/web/browser.rs`) are ignored, with
//! a loud warning, when chromedriver cannot be found, unless `REQUIRE_BROWSER=1` (as CI sets),
//! in which case they run and fail loudly.

mod postgres {
    include!("../../crates/payments-store/build.rs");

    pub fn rule() {
        main();
    }
}

/// `CHROMEDRIVER` if set, else `chromedriver` on `PATH` (Debian's chromium-driver puts it in
/// /usr/bin). The tests look it up the same way.
fn find_chromedriver() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("CHROMEDRIVER").filter(|p| !p.is_empty()) {
        let path = std::path::PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
}

fn main() {
    postgres::rule();
    println!("cargo::rustc-check-cfg=cfg(browser_tests_ignored)");
    println!("cargo::rerun-if-env-changed=REQUIRE_BROWSER");
    println!("cargo::rerun-if-env-changed=CHROMEDRIVER");
    println!("cargo::rerun-if-env-changed=PATH");
    let required = std::env::var("REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    match find_chromedriver() {
        // Decided again if it goes away.
        Some(path) => println!("cargo::rerun-if-changed={}", path.display()),
        None => {
            // Decided again once it is installed.
            for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
                if dir.is_dir() {
                    println!("cargo::rerun-if-changed={}", dir.display());
                }
            }
            if !required {
                println!("cargo::rustc-cfg=browser_tests_ignored");
                println!(
                    "cargo::warning=BROWSER TESTS SKIPPED: chromedriver not found (install Debian's chromium \
                     and chromium-driver, or set CHROMEDRIVER); tests/web/browser.rs is reported as ignored"
                );
            }
        }
    }
}
