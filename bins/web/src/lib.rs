#![doc = include_str!("../README.md")]

pub mod access_log;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod listen;
pub mod login_guard;
pub mod redact;
pub mod registry;
pub mod routes;
pub mod server;
pub mod sessions;
pub mod slow_clients;
pub mod startup;
pub mod state;
pub mod templates;
