-- Receipts may be partly refunded.
ALTER TABLE receipts DROP CONSTRAINT receipts_status_check;
ALTER TABLE receipts ADD CONSTRAINT receipts_status_check
    CHECK (status IN ('unpaid', 'paid', 'partially_refunded', 'refunded', 'void'));

-- Every refund of a payment, whoever started it: an admin here (origin 'admin', stored with its
-- deterministic idempotency key BEFORE the provider is called) or someone in the provider's own
-- dashboard (origin 'provider', recorded from its webhook). Amounts are integer minor units.
CREATE TABLE refunds (
    id BIGSERIAL PRIMARY KEY,
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
    id BIGSERIAL PRIMARY KEY,
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
