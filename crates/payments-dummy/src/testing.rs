//! The dummy's conformance fixture (test builds only: `cfg(payments_mock)`), for this crate's tests
//! and the server's end-to-end test.

mod fixture;
pub use fixture::{DummyFixture, SECRETS};
