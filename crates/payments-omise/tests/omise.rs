//! The Omise adapter against a real HTTP mock of the Omise API on 127.0.0.1
//! (`payments_omise::testing::MockOmise`). Every test records the requests the mock received
//! through `payments_core::oracle::record_request` (provider `omise`; there is no Omise oracle
//! spec, the recordings are for inspection).

#[path = "omise/common.rs"]
mod common;
#[path = "omise/config.rs"]
mod config;
#[path = "omise/outbound.rs"]
mod outbound;
#[path = "omise/refunds.rs"]
mod refunds;
#[path = "omise/suite.rs"]
mod suite;
#[path = "omise/units.rs"]
mod units;
#[path = "omise/webhooks.rs"]
mod webhooks;
