SELECT order_id, attempt, provider, reference, token, redirect_url, expires_at, created_at
FROM payment_sessions
