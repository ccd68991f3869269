-- A cost nobody knows (ADR 28): Codex reports tokens but no cost, and a worker without prices cannot price them. The
-- execution's cost_usd stays 0 and cost_unknown says it is unknown, not free; a run with such an execution says so
-- too, and its budget stops it (a budget cannot be checked against an unknown spend).
ALTER TABLE executions ADD COLUMN cost_unknown INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN cost_unknown INTEGER NOT NULL DEFAULT 0;
