DROP INDEX usage_receipt_lines;
CREATE INDEX usage_receipt_lines ON usage_records (receipt_id, ended_at, job_id, id);
CREATE INDEX usage_records_receipt ON usage_records (receipt_id);
