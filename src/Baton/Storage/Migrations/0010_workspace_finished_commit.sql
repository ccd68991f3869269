-- Where the branch stood when the workspace's last execution finished: a phase run again after a crash starts from
-- there, so the commit of an execution whose finish transaction never ran is not kept (ADR 17).
ALTER TABLE workspaces ADD COLUMN finished_commit TEXT;
