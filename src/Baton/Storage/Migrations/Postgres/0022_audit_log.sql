-- The audit log (issue 14): one row per write request (any method but GET, HEAD, OPTIONS), refused or not: who, what,
-- when, from where, and the status it got. Append-only: the trigger refuses every UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        bigint NOT NULL,
    key_id    text COLLATE "C",
    actor     text NOT NULL,
    method    text COLLATE "C" NOT NULL,
    route     text COLLATE "C" NOT NULL,
    path      text NOT NULL,
    run_id    text COLLATE "C",
    status    integer NOT NULL,
    address   text
);
CREATE INDEX ix_audit_log_key ON audit_log(key_id, id);
CREATE INDEX ix_audit_log_run ON audit_log(run_id, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER tr_audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER tr_audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
