-- Receipts may be partly refunded. SQLite cannot change a CHECK constraint, so the table is
-- rebuilt under the same name (the foreign keys of usage_records and payments name it): the
-- rows are set aside, the table dropped and created again, the rows copied back. Foreign keys
-- are enforced on this connection, so their checks are deferred to the commit, by which time
-- every referenced receipt exists again.
PRAGMA defer_foreign_keys = ON;
CREATE TABLE receipts_before_refunds AS SELECT * FROM receipts;
DROP TABLE receipts;
CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    status TEXT NOT NULL CHECK (status IN ('unpaid', 'paid', 'partially_refunded', 'refunded', 'void')),
    created_at BIGINT NOT NULL,
    paid_at BIGINT
);
INSERT INTO receipts (id, user_id, currency, total_minor, status, created_at, paid_at)
    SELECT id, user_id, currency, total_minor, status, created_at, paid_at FROM receipts_before_refunds;
DROP TABLE receipts_before_refunds;
CREATE INDEX receipts_user ON receipts (user_id);

-- Every refund of a payment, whoever started it: an admin here (origin 'admin', stored with its
-- deterministic idempotency key BEFORE the provider is called) or someone in the provider's own
-- dashboard (origin 'provider', recorded from its webhook). Amounts are integer minor units.
CREATE TABLE refunds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    provider TEXT NOT NULL,
    -- 1, 2, ... per payment for the refunds we start; NULL for the provider's own.
    seq BIGINT,
    idempotency_key TEXT UNIQUE,
    -- The provider's refund id, once known.
    external_id TEXT,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'pending', 'succeeded', 'failed')),
    origin TEXT NOT NULL CHECK (origin IN ('admin', 'provider')),
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (payment_id, seq),
    UNIQUE (provider, external_id)
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- The provider's cumulative refunded amount of a payment, as far as we know it (never above
-- amount_minor). A payment stays 'succeeded' while partly refunded; 'refunded' when in full.
ALTER TABLE payments ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;

-- Disputes (chargebacks) opened against a payment, one row per provider event.
CREATE TABLE disputes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    amount_minor BIGINT,
    currency TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, event_id)
);
CREATE INDEX disputes_payment ON disputes (payment_id);
