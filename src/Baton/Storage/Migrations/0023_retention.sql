-- Retention (issue 14): when a finished run's events, logs and artifacts were deleted (BATON_RETENTION or baton gc);
-- the run's row, phases, executions and intake stay, and a retention.applied event says what went.
ALTER TABLE runs ADD COLUMN retained_at INTEGER;
CREATE INDEX ix_runs_retention ON runs(completed_at) WHERE retained_at IS NULL AND completed_at IS NOT NULL;
