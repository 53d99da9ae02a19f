// Decides at build time whether the PostgreSQL tests can run, so that libtest reports them as
// ignored (with the reason) instead of passing them silently. `bins/web/build.rs` includes this
// file, so the server's tests follow the same rule.
//
// They are ignored when `TEST_DATABASE_URL` is unset or the `postgres` feature is off, unless
// `REQUIRE_POSTGRES=1` (as CI sets), in which case they run and fail loudly.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests_ignored)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=REQUIRE_POSTGRES");
    println!("cargo::rerun-if-changed=build.rs");
    let has_url = std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    let has_feature = std::env::var_os("CARGO_FEATURE_POSTGRES").is_some();
    let required = std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let can_run = has_url && has_feature;
    if !(required || can_run) {
        println!("cargo::rustc-cfg=postgres_tests_ignored");
    }
}
