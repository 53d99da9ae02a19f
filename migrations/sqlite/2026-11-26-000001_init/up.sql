-- Amounts are integer minor units; times are unix seconds.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    created_at BIGINT NOT NULL
);

CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    status TEXT NOT NULL CHECK (status IN ('unpaid', 'paid', 'refunded', 'void')),
    created_at BIGINT NOT NULL,
    paid_at BIGINT
);
CREATE INDEX receipts_user ON receipts (user_id);

CREATE TABLE usage_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    job_id TEXT NOT NULL,
    description TEXT NOT NULL,
    cpu_core_seconds BIGINT NOT NULL CHECK (cpu_core_seconds >= 0),
    gpu_seconds BIGINT NOT NULL CHECK (gpu_seconds >= 0),
    ended_at BIGINT NOT NULL,
    cost_minor BIGINT NOT NULL CHECK (cost_minor >= 0),
    currency TEXT NOT NULL,
    receipt_id BIGINT REFERENCES receipts (id),
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, job_id)
);
CREATE INDEX usage_records_receipt ON usage_records (receipt_id);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    receipt_id BIGINT NOT NULL REFERENCES receipts (id),
    provider TEXT NOT NULL,
    external_id TEXT,
    idempotency_key TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('created', 'pending', 'requires_capture', 'succeeded', 'failed', 'expired', 'canceled', 'refunded')),
    checkout_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (provider, external_id)
);
-- At most one open intent and at most one successful payment per receipt.
CREATE UNIQUE INDEX payments_one_open_per_receipt ON payments (receipt_id)
    WHERE status IN ('created', 'pending', 'requires_capture');
CREATE UNIQUE INDEX payments_one_success_per_receipt ON payments (receipt_id)
    WHERE status = 'succeeded';

-- Only verified events are stored here, so a forged event can never occupy a genuine id.
CREATE TABLE payment_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    external_event_id TEXT NOT NULL,
    payment_id BIGINT REFERENCES payments (id),
    event_type TEXT NOT NULL,
    kind TEXT NOT NULL,
    signature TEXT NOT NULL,
    raw_payload TEXT NOT NULL,
    outcome TEXT,
    received_at BIGINT NOT NULL,
    processed_at BIGINT,
    UNIQUE (provider, external_event_id)
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    receipt_id BIGINT,
    payment_id BIGINT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE INDEX audit_log_receipt ON audit_log (receipt_id);
