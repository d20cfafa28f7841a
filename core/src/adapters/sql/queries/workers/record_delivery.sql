INSERT INTO webhook_deliveries (event_id, url, delivered_at)
VALUES ($1, $2, $3)
ON CONFLICT (event_id, url) DO NOTHING
