DROP INDEX payments_second;
DROP INDEX payments_one_success_per_receipt;
UPDATE payments SET status = 'canceled' WHERE second_payment AND status IN ('succeeded', 'refunded');
CREATE UNIQUE INDEX payments_one_success_per_receipt ON payments (receipt_id) WHERE status = 'succeeded';
ALTER TABLE payments DROP COLUMN second_payment;
CREATE TABLE refunds_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    provider TEXT NOT NULL,
    seq BIGINT,
    idempotency_key TEXT UNIQUE,
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
INSERT INTO refunds_old (id, payment_id, provider, seq, idempotency_key, external_id, amount_minor,
                         currency, status, origin, reason, requested_by, error, created_at, updated_at)
    SELECT id, payment_id, provider, seq, idempotency_key, external_id, amount_minor, currency,
           CASE status WHEN 'canceled' THEN 'failed' ELSE status END,
           origin, reason, requested_by, error, created_at, updated_at
    FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_old RENAME TO refunds;
CREATE INDEX refunds_payment ON refunds (payment_id);
