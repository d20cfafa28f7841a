-- The W3C `traceparent` of the span that wrote the event (NULL when tracing is off), so the
-- relay's publish span and every worker's handling join the trace of the request.
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
