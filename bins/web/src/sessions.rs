//! Sessions kept on the server. A logged-in session's cookie holds only a random key (`s.` and
//! 64 hex digits, encrypted by actix-session's private cookie); its values live in the
//! `sessions` table under the key's SHA-256. Deleting the row ends the session everywhere:
//! logout, a password change (`web user passwd`) and an administrator's action (`web user
//! logout`) do. Sessions end after [`IDLE`] without a request and [`ABSOLUTE`] after login.
//!
//! Anonymous sessions (only the login form's CSRF token) stay in the cookie, as before, so
//! visitors who never log in cost the database nothing; a cookie-held session that claims a
//! user is never believed (older cookies from the cookie-only store are refused that way).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use payments_core::unix_now;
use payments_store::{SessionRow, Store};
use sha2::{Digest, Sha256};

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after login, however busy.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY: i64 = 60;
/// The session value that marks a logged-in session (see `auth`).
pub const USER_KEY: &str = "uid";

const PREFIX: &str = "s.";

type State = HashMap<String, String>;

#[derive(Clone)]
pub struct DbSessionStore {
    store: Arc<Store>,
}

impl DbSessionStore {
    pub fn new(store: Arc<Store>) -> Self {
        DbSessionStore { store }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, payments_store::StoreError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = self.store.clone();
        Ok(actix_web::web::block(move || f(&store)).await??)
    }
}

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether a stored session is still alive at `now` (unix seconds).
pub fn alive(row: &SessionRow, now: i64) -> bool {
    let idle = i64::try_from(IDLE.as_secs()).unwrap_or(i64::MAX);
    now < row.expires_at && now.saturating_sub(row.last_seen_at) < idle
}

fn cookie_key(state: &State) -> anyhow::Result<SessionKey> {
    let text = serde_json::to_string(state)?;
    Ok(SessionKey::try_from(text)?)
}

impl DbSessionStore {
    async fn create(&self, state: State) -> anyhow::Result<SessionKey> {
        let Some(uid) = state
            .get(USER_KEY)
            .and_then(|u| serde_json::from_str::<i64>(u).ok())
        else {
            return cookie_key(&state);
        };
        let key = format!(
            "{PREFIX}{}",
            payments_app::random_token(32).map_err(|e| anyhow::anyhow!("{e}"))?
        );
        let now = unix_now();
        let row = SessionRow {
            id_hash: hash(&key),
            user_id: uid,
            state: serde_json::to_string(&state)?,
            created_at: now,
            last_seen_at: now,
            expires_at: now + i64::try_from(ABSOLUTE.as_secs()).unwrap_or(i64::MAX / 2),
        };
        self.run(move |s| s.session_create(&row)).await?;
        Ok(SessionKey::try_from(key)?)
    }
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let key: &str = key.as_ref();
        if !key.starts_with(PREFIX) {
            let state: State = serde_json::from_str(key).map_err(|e| LoadError::Deserialization(e.into()))?;
            // Only the database can say who is logged in.
            return Ok((!state.contains_key(USER_KEY)).then_some(state));
        }
        let id = hash(key);
        let lookup = id.clone();
        let row = self
            .run(move |s| s.session(&lookup))
            .await
            .map_err(LoadError::Other)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let now = unix_now();
        if !alive(&row, now) {
            self.run(move |s| s.session_delete(&id))
                .await
                .map_err(LoadError::Other)?;
            return Ok(None);
        }
        if now - row.last_seen_at >= TOUCH_EVERY {
            self.run(move |s| s.session_touch(&id, now))
                .await
                .map_err(LoadError::Other)?;
        }
        serde_json::from_str(&row.state)
            .map(Some)
            .map_err(|e| LoadError::Deserialization(e.into()))
    }

    async fn save(&self, state: State, _ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        self.create(state).await.map_err(SaveError::Other)
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let text: &str = key.as_ref();
        if !text.starts_with(PREFIX) {
            return self.create(state).await.map_err(UpdateError::Other);
        }
        let id = hash(text);
        if !state.contains_key(USER_KEY) {
            self.run(move |s| s.session_delete(&id))
                .await
                .map_err(UpdateError::Other)?;
            return cookie_key(&state).map_err(UpdateError::Other);
        }
        let json = serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let now = unix_now();
        let still = self
            .run(move |s| s.session_update(&id, &json, now))
            .await
            .map_err(UpdateError::Other)?;
        if still {
            Ok(key)
        } else {
            // Ended meanwhile (logout elsewhere, password change): it is not brought back.
            let mut anonymous = state;
            anonymous.remove(USER_KEY);
            cookie_key(&anonymous).map_err(UpdateError::Other)
        }
    }

    async fn update_ttl(&self, key: &SessionKey, _ttl: &CookieDuration) -> anyhow::Result<()> {
        let text: &str = key.as_ref();
        if text.starts_with(PREFIX) {
            let id = hash(text);
            let now = unix_now();
            self.run(move |s| s.session_touch(&id, now)).await?;
        }
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> anyhow::Result<()> {
        let text: &str = key.as_ref();
        if text.starts_with(PREFIX) {
            let id = hash(text);
            self.run(move |s| s.session_delete(&id)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let row = |created: i64, seen: i64| SessionRow {
            id_hash: String::new(),
            user_id: 1,
            state: "{}".into(),
            created_at: created,
            last_seen_at: seen,
            expires_at: created + 12 * 3600,
        };
        assert!(alive(&row(0, 0), 60));
        assert!(!alive(&row(0, 0), 30 * 60), "idle for 30 minutes");
        assert!(alive(&row(0, 11 * 3600), 11 * 3600 + 60));
        assert!(!alive(&row(0, 12 * 3600 - 10), 12 * 3600), "12 hours after login");
    }
}
