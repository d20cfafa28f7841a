INSERT INTO outbox (id, event_type, subject, payload, occurred_at, traceparent)
VALUES ($1, $2, $3, $4, $5, $6)
