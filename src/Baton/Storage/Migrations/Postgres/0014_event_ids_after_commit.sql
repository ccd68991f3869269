-- Event ids given after commit (ADR 27). A write inserts its events with no public id, only `pos`, an insert-order
-- key; the event sequencer (EventSequencer, one at a time under an advisory lock) then gives committed events the next
-- ids in `pos` order. Readers read `seq > @last`, so an event becomes readable only with its id, and every id is given
-- after every smaller one is readable: a stream resuming from Last-Event-ID misses nothing, and no writer waits for
-- another's commit. `pos` takes one value at a time (CACHE 1): a session holding a block would put a later commit's
-- events before an earlier one's when a pass sees both.
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ALTER COLUMN seq DROP IDENTITY;
ALTER TABLE events ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE events ADD COLUMN pos bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY;
CREATE UNIQUE INDEX ux_events_seq ON events(seq);
-- What the sequencer reads: the events still waiting for their ids, a handful at any time.
CREATE INDEX ix_events_unsequenced ON events(pos) WHERE seq IS NULL;
