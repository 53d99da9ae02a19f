//! The server's integration tests: a real server on a loopback port, a fresh SQLite file (and a
//! fresh PostgreSQL database when `TEST_DATABASE_URL` is set), driven over HTTP with a cookie
//! jar; provider adapters run against their mock servers on 127.0.0.1.

mod support;

mod adapters;
mod browser;
mod dummy_flow;
mod error_pages;
mod hardening;
mod ingest;
mod lockout;
mod log_redaction;
mod multi_provider;
mod nul_text;
mod outage;
mod portal;
mod receipts;
mod receipts_told;
mod reconcile;
mod refunds;
mod security;
mod startup;
mod truths;
mod usage_import;

#[cfg(all(feature = "mollie", feature = "omise", feature = "paypal"))]
mod money_others;
#[cfg(feature = "stripe")]
mod money_stripe;
#[cfg(feature = "omise")]
mod omise;
#[cfg(feature = "paypal")]
mod paypal;
#[cfg(feature = "stripe")]
mod stripe;
