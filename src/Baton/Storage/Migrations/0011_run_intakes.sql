-- A run's intake (up to 1 MiB) lives apart from its row. Every phase transition reads and rewrites the `runs` row, and
-- SQLite reads and rewrites a row whole, its overflow pages included: with the intake inside, a 64 KiB PRD was read
-- and written again several times per phase. Now it is read only where it is shown or used (issue 10, ADR 0018).
CREATE TABLE run_intakes (
    run_id  TEXT PRIMARY KEY REFERENCES runs(id),
    intake  TEXT NOT NULL
);
INSERT INTO run_intakes(run_id, intake) SELECT id, intake FROM runs;
-- No index, view or trigger names the column, so SQLite (3.35+) can drop it; it rewrites the table once.
ALTER TABLE runs DROP COLUMN intake;
