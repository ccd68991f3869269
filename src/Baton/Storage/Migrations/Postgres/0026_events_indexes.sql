-- Fewer index entries per event (issue 11's load). An event is inserted without its id and updated once the sequencer
-- gives it one (0014, ADR 27); the update changes seq, an indexed column, so it is never HOT and adds an entry to every
-- index of events. Before: 6 entries at the insert (pos, seq, run, type, run and type, unsequenced) and 5 at the
-- update. Now 3 and 4:
-- - ix_events_type goes: no read filters by type alone (as on SQLite, 0026);
-- - the indexes read by seq hold only events that have one: readers ask for `seq > @after`, `seq < @before` or
--   `seq IS NOT NULL`, which imply it, so the insert adds no entry there and the update adds the only one.
-- ix_events_run stays whole: retention and a run's last id read events by run alone.
DROP INDEX ix_events_type;
DROP INDEX ux_events_seq;
CREATE UNIQUE INDEX ux_events_seq ON events(seq) WHERE seq IS NOT NULL;
DROP INDEX ix_events_run_type;
CREATE INDEX ix_events_run_type ON events(run_id, type, seq) WHERE seq IS NOT NULL;
