-- Every id a provider knows a payment by (checkout session, payment intent, charge, order,
-- capture, refund), unique per provider: events are matched by any of them.
CREATE TABLE payment_references (
    provider TEXT NOT NULL,
    reference TEXT NOT NULL,
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (provider, reference)
);
CREATE INDEX payment_references_payment ON payment_references (payment_id);
-- The checkouts recorded before this table existed.
INSERT INTO payment_references (provider, reference, payment_id, created_at)
    SELECT provider, external_id, id, created_at FROM payments WHERE external_id IS NOT NULL;
