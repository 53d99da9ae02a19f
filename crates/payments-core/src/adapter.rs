//! How a server builds an adapter: the name it is selected by, the variables it reads and a
//! constructor from them. The server's registry needs nothing else from an adapter crate.

use crate::provider::{PaymentProvider, ProviderError};

/// An adapter the server can select with `PAYMENT_PROVIDER` and build from its environment.
///
/// ```ignore
/// impl payments_core::Adapter for AcmeProvider {
///     const NAME: &'static str = "acme";
///     const VARIABLES: &'static [(&'static str, &'static str)] = config::ENV_VARS;
///     fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError> {
///         AcmeProvider::new(AcmeConfig::from_lookup(lookup)?)
///     }
/// }
/// ```
pub trait Adapter: PaymentProvider + Sized + 'static {
    /// The `PAYMENT_PROVIDER` value, the cargo feature of the server and the `provider` column
    /// of stored payments: lower-case ASCII, the same as [`PaymentProvider::name`].
    const NAME: &'static str;

    /// Every environment variable the adapter reads, with a one-line meaning (for `web --help`,
    /// `.env.example` and error messages).
    const VARIABLES: &'static [(&'static str, &'static str)];

    /// Builds the adapter from its variables. `lookup` answers the process environment; the
    /// server also answers `SITE_BASE_URL` with the public base URL it really uses. A missing
    /// or malformed variable is a [`ProviderError::Config`] naming it.
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ProviderError>;
}

/// Whether two names are equal, usable in constant assertions (the server's registry checks at
/// compile time that each registry line names the adapter's own [`Adapter::NAME`]).
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_compare_byte_for_byte() {
        assert!(super::same_name("stripe", "stripe"));
        assert!(!super::same_name("stripe", "Stripe"));
        assert!(!super::same_name("stripe", "strip"));
    }
}
