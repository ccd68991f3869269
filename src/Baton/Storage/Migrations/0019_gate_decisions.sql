-- Governed gates (issue 13, ADR 32). A key may belong to groups (a JSON array of names), which a gate's `approvers`
-- can name. Every approval and rejection of a gate is a row of gate_decisions, bound to what was reviewed: the digest
-- over the phase's artifacts and the workspace commit, that commit, and the form's values (a JSON object). A gate
-- that needs N approvals is decided by N rows; a key approves a gate (run, phase, iteration) once.
ALTER TABLE api_keys ADD COLUMN groups TEXT;

CREATE TABLE gate_decisions (
    run_id      TEXT NOT NULL REFERENCES runs(id),
    phase       TEXT NOT NULL,
    iteration   INTEGER NOT NULL,
    decider     TEXT NOT NULL,      -- the key's id (distinct approvals are distinct keys)
    actor       TEXT NOT NULL,      -- the key's name, as events name it
    decision    TEXT NOT NULL,      -- approved | rejected
    digest      TEXT NOT NULL,
    commit_sha  TEXT,
    comment     TEXT,
    inputs      TEXT,
    decided_at  INTEGER NOT NULL,
    PRIMARY KEY (run_id, iteration, phase, decider, decision)
);
