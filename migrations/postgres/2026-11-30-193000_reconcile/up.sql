-- Reconciliation (the scheduled poll against the provider): an instance claims an open payment
-- for a while before asking the provider about it, so that several server instances on one
-- database never work on the same payment at once. `reconcile_owner` names the instance holding
-- the claim; `reconcile_lease_until` (unix seconds) is when the claim lapses, and after a check
-- that left the payment open, when it is due again.
ALTER TABLE payments ADD COLUMN reconcile_owner TEXT;
ALTER TABLE payments ADD COLUMN reconcile_lease_until BIGINT;
-- The reconciler looks for open payments by age.
CREATE INDEX payments_open_by_age ON payments (created_at)
    WHERE status IN ('created', 'pending', 'requires_capture');
