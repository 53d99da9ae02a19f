//! `cfg(payments_mock)`: payments-core's mock kit is compiled in (its feature `mock`, which test
//! builds turn on), so this adapter's `testing` module (its mock and conformance fixture) is too.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(payments_mock)");
    if std::env::var_os("DEP_PAYMENTS_CORE_MOCK").is_some() {
        println!("cargo::rustc-cfg=payments_mock");
    }
}
