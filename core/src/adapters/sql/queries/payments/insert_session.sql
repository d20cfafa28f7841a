INSERT INTO payment_sessions (order_id, attempt, provider, reference, token, redirect_url,
                              expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
