DROP TABLE audit_log;
DROP TABLE payment_events;
DROP TABLE payments;
DROP TABLE usage_records;
DROP TABLE receipts;
DROP TABLE users;
