-- Where a run's workspace lives (ADR 26). A workspace of a local-path repository is pinned to the node (BATON_NODE_ID)
-- that made it: its owner's jobs carry the pin, and only that node claims them (with several nodes; on SQLite one
-- process owns the file, so the pin is kept but never waited on). NULL: the work may move (a git URL, or no workspace).
ALTER TABLE workspaces ADD COLUMN pinned_node TEXT;
ALTER TABLE jobs ADD COLUMN pinned_node TEXT;

-- Each worker node's last sign of life, renewed at lease-renewal cadence: a run pinned to a node without one for two
-- lease lengths says which node it waits for.
CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    heartbeat_at  INTEGER NOT NULL,   -- Unix ms
    started_at    INTEGER NOT NULL
);
