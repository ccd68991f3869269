-- The audit log (issue 14): one row per write request (any method but GET, HEAD, OPTIONS), refused or not: who, what,
-- when, from where, and the status it got. Append-only: the triggers refuse every UPDATE and DELETE.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    key_id    TEXT,
    actor     TEXT NOT NULL,
    method    TEXT NOT NULL,
    route     TEXT NOT NULL,
    path      TEXT NOT NULL,
    run_id    TEXT,
    status    INTEGER NOT NULL,
    address   TEXT
);
CREATE INDEX ix_audit_log_key ON audit_log(key_id, id);
CREATE INDEX ix_audit_log_run ON audit_log(run_id, id);
CREATE TRIGGER tr_audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER tr_audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
