-- Per-key quotas. created_by holds the key's name, which a new key may take once the old one is revoked; the key's id
-- is what a quota counts by. Runs created before this migration belong to no key and count against none.
ALTER TABLE runs ADD COLUMN created_by_key TEXT;
CREATE INDEX ix_runs_created_by_key_status ON runs(created_by_key, status);

-- Bytes each key has stored (intakes), kept as a running total in the transaction that stores them, so checking a
-- quota reads one row instead of summing every run the key made.
CREATE TABLE key_usage (
    key_id TEXT PRIMARY KEY,
    stored_bytes INTEGER NOT NULL DEFAULT 0
);
