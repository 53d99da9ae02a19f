-- Counts and totals of All receipts without reading every receipt (issue 24).
--
-- Each receipt carries what its payments brought in and what was refunded of them (payments
-- that succeeded or were refunded), kept by the triggers on `payments`. `receipt_sums` holds,
-- per user, per UTC day of the receipt's creation, per status and currency, how many receipts
-- there are and their billed, received and refunded totals; the rows with user 0 hold the same
-- for every user. The triggers on `receipts` keep it in the same transaction as the change.
-- `receipt_sums_pending` is where PostgreSQL's triggers put their changes (folded into
-- `receipt_sums` by `Store::fold_receipt_sums`, so that concurrent writers never wait on
-- each other's rows); SQLite has one writer at a time and writes `receipt_sums` directly, so
-- this table stays empty here. Readers add up both.
-- All receipts lists newest first (by creation time, then number) through one of these for
-- each filter of user, status or dates, reading about a page whatever the history.
DROP INDEX receipts_user;
CREATE INDEX receipts_user ON receipts (user_id, created_at, id);
CREATE INDEX receipts_created ON receipts (created_at, id);
CREATE INDEX receipts_status ON receipts (status, created_at, id);

-- The audit log too, newest first by time, then id, for each of its filters.
DROP INDEX audit_log_action;
CREATE INDEX audit_log_action ON audit_log (action, created_at, id);
DROP INDEX audit_log_receipt;
CREATE INDEX audit_log_receipt ON audit_log (receipt_id, created_at, id);
CREATE INDEX audit_log_actor ON audit_log (actor, created_at, id);

ALTER TABLE receipts ADD COLUMN received_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE receipts ADD COLUMN refunded_minor BIGINT NOT NULL DEFAULT 0;
UPDATE receipts SET
    received_minor = COALESCE((SELECT SUM(p.amount_minor) FROM payments p
        WHERE p.receipt_id = receipts.id AND p.status IN ('succeeded', 'refunded')), 0),
    refunded_minor = COALESCE((SELECT SUM(p.refunded_minor) FROM payments p
        WHERE p.receipt_id = receipts.id AND p.status IN ('succeeded', 'refunded')), 0);

CREATE TABLE receipt_sums (
    user_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    receipt_count BIGINT NOT NULL,
    billed_minor BIGINT NOT NULL,
    received_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL,
    PRIMARY KEY (user_id, day, status, currency)
);
CREATE TABLE receipt_sums_pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    day BIGINT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    receipt_count BIGINT NOT NULL,
    billed_minor BIGINT NOT NULL,
    received_minor BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL
);
CREATE INDEX receipt_sums_pending_key ON receipt_sums_pending (user_id, day, status, currency);

INSERT INTO receipt_sums
SELECT u, created_at / 86400, status, currency, COUNT(*), SUM(total_minor), SUM(received_minor), SUM(refunded_minor)
FROM (SELECT user_id AS u, * FROM receipts UNION ALL SELECT 0 AS u, * FROM receipts) AS r
GROUP BY u, created_at / 86400, status, currency;

CREATE TRIGGER receipt_sums_insert AFTER INSERT ON receipts BEGIN
    INSERT INTO receipt_sums VALUES
        (NEW.user_id, NEW.created_at / 86400, NEW.status, NEW.currency, 1, NEW.total_minor, NEW.received_minor, NEW.refunded_minor),
        (0, NEW.created_at / 86400, NEW.status, NEW.currency, 1, NEW.total_minor, NEW.received_minor, NEW.refunded_minor)
    ON CONFLICT (user_id, day, status, currency) DO UPDATE SET
        receipt_count = receipt_count + excluded.receipt_count,
        billed_minor = billed_minor + excluded.billed_minor,
        received_minor = received_minor + excluded.received_minor,
        refunded_minor = refunded_minor + excluded.refunded_minor;
END;

CREATE TRIGGER receipt_sums_update AFTER UPDATE ON receipts
WHEN OLD.user_id <> NEW.user_id OR OLD.status <> NEW.status OR OLD.currency <> NEW.currency
    OR OLD.total_minor <> NEW.total_minor OR OLD.created_at <> NEW.created_at
    OR OLD.received_minor <> NEW.received_minor OR OLD.refunded_minor <> NEW.refunded_minor
BEGIN
    UPDATE receipt_sums SET
        receipt_count = receipt_count - 1,
        billed_minor = billed_minor - OLD.total_minor,
        received_minor = received_minor - OLD.received_minor,
        refunded_minor = refunded_minor - OLD.refunded_minor
    WHERE user_id IN (OLD.user_id, 0) AND day = OLD.created_at / 86400 AND status = OLD.status
        AND currency = OLD.currency;
    INSERT INTO receipt_sums VALUES
        (NEW.user_id, NEW.created_at / 86400, NEW.status, NEW.currency, 1, NEW.total_minor, NEW.received_minor, NEW.refunded_minor),
        (0, NEW.created_at / 86400, NEW.status, NEW.currency, 1, NEW.total_minor, NEW.received_minor, NEW.refunded_minor)
    ON CONFLICT (user_id, day, status, currency) DO UPDATE SET
        receipt_count = receipt_count + excluded.receipt_count,
        billed_minor = billed_minor + excluded.billed_minor,
        received_minor = received_minor + excluded.received_minor,
        refunded_minor = refunded_minor + excluded.refunded_minor;
END;

CREATE TRIGGER receipt_sums_delete AFTER DELETE ON receipts BEGIN
    UPDATE receipt_sums SET
        receipt_count = receipt_count - 1,
        billed_minor = billed_minor - OLD.total_minor,
        received_minor = received_minor - OLD.received_minor,
        refunded_minor = refunded_minor - OLD.refunded_minor
    WHERE user_id IN (OLD.user_id, 0) AND day = OLD.created_at / 86400 AND status = OLD.status
        AND currency = OLD.currency;
END;

CREATE TRIGGER receipt_received_insert AFTER INSERT ON payments
WHEN NEW.status IN ('succeeded', 'refunded')
BEGIN
    UPDATE receipts SET
        received_minor = received_minor + NEW.amount_minor,
        refunded_minor = refunded_minor + NEW.refunded_minor
    WHERE id = NEW.receipt_id;
END;

CREATE TRIGGER receipt_received_update AFTER UPDATE ON payments
WHEN (OLD.status IN ('succeeded', 'refunded') OR NEW.status IN ('succeeded', 'refunded'))
    AND (OLD.status <> NEW.status OR OLD.amount_minor <> NEW.amount_minor
        OR OLD.refunded_minor <> NEW.refunded_minor OR OLD.receipt_id <> NEW.receipt_id)
BEGIN
    UPDATE receipts SET
        received_minor = received_minor - OLD.amount_minor,
        refunded_minor = refunded_minor - OLD.refunded_minor
    WHERE id = OLD.receipt_id AND OLD.status IN ('succeeded', 'refunded');
    UPDATE receipts SET
        received_minor = received_minor + NEW.amount_minor,
        refunded_minor = refunded_minor + NEW.refunded_minor
    WHERE id = NEW.receipt_id AND NEW.status IN ('succeeded', 'refunded');
END;

CREATE TRIGGER receipt_received_delete AFTER DELETE ON payments
WHEN OLD.status IN ('succeeded', 'refunded')
BEGIN
    UPDATE receipts SET
        received_minor = received_minor - OLD.amount_minor,
        refunded_minor = refunded_minor - OLD.refunded_minor
    WHERE id = OLD.receipt_id;
END;
