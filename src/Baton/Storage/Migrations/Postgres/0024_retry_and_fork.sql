-- Retry from a phase and fork (issue 13 item 6, ADR 38). A fork is a new run that names the run it came from and the
-- phase it starts at; its branch starts at fork_commit, that phase's base commit in the parent (NULL: no repository).
-- A phase run's base_commit is where the run's workspace stood when the phase was entered (NULL: before the run had a
-- workspace, i.e. the workspace's own base_commit). A retry from an earlier phase leaves the commit to go back to in
-- workspaces.reset_to; the phase's execution resets to it, and the finish that records its commit clears it.
ALTER TABLE runs ADD COLUMN parent_run_id text COLLATE "C" REFERENCES runs(id);
ALTER TABLE runs ADD COLUMN forked_at_phase text COLLATE "C";
ALTER TABLE runs ADD COLUMN fork_commit text COLLATE "C";
ALTER TABLE phase_runs ADD COLUMN base_commit text COLLATE "C";
ALTER TABLE workspaces ADD COLUMN reset_to text COLLATE "C";
CREATE INDEX ix_runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
