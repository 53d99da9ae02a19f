-- Refunds follow the provider both ways: a refund may also be 'canceled' (voided before it was
-- carried out), and a refund started from the confirmation page carries the random token of
-- that page (`request_token`), so that the page posted any number of times makes one refund.
-- SQLite cannot change a CHECK constraint: the table is rebuilt with the same rows.
CREATE TABLE refunds_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    provider TEXT NOT NULL,
    seq BIGINT,
    idempotency_key TEXT UNIQUE,
    external_id TEXT,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'pending', 'succeeded', 'failed', 'canceled')),
    origin TEXT NOT NULL CHECK (origin IN ('admin', 'provider')),
    reason TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    request_token TEXT UNIQUE,
    UNIQUE (payment_id, seq),
    UNIQUE (provider, external_id)
);
INSERT INTO refunds_new (id, payment_id, provider, seq, idempotency_key, external_id, amount_minor,
                         currency, status, origin, reason, requested_by, error, created_at, updated_at)
    SELECT id, payment_id, provider, seq, idempotency_key, external_id, amount_minor, currency, status,
           origin, reason, requested_by, error, created_at, updated_at
    FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_new RENAME TO refunds;
CREATE INDEX refunds_payment ON refunds (payment_id);
-- Reconciliation looks at the refunds still in flight.
CREATE INDEX refunds_open ON refunds (updated_at) WHERE status IN ('requested', 'pending');

-- A success for a receipt already paid by another payment (or voided) is kept as a second
-- payment: succeeded, flagged, refundable in full; it never pays (or unpays) its receipt.
ALTER TABLE payments ADD COLUMN second_payment BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX payments_one_success_per_receipt;
CREATE UNIQUE INDEX payments_one_success_per_receipt ON payments (receipt_id)
    WHERE status = 'succeeded' AND second_payment = FALSE;
CREATE INDEX payments_second ON payments (receipt_id) WHERE second_payment = TRUE;
