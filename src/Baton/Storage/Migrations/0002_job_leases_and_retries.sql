-- Idle workers ask for the earliest lease to run out; gate jobs make the table large enough to need this.
CREATE INDEX ix_jobs_lease ON jobs(lease_expires_at) WHERE lease_expires_at IS NOT NULL;

-- A retry starts counting max_iterations afresh from its own iteration.
ALTER TABLE runs ADD COLUMN iteration_base INTEGER NOT NULL DEFAULT 0;
-- When max_iterations stops a loop: where a retry resumes, and the feedback it carries.
ALTER TABLE runs ADD COLUMN resume_phase TEXT;
ALTER TABLE runs ADD COLUMN resume_feedback TEXT;
