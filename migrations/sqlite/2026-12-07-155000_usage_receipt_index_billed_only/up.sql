-- Only billed records have a receipt: the receipt indexes hold those alone, so an unbilled record
-- (every one a usage import writes) is written to three indexes instead of five. Every look-up by
-- receipt (a receipt's lines, the foreign key from receipts) names one, which implies NOT NULL;
-- the unbilled records are found per user through usage_unbilled. The receipt's lines index
-- starts with receipt_id, so the one-column index on it is not needed.
DROP INDEX usage_records_receipt;
DROP INDEX usage_receipt_lines;
CREATE INDEX usage_receipt_lines ON usage_records (receipt_id, ended_at, job_id, id) WHERE receipt_id IS NOT NULL;
