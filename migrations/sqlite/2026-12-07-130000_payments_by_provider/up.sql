-- All receipts filtered by provider, and the providers of stored payments at start-up, without
-- reading every payment.
CREATE INDEX payments_by_provider ON payments (provider, receipt_id);
