//! The dummy's conformance fixture (feature `test-support`), for this crate's tests and the
//! server's end-to-end test, and [`DummyBank`], a mock of the dummy's optional API.

mod bank;
mod fixture;
pub use bank::{Books, DummyBank};
pub use fixture::{DummyFixture, SECRETS};
