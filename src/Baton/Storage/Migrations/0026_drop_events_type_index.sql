-- No read filters events by type alone: every read by type names the run too (ix_events_run_type, 0005), and an index
-- on type only cost every event an index entry (and once misled SQLite's planner, see 0005).
DROP INDEX ix_events_type;
