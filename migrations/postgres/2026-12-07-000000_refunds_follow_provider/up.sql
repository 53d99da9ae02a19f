-- Refunds follow the provider both ways: a refund may also be 'canceled' (voided before it was
-- carried out), and a refund started from the confirmation page carries the random token of
-- that page (`request_token`), so that the page posted any number of times makes one refund.
ALTER TABLE refunds DROP CONSTRAINT refunds_status_check;
ALTER TABLE refunds ADD CONSTRAINT refunds_status_check
    CHECK (status IN ('requested', 'pending', 'succeeded', 'failed', 'canceled'));
ALTER TABLE refunds ADD COLUMN request_token TEXT UNIQUE;
-- Reconciliation looks at the refunds still in flight.
CREATE INDEX refunds_open ON refunds (updated_at) WHERE status IN ('requested', 'pending');

-- A success for a receipt already paid by another payment (or voided) is kept as a second
-- payment: succeeded, flagged, refundable in full; it never pays (or unpays) its receipt.
ALTER TABLE payments ADD COLUMN second_payment BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX payments_one_success_per_receipt;
CREATE UNIQUE INDEX payments_one_success_per_receipt ON payments (receipt_id)
    WHERE status = 'succeeded' AND NOT second_payment;
CREATE INDEX payments_second ON payments (receipt_id) WHERE second_payment;
