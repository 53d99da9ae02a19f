-- Server-side login sessions: the cookie holds a random key, this table its SHA-256 (the key
-- itself is never stored). Deleting a row ends the session for real (logout, password change,
-- an administrator's action); idle and absolute timeouts are checked on every request.
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
