DROP INDEX usage_billed;
DROP INDEX usage_unbilled;
