-- Where a run's workspace lives (ADR 26). A workspace of a local-path repository is pinned to the node (BATON_NODE_ID)
-- that made it: its owner's jobs carry the pin, and only that node claims them. NULL: the work may move (a git URL,
-- or no workspace).
ALTER TABLE workspaces ADD COLUMN pinned_node text COLLATE "C";
ALTER TABLE jobs ADD COLUMN pinned_node text COLLATE "C";

-- Each worker node's last sign of life, renewed at lease-renewal cadence: a run pinned to a node without one for two
-- lease lengths says which node it waits for.
CREATE TABLE nodes (
    id            text COLLATE "C" PRIMARY KEY,
    heartbeat_at  bigint NOT NULL,   -- Unix ms
    started_at    bigint NOT NULL
);
