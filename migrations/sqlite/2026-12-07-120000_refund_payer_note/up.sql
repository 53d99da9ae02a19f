-- A refund's note to the payer, kept apart from its reason (which only admins see). A table of
-- its own: refunds without a note have no row.
CREATE TABLE refund_notes (
    refund_id BIGINT PRIMARY KEY REFERENCES refunds (id),
    note TEXT NOT NULL
);
