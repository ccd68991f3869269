-- Governed gates (issue 13, ADR 32). A key may belong to groups (a JSON array of names), which a gate's `approvers`
-- can name. Every approval and rejection of a gate is a row of gate_decisions, bound to what was reviewed: the digest
-- over the phase's artifacts and the workspace commit, that commit, and the form's values (a JSON object). A gate
-- that needs N approvals is decided by N rows; a key approves a gate (run, phase, iteration) once.
ALTER TABLE api_keys ADD COLUMN groups text;

CREATE TABLE gate_decisions (
    run_id      text COLLATE "C" NOT NULL REFERENCES runs(id),
    phase       text COLLATE "C" NOT NULL,
    iteration   integer NOT NULL,
    decider     text COLLATE "C" NOT NULL,
    actor       text COLLATE "C" NOT NULL,
    decision    text COLLATE "C" NOT NULL,
    digest      text COLLATE "C" NOT NULL,
    commit_sha  text COLLATE "C",
    comment     text,
    inputs      text,
    decided_at  bigint NOT NULL,
    PRIMARY KEY (run_id, iteration, phase, decider, decision)
);
