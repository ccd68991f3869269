-- The node (BATON_NODE_ID) that started the execution: only that node stops its agent after a crash, since a pid
-- means nothing on another machine.
ALTER TABLE executions ADD COLUMN node_id text COLLATE "C";
