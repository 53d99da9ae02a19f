#![doc = include_str!("../README.md")]

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod error;
pub mod flow;
pub mod ingest;
pub mod listen;
pub mod logging;
pub mod registry;
pub mod routes;
pub mod state;
pub mod templates;
pub mod usage_import;
