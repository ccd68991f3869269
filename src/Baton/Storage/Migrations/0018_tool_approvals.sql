-- Tool approvals (issue 12, ADR 31): an agent's use of a tool its phase lists in `tool_approvals` waits for a human.
-- One row per request; status pending -> allowed | denied, once. tool_use_id (the agent's own id of the call) makes a
-- repeated request of the same call the same row.
CREATE TABLE tool_approvals (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs(id),
    execution_id  TEXT NOT NULL,
    phase         TEXT,
    iteration     INTEGER,
    tool          TEXT NOT NULL,
    input         TEXT NOT NULL,
    tool_use_id   TEXT,
    status        TEXT NOT NULL,
    message       TEXT,
    requested_at  INTEGER NOT NULL,
    decided_by    TEXT,
    decided_at    INTEGER
);
CREATE INDEX ix_tool_approvals_run ON tool_approvals(run_id, requested_at);
CREATE UNIQUE INDEX ux_tool_approvals_use ON tool_approvals(execution_id, tool_use_id) WHERE tool_use_id IS NOT NULL;
