//! Published webhook-signature test vectors, embedded so that every adapter's tests use the same
//! copy and a fresh clone needs nothing outside the repository (feature `conformance`).
//!
//! The files live in `crates/payments-core/vectors/`; each names its source in its `source`
//! field, and `vectors/README.md` lists them.

use serde_json::Value;

/// The vector files, by name.
const FILES: &[(&str, &str)] = &[
    ("stripe", include_str!("../vectors/stripe.json")),
    ("omise", include_str!("../vectors/omise.json")),
    ("paypal", include_str!("../vectors/paypal.json")),
    ("github", include_str!("../vectors/github.json")),
    (
        "standard-webhooks",
        include_str!("../vectors/standard-webhooks.json"),
    ),
];

/// The vector file `name` (`stripe`, `omise`, `paypal`, `github`, `standard-webhooks`) as JSON.
///
/// # Panics
/// On an unknown name or a file that is not JSON: both are mistakes in a test.
pub fn load(name: &str) -> Value {
    let (_, text) = FILES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no signature vector file {name:?} in payments-core/vectors"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("vectors/{name}.json is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_parses_and_names_its_source() {
        for (name, _) in super::FILES {
            let v = super::load(name);
            assert!(v["source"].as_str().is_some_and(|s| !s.is_empty()), "{name}");
        }
    }
}
