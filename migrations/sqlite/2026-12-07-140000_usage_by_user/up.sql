-- My Usage reads a page of a user's unbilled records in date order, and their count and total,
-- from the first index alone (covering: the cost and currency are in it); the newest billed
-- records from the second; neither reads the other kind of record. A receipt's lines come a
-- page at a time, in their order on the receipt, from the third.
CREATE INDEX usage_unbilled ON usage_records (user_id, ended_at, id, cost_minor, currency) WHERE receipt_id IS NULL;
CREATE INDEX usage_billed ON usage_records (user_id, ended_at, id) WHERE receipt_id IS NOT NULL;
CREATE INDEX usage_receipt_lines ON usage_records (receipt_id, ended_at, job_id, id);
