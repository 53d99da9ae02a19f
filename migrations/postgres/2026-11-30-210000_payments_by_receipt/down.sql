DROP INDEX payments_receipt;
