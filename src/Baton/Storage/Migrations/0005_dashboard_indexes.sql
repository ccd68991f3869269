-- The dashboard's reads. Without ANALYZE, SQLite picked ix_events_type for a run's log lines and so read every run's
-- log; this index finds one run's lines of one type in order.
CREATE INDEX ix_events_run_type ON events(run_id, type, seq);

-- The executions list: newest first, unfiltered or by status or by worker.
CREATE INDEX ix_executions_created ON executions(created_at, id);
CREATE INDEX ix_executions_status_created ON executions(status, created_at, id);
CREATE INDEX ix_executions_worker_created ON executions(worker, created_at, id);
