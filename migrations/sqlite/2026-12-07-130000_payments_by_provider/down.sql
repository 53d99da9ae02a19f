DROP INDEX payments_by_provider;
