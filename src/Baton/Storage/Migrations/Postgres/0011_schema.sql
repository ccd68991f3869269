-- The schema as of SQLite migration 0011, for a new PostgreSQL database: one file standing for 0001–0011. A new
-- PostgreSQL database holds no old data, so the data migrations of 0003 (logs into events), 0006 (credentials out of
-- URLs) and 0011 (intakes out of runs) have nothing to move and only their final tables are here. Migrations from 0012
-- on exist in both folders, under the same number. schema_migrations is made by the runner, not here.
--
-- Types (issue 11 plan, section 2):
-- - Times are Unix milliseconds, as on SQLite: bigint.
-- - Ids, names, statuses, phases, hashes (anything compared, sorted or keyed on) are text COLLATE "C", which orders
--   as SQLite's BINARY does, whatever the database's locale; keyset pages (created_at DESC, id DESC) stay the same.
-- - Counters are integer where the C# row field is int and bigint where it is long (SUM(integer) gives bigint, which
--   Dapper reads as long; SUM(bigint) would give numeric). Sizes, tokens and bytes are bigint.
-- - Money is numeric(20,10); runs.budget_approved, a C# bool, is boolean; JSON (events.data, workers.config) is jsonb.
-- - Foreign keys are always enforced (SQLite needed PRAGMA foreign_keys=ON). A referenced table is created before the
--   tables that name it; SQLite allowed the reverse (runs.repository_id was added in 0003).

CREATE TABLE profile_versions (
    hash        text COLLATE "C" PRIMARY KEY,
    name        text COLLATE "C" NOT NULL,
    source      text NOT NULL,
    created_at  bigint NOT NULL
);

CREATE TABLE repositories (
    id              text COLLATE "C" PRIMARY KEY,
    name            text COLLATE "C" NOT NULL,
    url             text NOT NULL,
    default_branch  text NOT NULL,
    created_at      bigint NOT NULL
);

CREATE TABLE runs (
    id               text COLLATE "C" PRIMARY KEY,
    profile          text COLLATE "C" NOT NULL,
    profile_hash     text COLLATE "C" NOT NULL REFERENCES profile_versions(hash),
    project_name     text COLLATE "C",
    status           text COLLATE "C" NOT NULL,
    mode             text COLLATE "C" NOT NULL,
    current_phase    text COLLATE "C",
    iteration        integer NOT NULL,
    wait_reason      text COLLATE "C",
    error            text,
    budget_usd       numeric(20,10),
    budget_approved  boolean NOT NULL DEFAULT false,
    cost_usd         numeric(20,10) NOT NULL DEFAULT 0,
    tokens_used      bigint NOT NULL DEFAULT 0,
    idempotency_key  text COLLATE "C" UNIQUE,
    request_hash     text COLLATE "C",
    created_by       text COLLATE "C",
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    completed_at     bigint,
    version          bigint NOT NULL DEFAULT 0,
    iteration_base   integer NOT NULL DEFAULT 0,
    resume_phase     text COLLATE "C",
    resume_feedback  text,
    repository_id    text COLLATE "C" REFERENCES repositories(id),
    created_by_key   text COLLATE "C"
);
CREATE INDEX ix_runs_created ON runs(created_at DESC, id DESC);
CREATE INDEX ix_runs_status  ON runs(status, created_at DESC, id DESC);
CREATE INDEX ix_runs_profile ON runs(profile, created_at DESC, id DESC);
CREATE INDEX ix_runs_project ON runs(project_name, created_at DESC, id DESC);
CREATE INDEX ix_runs_created_by_key_status ON runs(created_by_key, status);

CREATE TABLE run_intakes (
    run_id  text COLLATE "C" PRIMARY KEY REFERENCES runs(id),
    intake  text NOT NULL
);

-- Counts per (profile, project, status), kept by triggers so that no code path can forget them. On SQLite the triggers
-- upsert one row per key. Here that deadlocks: run A going running→awaiting_approval and run B going the other way
-- each lock one count row and wait for the other's (reproduced), and every status change of every run queues on a
-- handful of hot rows. So the table is append-only: each change inserts +1 for the new (profile, project, status) and
-- -1 for the old one, no row is ever updated, and two transactions never wait on each other here. There is no primary
-- key, since a key holds many rows; every read already takes SUM(count) … GROUP BY, so the reads hold unchanged. A fold
-- job later replaces a key's rows by their sum.
CREATE TABLE run_counts (
    profile       text COLLATE "C" NOT NULL,
    project_name  text COLLATE "C" NOT NULL,
    status        text COLLATE "C" NOT NULL,
    count         integer NOT NULL
);
CREATE INDEX ix_run_counts_key ON run_counts(profile, project_name, status);
CREATE INDEX ix_run_counts_status ON run_counts(status);
CREATE INDEX ix_run_counts_project ON run_counts(project_name);

CREATE FUNCTION runs_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_counts(profile, project_name, status, count)
    VALUES (NEW.profile, COALESCE(NEW.project_name, ''), NEW.status, 1);
    RETURN NULL;
END;
$$;

CREATE FUNCTION runs_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO run_counts(profile, project_name, status, count)
    VALUES (OLD.profile, COALESCE(OLD.project_name, ''), OLD.status, -1),
           (NEW.profile, COALESCE(NEW.project_name, ''), NEW.status, 1);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tr_runs_count_insert AFTER INSERT ON runs
FOR EACH ROW EXECUTE FUNCTION runs_count_insert();

CREATE TRIGGER tr_runs_count_update AFTER UPDATE OF status, project_name ON runs
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.project_name IS DISTINCT FROM NEW.project_name)
EXECUTE FUNCTION runs_count_update();

CREATE TABLE phase_runs (
    run_id                 text COLLATE "C" NOT NULL REFERENCES runs(id),
    phase                  text COLLATE "C" NOT NULL,
    iteration              integer NOT NULL,
    position               integer NOT NULL,
    status                 text COLLATE "C" NOT NULL,
    attempts               integer NOT NULL DEFAULT 0,
    feedback               text,
    error                  text,
    started_at             bigint,
    completed_at           bigint,
    gate_status            text COLLATE "C",
    gate_actor             text COLLATE "C",
    gate_comment           text,
    gate_decided_at        bigint,
    gate_deadline          bigint,
    validation_skipped_by  text COLLATE "C",
    PRIMARY KEY (run_id, iteration, phase)
);

-- Workers: configured agents. Secrets are never stored: the config names environment variables instead.
CREATE TABLE workers (
    id           text COLLATE "C" PRIMARY KEY,
    name         text COLLATE "C" NOT NULL UNIQUE,
    kind         text COLLATE "C" NOT NULL,
    config       jsonb NOT NULL,
    concurrency  integer NOT NULL DEFAULT 0,
    created_by   text COLLATE "C",
    created_at   bigint NOT NULL
);

CREATE TABLE work_items (
    id             text COLLATE "C" PRIMARY KEY,
    title          text NOT NULL,
    description    text,
    repository_id  text COLLATE "C" REFERENCES repositories(id),
    created_at     bigint NOT NULL
);

-- One row per attempt of an agent: a phase's (with a run) or a standalone one (with a work item and a prompt).
CREATE TABLE executions (
    id             text COLLATE "C" PRIMARY KEY,
    run_id         text COLLATE "C" REFERENCES runs(id),
    phase          text COLLATE "C",
    iteration      integer,
    worker         text COLLATE "C" NOT NULL,
    worker_kind    text COLLATE "C" NOT NULL,
    status         text COLLATE "C" NOT NULL,
    error_message  text,
    created_at     bigint NOT NULL,
    started_at     bigint,
    completed_at   bigint,
    duration_ms    bigint,
    tokens_in      bigint NOT NULL DEFAULT 0,
    tokens_out     bigint NOT NULL DEFAULT 0,
    cost_usd       numeric(20,10) NOT NULL DEFAULT 0,
    tool_calls     integer NOT NULL DEFAULT 0,
    tests_run      integer,
    tests_passed   integer,
    work_item_id   text COLLATE "C" REFERENCES work_items(id),
    prompt         text,
    summary        text,
    files_changed  integer,
    diff           text,
    -- The agent's process (its process group), so a restart can stop an agent orphaned by a crash.
    pid            integer
);
CREATE INDEX ix_executions_run ON executions(run_id, iteration, phase);
CREATE INDEX ix_executions_worker_status ON executions(worker, status);
CREATE INDEX ix_executions_created ON executions(created_at, id);
CREATE INDEX ix_executions_status_created ON executions(status, created_at, id);
CREATE INDEX ix_executions_worker_created ON executions(worker, created_at, id);

-- The log (log lines are events of type 'log'); seq is the resumable cursor of every stream. CACHE 1: each insert takes
-- the next value itself, so no session holds back a block of ids that others then pass.
CREATE TABLE events (
    seq         bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
    run_id      text COLLATE "C" NOT NULL,
    type        text COLLATE "C" NOT NULL,
    phase       text COLLATE "C",
    iteration   integer,
    actor       text COLLATE "C",
    data        jsonb,
    created_at  bigint NOT NULL
);
CREATE INDEX ix_events_run ON events(run_id, seq);
CREATE INDEX ix_events_type ON events(type);
CREATE INDEX ix_events_run_type ON events(run_id, type, seq);

CREATE TABLE jobs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind              text COLLATE "C" NOT NULL,
    run_id            text COLLATE "C" NOT NULL,
    phase             text COLLATE "C",
    iteration         integer,
    run_at            bigint NOT NULL,
    attempts          integer NOT NULL DEFAULT 0,
    lease_owner       text COLLATE "C",
    lease_token       text COLLATE "C",
    lease_expires_at  bigint,
    created_at        bigint NOT NULL,
    -- The worker a job will run, so that claiming can respect each worker's concurrency limit.
    worker            text COLLATE "C",
    execution_id      text COLLATE "C"
);
CREATE INDEX ix_jobs_due ON jobs(run_at);
CREATE INDEX ix_jobs_run ON jobs(run_id);
-- Idle workers ask for the earliest lease to run out; gate jobs make the table large enough to need this.
CREATE INDEX ix_jobs_lease ON jobs(lease_expires_at) WHERE lease_expires_at IS NOT NULL;
-- Claiming counts each worker's jobs under a live lease (its concurrency limit) on every claim.
CREATE INDEX ix_jobs_worker_lease ON jobs(worker, lease_expires_at) WHERE lease_expires_at IS NOT NULL;

CREATE TABLE blobs (
    sha256   text COLLATE "C" PRIMARY KEY,
    size     bigint NOT NULL,
    content  bytea NOT NULL
);

CREATE TABLE artifacts (
    run_id      text COLLATE "C" NOT NULL REFERENCES runs(id),
    name        text COLLATE "C" NOT NULL,
    iteration   integer NOT NULL,
    phase       text COLLATE "C" NOT NULL,
    sha256      text COLLATE "C" NOT NULL REFERENCES blobs(sha256),
    size        bigint NOT NULL,
    media_type  text NOT NULL,
    created_at  bigint NOT NULL,
    PRIMARY KEY (run_id, name, iteration)
);

CREATE TABLE api_keys (
    id          text COLLATE "C" PRIMARY KEY,
    name        text COLLATE "C" NOT NULL,
    role        text COLLATE "C" NOT NULL,
    token_hash  text COLLATE "C" NOT NULL UNIQUE,
    created_by  text COLLATE "C",
    created_at  bigint NOT NULL,
    expires_at  bigint,
    revoked_at  bigint
);

CREATE TABLE workspaces (
    id               text COLLATE "C" PRIMARY KEY,
    repository_id    text COLLATE "C" NOT NULL REFERENCES repositories(id),
    owner_id         text COLLATE "C" NOT NULL UNIQUE,   -- the run or standalone execution it belongs to
    path             text NOT NULL,
    branch           text NOT NULL,
    base_commit      text NOT NULL,
    status           text COLLATE "C" NOT NULL,           -- active | deleted
    created_at       bigint NOT NULL,
    deleted_at       bigint,
    -- Where the branch stood when the workspace's last execution finished (ADR 17).
    finished_commit  text
);
CREATE INDEX ix_workspaces_status ON workspaces(status);

-- One-time sign-in links for the dashboard; only the code's hash is kept.
CREATE TABLE signin_links (
    code_hash   text COLLATE "C" PRIMARY KEY,
    key_id      text COLLATE "C" NOT NULL REFERENCES api_keys(id),
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL,
    used_at     bigint
);

-- A repository that needs a credential names a server environment variable (never its value), apart from the row
-- that every viewer reads.
CREATE TABLE repository_credentials (
    repository_id  text COLLATE "C" PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    env            text NOT NULL,
    set_by         text COLLATE "C",
    set_at         bigint NOT NULL
);

-- A dashboard sign-in is a row here as well as a cookie, so signing out ends a copied cookie at once.
CREATE TABLE dashboard_sessions (
    id          text COLLATE "C" PRIMARY KEY,
    key_id      text COLLATE "C" NOT NULL REFERENCES api_keys(id),
    created_at  bigint NOT NULL
);

-- Bytes each key has stored (intakes), a running total kept in the transaction that stores them.
CREATE TABLE key_usage (
    key_id        text COLLATE "C" PRIMARY KEY,
    stored_bytes  bigint NOT NULL DEFAULT 0
);
