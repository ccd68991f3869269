-- Claiming counts each worker's jobs under a live lease (its concurrency limit) on every claim.
CREATE INDEX ix_jobs_worker_lease ON jobs(worker, lease_expires_at) WHERE lease_expires_at IS NOT NULL;
