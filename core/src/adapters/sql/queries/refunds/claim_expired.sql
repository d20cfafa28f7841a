-- The oldest orders whose payment time ran out; the dialect appends its row claim (Postgres:
-- FOR UPDATE SKIP LOCKED, so concurrent sweepers take disjoint orders).
SELECT id, user_id
FROM orders
WHERE status = 'pending_payment' AND placed_at < $1
ORDER BY placed_at, id
LIMIT $2
