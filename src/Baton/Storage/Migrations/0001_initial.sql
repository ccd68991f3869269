-- Times are unix milliseconds (INTEGER): portable, cheap to compare, index-friendly.

CREATE TABLE profile_versions (
    hash        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    profile          TEXT NOT NULL,
    profile_hash     TEXT NOT NULL REFERENCES profile_versions(hash),
    project_name     TEXT,
    status           TEXT NOT NULL,
    mode             TEXT NOT NULL,
    current_phase    TEXT,
    iteration        INTEGER NOT NULL,
    wait_reason      TEXT,
    error            TEXT,
    intake           TEXT NOT NULL,
    budget_usd       REAL,
    budget_approved  INTEGER NOT NULL DEFAULT 0,
    cost_usd         REAL NOT NULL DEFAULT 0,
    tokens_used      INTEGER NOT NULL DEFAULT 0,
    idempotency_key  TEXT UNIQUE,
    request_hash     TEXT,
    created_by       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    completed_at     INTEGER,
    version          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_runs_created ON runs(created_at DESC, id DESC);
CREATE INDEX ix_runs_status  ON runs(status, created_at DESC, id DESC);
CREATE INDEX ix_runs_profile ON runs(profile, created_at DESC, id DESC);
CREATE INDEX ix_runs_project ON runs(project_name, created_at DESC, id DESC);

-- Counts per (profile, project, status), kept by triggers so that no code path can forget them:
-- `total` of the run list and baton_runs_total stay cheap at a million runs.
CREATE TABLE run_counts (
    profile       TEXT NOT NULL,
    project_name  TEXT NOT NULL,
    status        TEXT NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (profile, project_name, status)
);
CREATE INDEX ix_run_counts_status ON run_counts(status);
CREATE INDEX ix_run_counts_project ON run_counts(project_name);

CREATE TRIGGER tr_runs_count_insert AFTER INSERT ON runs BEGIN
    INSERT INTO run_counts(profile, project_name, status, count)
    VALUES (NEW.profile, COALESCE(NEW.project_name, ''), NEW.status, 1)
    ON CONFLICT(profile, project_name, status) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER tr_runs_count_update AFTER UPDATE OF status, project_name ON runs
WHEN OLD.status IS NOT NEW.status OR OLD.project_name IS NOT NEW.project_name BEGIN
    UPDATE run_counts SET count = count - 1
    WHERE profile = OLD.profile AND project_name = COALESCE(OLD.project_name, '') AND status = OLD.status;
    INSERT INTO run_counts(profile, project_name, status, count)
    VALUES (NEW.profile, COALESCE(NEW.project_name, ''), NEW.status, 1)
    ON CONFLICT(profile, project_name, status) DO UPDATE SET count = count + 1;
END;

CREATE TABLE phase_runs (
    run_id                 TEXT NOT NULL REFERENCES runs(id),
    phase                  TEXT NOT NULL,
    iteration              INTEGER NOT NULL,
    position               INTEGER NOT NULL,
    status                 TEXT NOT NULL,
    attempts               INTEGER NOT NULL DEFAULT 0,
    feedback               TEXT,
    error                  TEXT,
    started_at             INTEGER,
    completed_at           INTEGER,
    gate_status            TEXT,
    gate_actor             TEXT,
    gate_comment           TEXT,
    gate_decided_at        INTEGER,
    gate_deadline          INTEGER,
    validation_skipped_by  TEXT,
    PRIMARY KEY (run_id, iteration, phase)
);

CREATE TABLE executions (
    id             TEXT PRIMARY KEY,
    run_id         TEXT REFERENCES runs(id),
    phase          TEXT,
    iteration      INTEGER,
    worker         TEXT NOT NULL,
    worker_kind    TEXT NOT NULL,
    status         TEXT NOT NULL,
    error_message  TEXT,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    completed_at   INTEGER,
    duration_ms    INTEGER,
    tokens_in      INTEGER NOT NULL DEFAULT 0,
    tokens_out     INTEGER NOT NULL DEFAULT 0,
    cost_usd       REAL NOT NULL DEFAULT 0,
    tool_calls     INTEGER NOT NULL DEFAULT 0,
    tests_run      INTEGER,
    tests_passed   INTEGER
);
CREATE INDEX ix_executions_run ON executions(run_id, iteration, phase);

CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    type        TEXT NOT NULL,
    phase       TEXT,
    iteration   INTEGER,
    actor       TEXT,
    data        TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX ix_events_run ON events(run_id, seq);
CREATE INDEX ix_events_type ON events(type);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    phase             TEXT,
    iteration         INTEGER,
    run_at            INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_token       TEXT,
    lease_expires_at  INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE INDEX ix_jobs_due ON jobs(run_at);
CREATE INDEX ix_jobs_run ON jobs(run_id);

CREATE TABLE blobs (
    sha256   TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    content  BLOB NOT NULL
);

CREATE TABLE artifacts (
    run_id      TEXT NOT NULL REFERENCES runs(id),
    name        TEXT NOT NULL,
    iteration   INTEGER NOT NULL,
    phase       TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES blobs(sha256),
    size        INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (run_id, name, iteration)
);

CREATE TABLE logs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    phase       TEXT,
    iteration   INTEGER,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX ix_logs_run ON logs(run_id, seq);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_by  TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
