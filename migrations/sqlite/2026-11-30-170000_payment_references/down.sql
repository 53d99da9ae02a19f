DROP TABLE payment_references;
