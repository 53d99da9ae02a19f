use diesel::prelude::*;
use payments_core::unix_now;

use super::Conn;
use crate::models::{Role, UserRow};
use crate::schema::users;
use crate::StoreError;

pub fn create(c: &mut Conn, username: &str, password_hash: &str, role: Role) -> Result<UserRow, StoreError> {
    diesel::insert_into(users::table)
        .values((
            users::username.eq(username),
            users::password_hash.eq(password_hash),
            users::role.eq(role.as_str()),
            users::created_at.eq(unix_now()),
        ))
        .returning(UserRow::as_returning())
        .get_result(c)
        .map_err(|e| {
            if StoreError::unique_violation(&e) {
                StoreError::Conflict(format!("user {username:?} already exists"))
            } else {
                e.into()
            }
        })
}

pub fn by_username(c: &mut Conn, username: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(c)
        .optional()?)
}

pub fn by_id(c: &mut Conn, id: i64) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .optional()?)
}

pub fn count(c: &mut Conn) -> Result<i64, StoreError> {
    Ok(users::table.count().get_result(c)?)
}

pub fn set_password(c: &mut Conn, user_id: i64, password_hash: &str) -> Result<bool, StoreError> {
    Ok(diesel::update(users::table.find(user_id))
        .set(users::password_hash.eq(password_hash))
        .execute(c)?
        > 0)
}
