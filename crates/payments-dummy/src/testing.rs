//! The dummy's conformance fixture (test builds only: `cfg(payments_mock)`), for this crate's tests
//! and the server's end-to-end test, and (with the `api` feature) [`DummyBank`], a mock of the
//! dummy's optional API.

#[cfg(feature = "api")]
mod bank;
mod fixture;
#[cfg(feature = "api")]
pub use bank::{Books, DummyBank};
pub use fixture::{DummyFixture, SECRETS};
