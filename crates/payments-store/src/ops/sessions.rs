use diesel::prelude::*;

use super::Conn;
use crate::models::SessionRow;
use crate::schema::sessions;
use crate::StoreError;

pub fn create(c: &mut Conn, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(&row.id_hash),
            sessions::user_id.eq(row.user_id),
            sessions::state.eq(&row.state),
            sessions::created_at.eq(row.created_at),
            sessions::last_seen_at.eq(row.last_seen_at),
            sessions::expires_at.eq(row.expires_at),
        ))
        .execute(c)?;
    Ok(())
}

pub fn get(c: &mut Conn, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(sessions::table
        .find(id_hash)
        .select(SessionRow::as_select())
        .first(c)
        .optional()?)
}

pub fn update(c: &mut Conn, id_hash: &str, state: &str, now: i64) -> Result<bool, StoreError> {
    Ok(diesel::update(sessions::table.find(id_hash))
        .set((sessions::state.eq(state), sessions::last_seen_at.eq(now)))
        .execute(c)?
        > 0)
}

pub fn touch(c: &mut Conn, id_hash: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::last_seen_at.eq(now))
        .execute(c)?;
    Ok(())
}

pub fn delete(c: &mut Conn, id_hash: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(sessions::table.find(id_hash)).execute(c)?)
}

pub fn delete_for_user(c: &mut Conn, user_id: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(c)?)
}

pub fn delete_stale(c: &mut Conn, now: i64, seen_before: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.lt(seen_before)),
        ),
    )
    .execute(c)?)
}
