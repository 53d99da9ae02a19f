DROP INDEX payments_second;
DROP INDEX payments_one_success_per_receipt;
UPDATE payments SET status = 'canceled' WHERE second_payment AND status IN ('succeeded', 'refunded');
CREATE UNIQUE INDEX payments_one_success_per_receipt ON payments (receipt_id) WHERE status = 'succeeded';
ALTER TABLE payments DROP COLUMN second_payment;
DROP INDEX refunds_open;
ALTER TABLE refunds DROP COLUMN request_token;
UPDATE refunds SET status = 'failed' WHERE status = 'canceled';
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'pending', 'succeeded', 'failed'));
