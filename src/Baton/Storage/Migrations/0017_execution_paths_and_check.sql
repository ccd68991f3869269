-- Seed 003's agent-runtime output (issue 12): the paths an execution changed, as a JSON array of strings (the first
-- 10,000; `files_changed` keeps the whole count), and the exit code of the phase's check, which decides whether its
-- tests passed (counts alone do not: a check may fail with every test it reported passing). NULL: no commit or no check.
ALTER TABLE executions ADD COLUMN changed_paths TEXT;
ALTER TABLE executions ADD COLUMN check_exit_code INTEGER;
