-- Per-group quorum (issue 13, ADR 39): the groups the deciding key had when it decided (a JSON array of names), so
-- `require_groups` counts an approval by what the key was at that moment, and the record shows it afterwards.
-- Decisions made before this migration have none: they count for no group.
ALTER TABLE gate_decisions ADD COLUMN groups text;
