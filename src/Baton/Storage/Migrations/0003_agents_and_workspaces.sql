-- Workers: configured agents. Secrets are never stored: the config names environment variables instead.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    config       TEXT NOT NULL,
    concurrency  INTEGER NOT NULL DEFAULT 0,
    created_by   TEXT,
    created_at   INTEGER NOT NULL
);

CREATE TABLE repositories (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    default_branch  TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE work_items (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT,
    repository_id  TEXT REFERENCES repositories(id),
    created_at     INTEGER NOT NULL
);

CREATE TABLE workspaces (
    id             TEXT PRIMARY KEY,
    repository_id  TEXT NOT NULL REFERENCES repositories(id),
    owner_id       TEXT NOT NULL UNIQUE,   -- the run or standalone execution it belongs to
    path           TEXT NOT NULL,
    branch         TEXT NOT NULL,
    base_commit    TEXT NOT NULL,
    status         TEXT NOT NULL,           -- active | deleted
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
CREATE INDEX ix_workspaces_status ON workspaces(status);

ALTER TABLE runs ADD COLUMN repository_id TEXT REFERENCES repositories(id);

-- Standalone executions (agent runtime) have no run: they name their worker and work item.
ALTER TABLE executions ADD COLUMN work_item_id TEXT REFERENCES work_items(id);
ALTER TABLE executions ADD COLUMN prompt TEXT;
ALTER TABLE executions ADD COLUMN summary TEXT;
ALTER TABLE executions ADD COLUMN files_changed INTEGER;
ALTER TABLE executions ADD COLUMN diff TEXT;
-- The agent's process (its process group), so a restart can stop an agent orphaned by a crash.
ALTER TABLE executions ADD COLUMN pid INTEGER;
CREATE INDEX ix_executions_worker_status ON executions(worker, status);

-- The worker a job will run, so that claiming can respect each worker's concurrency limit.
ALTER TABLE jobs ADD COLUMN worker TEXT;
ALTER TABLE jobs ADD COLUMN execution_id TEXT;

-- Log lines are events (type 'log'), so they stream live with everything else under one resumable cursor.
INSERT INTO events(run_id, type, phase, iteration, actor, data, created_at)
SELECT run_id, 'log', phase, iteration, NULL, json_object('level', level, 'message', message), created_at FROM logs ORDER BY seq;
DROP TABLE logs;
