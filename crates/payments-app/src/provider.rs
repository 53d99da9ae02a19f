//! The active payment provider, as the trait object the flows use and as its own type.

use std::any::Any;
use std::sync::Arc;

use payments_core::{Adapter, PaymentProvider};

/// The active provider, as the trait object the flows use and as itself (for adapter-specific
/// pages such as the dummy provider's simulate page).
#[derive(Clone)]
pub struct ActiveProvider {
    pub provider: Arc<dyn PaymentProvider>,
    concrete: Arc<dyn Any + Send + Sync>,
}

impl ActiveProvider {
    /// Wraps a built adapter.
    pub fn new<A: Adapter>(adapter: A) -> ActiveProvider {
        let adapter = Arc::new(adapter);
        ActiveProvider {
            provider: adapter.clone(),
            concrete: adapter,
        }
    }

    /// The active adapter as its own type, when it is an `A`.
    pub fn adapter<A: Adapter>(&self) -> Option<Arc<A>> {
        self.concrete.clone().downcast::<A>().ok()
    }
}

impl std::fmt::Debug for ActiveProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActiveProvider({})", self.provider.name())
    }
}

/// The providers this server works with: the **enabled** ones (`PAYMENT_PROVIDERS`, in the
/// operator's order: payers choose among them) and the **retired** ones (compiled in and
/// configured, but no longer offered: their old payments are still reconciled, refunded and
/// answered). Every step after the checkout uses the payment's own provider.
#[derive(Clone, Debug)]
pub struct Providers {
    enabled: Vec<ActiveProvider>,
    retired: Vec<ActiveProvider>,
}

impl Providers {
    /// `enabled` (at least one) and `retired`, each name once.
    pub fn new(enabled: Vec<ActiveProvider>, retired: Vec<ActiveProvider>) -> Result<Providers, String> {
        if enabled.is_empty() {
            return Err("at least one payment provider must be enabled".into());
        }
        let mut names: Vec<&str> = enabled
            .iter()
            .chain(&retired)
            .map(|p| p.provider.name())
            .collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("the payment provider {} is listed twice", twice[0]));
        }
        Ok(Providers { enabled, retired })
    }

    /// One enabled provider.
    pub fn single(provider: ActiveProvider) -> Providers {
        Providers {
            enabled: vec![provider],
            retired: Vec::new(),
        }
    }

    /// The providers payers choose among, in the configured order.
    pub fn enabled(&self) -> &[ActiveProvider] {
        &self.enabled
    }

    /// Providers no longer offered whose old payments are still followed.
    pub fn retired(&self) -> &[ActiveProvider] {
        &self.retired
    }

    /// Enabled, then retired.
    pub fn all(&self) -> impl Iterator<Item = &ActiveProvider> {
        self.enabled.iter().chain(&self.retired)
    }

    /// The provider called `name`, enabled or retired.
    pub fn get(&self, name: &str) -> Option<&ActiveProvider> {
        self.all().find(|p| p.provider.name() == name)
    }

    /// The enabled provider called `name`.
    pub fn enabled_named(&self, name: &str) -> Option<&ActiveProvider> {
        self.enabled.iter().find(|p| p.provider.name() == name)
    }

    /// The names of the enabled providers, in order.
    pub fn enabled_names(&self) -> Vec<&'static str> {
        self.enabled.iter().map(|p| p.provider.name()).collect()
    }
}
