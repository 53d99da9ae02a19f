DROP TABLE disputes;
DROP TABLE refunds;
ALTER TABLE payments DROP COLUMN refunded_minor;
UPDATE receipts SET status = 'paid' WHERE status = 'partially_refunded';
ALTER TABLE receipts DROP CONSTRAINT receipts_status_check;
ALTER TABLE receipts ADD CONSTRAINT receipts_status_check
    CHECK (status IN ('unpaid', 'paid', 'refunded', 'void'));
