DROP INDEX audit_log_created;
