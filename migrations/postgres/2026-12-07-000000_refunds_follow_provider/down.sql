DROP INDEX refunds_open;
ALTER TABLE refunds DROP COLUMN request_token;
UPDATE refunds SET status = 'failed' WHERE status = 'canceled';
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'pending', 'succeeded', 'failed'));
