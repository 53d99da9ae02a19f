//! The dummy's conformance fixture (feature `test-support`), for this crate's tests and the
//! server's end-to-end test.

mod fixture;
pub use fixture::{DummyFixture, SECRETS};
