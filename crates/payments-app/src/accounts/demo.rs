//! First run: with the dummy provider and an empty database, create a demo user, an admin and
//! some demo usage, and print the passwords once.

use payments_store::{Role, Store};

use super::hash_password;
use crate::usage::{self, RateCard, HEADER};
use crate::{random_token, Error};

pub struct DemoAccounts {
    pub user: (String, String),
    pub admin: (String, String),
}

/// Creates the demo data when the database has no users; returns the accounts created.
pub fn seed_if_empty(store: &Store, rates: &RateCard) -> Result<Option<DemoAccounts>, Error> {
    if store.count_users()? > 0 {
        return Ok(None);
    }
    let user_pw = random_token(8)?;
    let admin_pw = random_token(8)?;
    store.create_user("demo", &hash_password(&user_pw)?, Role::User)?;
    store.create_user("admin", &hash_password(&admin_pw)?, Role::Admin)?;
    let csv = format!(
        "{HEADER}\n\
         demo,job-1001,Genome assembly (64 cores),230400,0,2026-11-20T08:15:00Z\n\
         demo,job-1002,Climate model ensemble,86400,14400,2026-11-22T19:40:00Z\n\
         demo,job-1003,Protein folding on 2 GPUs,7200,7200,2026-11-24T03:05:00Z\n"
    );
    usage::import(store, csv.as_bytes(), rates, "system").map_err(Error::internal)?;
    Ok(Some(DemoAccounts {
        user: ("demo".into(), user_pw),
        admin: ("admin".into(), admin_pw),
    }))
}
