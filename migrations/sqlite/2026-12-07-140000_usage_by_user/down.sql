DROP INDEX usage_receipt_lines;
DROP INDEX usage_billed;
DROP INDEX usage_unbilled;
