-- The quota count (a create of a key with BATON_QUOTA_ACTIVE_RUNS counts the key's unfinished runs) reads only the
-- key's unfinished runs: an index of those alone, which finished runs leave (ADR 52). The index it replaces held every
-- run of every key; only this count read it.
DROP INDEX ix_runs_created_by_key_status;
CREATE INDEX ix_runs_active_by_key ON runs(created_by_key) WHERE status IN ('pending', 'running', 'awaiting_approval', 'paused');
