INSERT INTO order_status_history (order_id, from_status, to_status, actor_id, changed_at)
VALUES ($1, $2, $3, $4, $5)
