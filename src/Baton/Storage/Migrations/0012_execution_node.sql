-- The node (BATON_NODE_ID) that started the execution: only that node stops its agent after a crash, since a pid
-- means nothing on another machine. NULL for executions started before node ids: one process owned the file then.
ALTER TABLE executions ADD COLUMN node_id TEXT;
