-- Issue 14 (ADR 33): the W3C trace context (traceparent) of the request that created a run. Every span of the run's
-- phases, on any node and after any restart, is a child of it, so a run is one trace. NULL: created with tracing off.
ALTER TABLE runs ADD COLUMN trace_parent TEXT;
