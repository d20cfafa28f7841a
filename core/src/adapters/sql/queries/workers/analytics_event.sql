INSERT INTO analytics_events (event_id, event_type, subject, occurred_at, data)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (event_id) DO NOTHING
