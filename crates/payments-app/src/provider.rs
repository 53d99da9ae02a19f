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
