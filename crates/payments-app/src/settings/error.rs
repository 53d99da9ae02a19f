//! A configuration problem, naming the variable and what is expected.

/// A configuration problem, naming the variable and what is expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is required: {expected}")]
    Missing {
        name: &'static str,
        expected: &'static str,
    },
    #[error("{name}={value:?} is invalid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: String,
    },
    #[error("Unknown PAYMENT_PROVIDER: {name} (this binary was built with: {compiled})")]
    UnknownProvider { name: String, compiled: String },
    #[error(
        "PAYMENT_PROVIDER={name} is not compiled into this binary; rebuild with \
         `cargo build -p payments-web --features {feature}` (built with: {compiled})"
    )]
    ProviderNotCompiled {
        name: String,
        feature: &'static str,
        compiled: String,
    },
    #[error("{0}")]
    Provider(String),
    #[error("{} problems:\n  - {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  - "))]
    Many(Vec<ConfigError>),
}
