-- Counts and totals of All receipts without reading every receipt (issue 24).
--
-- Each receipt carries what its payments brought in and what was refunded of them (payments
-- that succeeded or were refunded), kept by the trigger on `payments`. `receipt_sums` holds,
-- per user, per UTC day of the receipt's creation, per status and currency, how many receipts
-- there are and their billed, received and refunded totals; the rows with user 0 hold the same
-- for every user. The trigger on `receipts` appends each change to `receipt_sums_pending` in
-- the same transaction (appending, so that concurrent writers never wait on one another's rows
-- or deadlock on them); `Store::fold_receipt_sums` moves what is pending into `receipt_sums`
-- every few seconds. Readers add up both, in one statement (one snapshot).
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
    id BIGSERIAL PRIMARY KEY,
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
FROM (SELECT user_id AS u, created_at, status, currency, total_minor, received_minor, refunded_minor FROM receipts
      UNION ALL
      SELECT 0 AS u, created_at, status, currency, total_minor, received_minor, refunded_minor FROM receipts) AS r
GROUP BY u, created_at / 86400, status, currency;

CREATE FUNCTION receipt_sums_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO receipt_sums_pending
            (user_id, day, status, currency, receipt_count, billed_minor, received_minor, refunded_minor)
        VALUES
            (OLD.user_id, OLD.created_at / 86400, OLD.status, OLD.currency, -1, -OLD.total_minor, -OLD.received_minor, -OLD.refunded_minor),
            (0, OLD.created_at / 86400, OLD.status, OLD.currency, -1, -OLD.total_minor, -OLD.received_minor, -OLD.refunded_minor);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO receipt_sums_pending
            (user_id, day, status, currency, receipt_count, billed_minor, received_minor, refunded_minor)
        VALUES
            (NEW.user_id, NEW.created_at / 86400, NEW.status, NEW.currency, 1, NEW.total_minor, NEW.received_minor, NEW.refunded_minor),
            (0, NEW.created_at / 86400, NEW.status, NEW.currency, 1, NEW.total_minor, NEW.received_minor, NEW.refunded_minor);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER receipt_sums_insert_delete AFTER INSERT OR DELETE ON receipts
    FOR EACH ROW EXECUTE FUNCTION receipt_sums_follow();
CREATE TRIGGER receipt_sums_update AFTER UPDATE ON receipts
    FOR EACH ROW
    WHEN (OLD.user_id <> NEW.user_id OR OLD.status <> NEW.status OR OLD.currency <> NEW.currency
        OR OLD.total_minor <> NEW.total_minor OR OLD.created_at <> NEW.created_at
        OR OLD.received_minor <> NEW.received_minor OR OLD.refunded_minor <> NEW.refunded_minor)
    EXECUTE FUNCTION receipt_sums_follow();

CREATE FUNCTION receipt_received_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ('succeeded', 'refunded') THEN
        UPDATE receipts SET
            received_minor = received_minor - OLD.amount_minor,
            refunded_minor = refunded_minor - OLD.refunded_minor
        WHERE id = OLD.receipt_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ('succeeded', 'refunded') THEN
        UPDATE receipts SET
            received_minor = received_minor + NEW.amount_minor,
            refunded_minor = refunded_minor + NEW.refunded_minor
        WHERE id = NEW.receipt_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER receipt_received_insert_delete AFTER INSERT OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION receipt_received_follow();
CREATE TRIGGER receipt_received_update AFTER UPDATE ON payments
    FOR EACH ROW
    WHEN ((OLD.status IN ('succeeded', 'refunded') OR NEW.status IN ('succeeded', 'refunded'))
        AND (OLD.status <> NEW.status OR OLD.amount_minor <> NEW.amount_minor
            OR OLD.refunded_minor <> NEW.refunded_minor OR OLD.receipt_id <> NEW.receipt_id))
    EXECUTE FUNCTION receipt_received_follow();
