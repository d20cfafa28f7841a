SELECT from_status, to_status, actor_id, changed_at
FROM order_status_history
WHERE order_id = $1
ORDER BY id
