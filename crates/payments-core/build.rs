//! Tells the adapter crates whether the mock kit (feature `mock`) is compiled in: their build
//! scripts read `DEP_PAYMENTS_CORE_MOCK` and then compile their `testing` module
//! (`cfg(payments_mock)`): docs/writing-an-adapter.md, "Tests".
fn main() {
    if std::env::var_os("CARGO_FEATURE_MOCK").is_some() {
        println!("cargo::metadata=mock=1");
    }
}
