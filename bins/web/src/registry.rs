//! The compile-time provider registry. Every adapter is one line of [`adapter_registry!`]
//! below (plus its cargo feature and optional dependency lines in Cargo.toml): the known names,
//! the compiled list, the constructor, the `--help` text, the error messages and the server's
//! end-to-end payment test (tests/web/adapters.rs) all come from it.

use payments_app::ActiveProvider;
use payments_core::Adapter;

use payments_app::settings::ConfigError;

/// The registry, one line per adapter: `"feature" => crate::{AdapterType, testing::FixtureType},`
/// (the fixture is the one its conformance suite runs, from its `testing` module). It hands the
/// list to the macro `$callback`: [`adapters!`] here, the end-to-end test's macro in the server's
/// test binary (the fixtures exist only in test builds, and only that macro names them).
#[macro_export]
macro_rules! adapter_registry {
    ($callback:ident) => {
        $callback! {
            "dummy" => payments_dummy::{DummyProvider, testing::DummyFixture},
            "stripe" => payments_stripe::{StripeProvider, testing::StripeFixture},
            "omise" => payments_omise::{OmiseProvider, testing::OmiseFixture},
            "paypal" => payments_paypal::{PayPalProvider, testing::PayPalFixture},
            "mollie" => payments_mollie::{MollieProvider, testing::MollieFixture},
        }
    };
}

/// Declares the registry's items from its lines. Each line is compiled only with its feature,
/// and is checked at compile time to name the adapter's own `Adapter::NAME`.
macro_rules! adapters {
    ($($feature:literal => $krate:ident::{$adapter:ident, testing::$fixture:ident}),+ $(,)?) => {
        /// Every provider this project knows (its cargo feature has the same name).
        pub const KNOWN: &[&str] = &[$($feature),+];

        /// The providers compiled into this binary.
        pub fn compiled() -> Vec<&'static str> {
            let mut names = Vec::new();
            $(if cfg!(feature = $feature) {
                names.push($feature);
            })+
            names
        }

        /// `(provider, variable, meaning)` for every variable of the compiled adapters.
        pub fn variables() -> Vec<(&'static str, &'static str, &'static str)> {
            #[allow(unused_mut)]
            let mut vars = Vec::new();
            $(#[cfg(feature = $feature)]
            for (name, meaning) in <$krate::$adapter as Adapter>::VARIABLES {
                vars.push(($feature, *name, *meaning));
            })+
            vars
        }

        /// Builds the compiled adapter called `name`, or `None` when there is none.
        fn construct(
            name: &str,
            lookup: &dyn Fn(&str) -> Option<String>,
        ) -> Option<Result<ActiveProvider, payments_core::ProviderError>> {
            $(#[cfg(feature = $feature)]
            if name == $feature {
                const _: () = assert!(
                    payments_core::adapter::same_name(<$krate::$adapter as Adapter>::NAME, $feature),
                    concat!("the registry line \"", $feature, "\" names an adapter with another Adapter::NAME"),
                );
                return Some(<$krate::$adapter as Adapter>::from_lookup(lookup).map(ActiveProvider::new));
            })+
            let _ = (name, lookup);
            None
        }
    };
}

adapter_registry!(adapters);

/// Builds the compiled adapter `name`, which reads its variables through `lookup`.
pub fn build(name: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<ActiveProvider, ConfigError> {
    check_name(name)?;
    match construct(name, lookup) {
        Some(built) => built.map_err(|e| ConfigError::Provider(e.to_string())),
        None => Err(ConfigError::UnknownProvider {
            name: name.to_string(),
            compiled: compiled().join(", "),
        }),
    }
}

/// A clear error for a name that is unknown, or known but not compiled into this binary.
pub fn check_name(name: &str) -> Result<(), ConfigError> {
    let compiled = compiled();
    if compiled.contains(&name) {
        return Ok(());
    }
    let list = compiled.join(", ");
    match KNOWN.iter().find(|known| **known == name) {
        Some(feature) => Err(ConfigError::ProviderNotCompiled {
            name: name.to_string(),
            feature,
            compiled: list,
        }),
        None => Err(ConfigError::UnknownProvider {
            name: name.to_string(),
            compiled: list,
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_compiled_adapter_is_known_and_lists_its_variables() {
        for name in super::compiled() {
            assert!(super::KNOWN.contains(&name));
        }
        let vars = super::variables();
        if cfg!(feature = "stripe") {
            assert!(vars
                .iter()
                .any(|(p, v, _)| *p == "stripe" && *v == "STRIPE_SECRET_KEY"));
        }
        if cfg!(feature = "dummy") {
            assert!(vars
                .iter()
                .any(|(p, v, _)| *p == "dummy" && *v == "PAYMENT_WEBHOOK_SECRET"));
        }
    }
}
