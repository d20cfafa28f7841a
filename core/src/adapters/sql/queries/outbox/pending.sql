SELECT id, event_type, subject, payload, occurred_at, traceparent
FROM outbox
WHERE published_at IS NULL
ORDER BY occurred_at, id
LIMIT $1
