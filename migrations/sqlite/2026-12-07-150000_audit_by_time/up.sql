-- The audit log's date filters and the text search's window read a range of this index instead
-- of every entry.
CREATE INDEX audit_log_created ON audit_log (created_at, id);
