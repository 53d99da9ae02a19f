//! User accounts: what a username and a password must look like, password hashes and the
//! threads that check them, and the demo accounts of a first run with the dummy provider.

mod demo;
mod hash_pool;
mod passwords;
mod policy;

pub use demo::{seed_if_empty, DemoAccounts};
pub use hash_pool::HashPool;
pub use passwords::{constant_time_eq, hash_password, verify_password};
pub use policy::{
    check_password, check_username, is_common, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_PASSWORD_CHARS,
};
