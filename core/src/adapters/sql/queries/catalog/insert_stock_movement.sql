INSERT INTO stock_movements (product_id, delta, reason, actor_id, order_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
