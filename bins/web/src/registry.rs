//! The compile-time provider registry: one `#[cfg]` arm per adapter feature. Adding an adapter
//! is one dependency line and one feature line in Cargo.toml, and one arm here.

use std::sync::Arc;

use payments_core::PaymentProvider;

use crate::config::{Config, ConfigError, Source};

/// Every provider this project knows, with the cargo feature that compiles it in.
pub const KNOWN: &[(&str, &str)] = &[
    ("dummy", "dummy"),
    ("stripe", "stripe"),
    ("omise", "omise"),
    ("paypal", "paypal"),
];

/// The providers compiled into this binary.
pub fn compiled() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "dummy") {
        v.push("dummy");
    }
    if cfg!(feature = "stripe") {
        v.push("stripe");
    }
    if cfg!(feature = "omise") {
        v.push("omise");
    }
    if cfg!(feature = "paypal") {
        v.push("paypal");
    }
    v
}

/// The active provider, plus the dummy adapter itself when it is the one (for its simulate page).
#[derive(Clone)]
pub struct ActiveProvider {
    pub provider: Arc<dyn PaymentProvider>,
    #[cfg(feature = "dummy")]
    pub dummy: Option<Arc<payments_dummy::DummyProvider>>,
}

impl std::fmt::Debug for ActiveProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActiveProvider({})", self.provider.name())
    }
}

fn provider_error(e: payments_core::ProviderError) -> ConfigError {
    ConfigError::Provider(e.to_string())
}

/// Builds the provider named by `PAYMENT_PROVIDER`, reading its own variables from `src`.
pub fn build(config: &Config, src: &dyn Source) -> Result<ActiveProvider, ConfigError> {
    // Used by the arms of the adapters that read their own variables (not by dummy's).
    #[cfg_attr(
        not(any(feature = "stripe", feature = "omise", feature = "paypal")),
        allow(unused_variables)
    )]
    let lookup = |name: &str| src.get(name);
    #[cfg_attr(
        not(any(feature = "stripe", feature = "omise", feature = "paypal")),
        allow(unused_variables)
    )]
    let wrap = |provider: Arc<dyn PaymentProvider>| ActiveProvider {
        provider,
        #[cfg(feature = "dummy")]
        dummy: None,
    };
    match config.provider.as_str() {
        #[cfg(feature = "dummy")]
        "dummy" => {
            let secret = config.webhook_secret.clone().ok_or(ConfigError::Missing {
                name: "PAYMENT_WEBHOOK_SECRET",
                expected: "the dummy provider's signing secret (the server generates one per run when unset)",
            })?;
            let dummy = Arc::new(
                payments_dummy::DummyProvider::new(&secret, &config.site_base_url).map_err(provider_error)?,
            );
            Ok(ActiveProvider {
                provider: dummy.clone(),
                dummy: Some(dummy),
            })
        }
        #[cfg(feature = "stripe")]
        "stripe" => {
            let cfg = payments_stripe::StripeConfig::from_lookup(&lookup).map_err(provider_error)?;
            Ok(wrap(Arc::new(
                payments_stripe::StripeProvider::new(cfg).map_err(provider_error)?,
            )))
        }
        #[cfg(feature = "omise")]
        "omise" => {
            let cfg = payments_omise::OmiseConfig::from_lookup(&lookup).map_err(provider_error)?;
            Ok(wrap(Arc::new(
                payments_omise::OmiseProvider::new(cfg).map_err(provider_error)?,
            )))
        }
        #[cfg(feature = "paypal")]
        "paypal" => {
            let cfg = payments_paypal::PayPalConfig::from_lookup(&lookup).map_err(provider_error)?;
            Ok(wrap(Arc::new(
                payments_paypal::PayPalProvider::new(cfg).map_err(provider_error)?,
            )))
        }
        other => {
            check_name(other)?;
            Err(ConfigError::UnknownProvider {
                name: other.to_string(),
                compiled: compiled().join(", "),
            })
        }
    }
}

/// A clear error for a name that is unknown, or known but not compiled into this binary.
pub fn check_name(name: &str) -> Result<(), ConfigError> {
    let compiled = compiled();
    if compiled.contains(&name) {
        return Ok(());
    }
    let list = compiled.join(", ");
    match KNOWN.iter().find(|(known, _)| *known == name) {
        Some((_, feature)) => Err(ConfigError::ProviderNotCompiled {
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
