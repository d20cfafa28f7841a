SELECT fingerprint, order_id
FROM checkout_requests
WHERE user_id = $1 AND idempotency_key = $2
