//! The dummy adapter against the shared conformance suite, and the suite's own proof of
//! strength: a correct reference adapter with its HTTP mock on 127.0.0.1 passes it, and every
//! bug planted into that adapter fails it.

#[path = "conformance/dummy.rs"]
mod dummy;
#[path = "conformance/planted.rs"]
mod planted;
#[path = "conformance/refpay.rs"]
mod refpay;
#[path = "conformance/refpay_mock.rs"]
mod refpay_mock;
