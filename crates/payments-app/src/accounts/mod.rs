//! User accounts: what a username and a password must look like, password hashes and the
//! threads that check them, and the demo accounts of a first run with the dummy provider.

mod demo;
mod hash_pool;
mod passwords;
mod policy;

use payments_store::{Role, Store};

use crate::Error;

pub use demo::{seed_if_empty, DemoAccounts};
pub use hash_pool::HashPool;
pub use passwords::{constant_time_eq, hash_password, verify_password};
pub use policy::{
    check_password, check_username, is_common, MAX_PASSWORD_CHARS, MAX_USERNAME_CHARS, MIN_PASSWORD_CHARS,
};

/// Creates a user after checking the name and the password against the policy (audited
/// `user.create` by the store).
pub fn create_user(store: &Store, username: &str, password: &str, role: Role) -> Result<(), Error> {
    check_username(username).map_err(Error::Invalid)?;
    check_password(password, username).map_err(Error::Invalid)?;
    store.create_user(username, &hash_password(password)?, role)?;
    Ok(())
}

/// Sets a user's password after checking it against the policy; every session of that user
/// ends. Returns how many ended.
pub fn set_password(store: &Store, username: &str, password: &str, actor: &str) -> Result<usize, Error> {
    check_password(password, username).map_err(Error::Invalid)?;
    Ok(store.set_password(username, &hash_password(password)?, actor)?)
}
