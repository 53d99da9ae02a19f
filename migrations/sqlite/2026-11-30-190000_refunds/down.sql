DROP TABLE disputes;
DROP TABLE refunds;
ALTER TABLE payments DROP COLUMN refunded_minor;
PRAGMA defer_foreign_keys = ON;
CREATE TABLE receipts_before_refunds AS SELECT * FROM receipts;
DROP TABLE receipts;
CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users (id),
    currency TEXT NOT NULL,
    total_minor BIGINT NOT NULL CHECK (total_minor >= 0),
    status TEXT NOT NULL CHECK (status IN ('unpaid', 'paid', 'refunded', 'void')),
    created_at BIGINT NOT NULL,
    paid_at BIGINT
);
INSERT INTO receipts (id, user_id, currency, total_minor, status, created_at, paid_at)
    SELECT id, user_id, currency, total_minor,
           CASE status WHEN 'partially_refunded' THEN 'paid' ELSE status END, created_at, paid_at
    FROM receipts_before_refunds;
DROP TABLE receipts_before_refunds;
CREATE INDEX receipts_user ON receipts (user_id);
