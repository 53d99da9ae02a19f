//! The PostgreSQL-test rule shared with payments-store (see that file).
include!("../../crates/payments-store/build.rs");
