-- A receipt's payments (its open intent when "Pay now" is pressed again, its page, its refunds)
-- are looked up by receipt. The two partial unique indexes on `receipt_id` cannot serve those
-- look-ups (their `WHERE status ...` is not implied by a query whose statuses are bound
-- parameters), so without this index each look-up read the whole payments table: the cost of
-- creating an intent grew with every payment ever made.
CREATE INDEX payments_receipt ON payments (receipt_id);
