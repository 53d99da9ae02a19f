DROP INDEX payments_open_by_age;
ALTER TABLE payments DROP COLUMN reconcile_lease_until;
ALTER TABLE payments DROP COLUMN reconcile_owner;
