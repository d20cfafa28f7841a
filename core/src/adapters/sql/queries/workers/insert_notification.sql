INSERT INTO notifications (id, event_id, user_id, kind, title, body, data, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
