INSERT INTO checkout_requests (user_id, idempotency_key, fingerprint, order_id, created_at)
VALUES ($1, $2, $3, $4, $5)
