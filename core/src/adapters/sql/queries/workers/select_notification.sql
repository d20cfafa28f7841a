SELECT id, user_id, kind, title, body, data, created_at, read_at
FROM notifications
