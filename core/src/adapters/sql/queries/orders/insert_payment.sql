INSERT INTO payments (id, order_id, amount_minor, currency, provider, reference, status,
                      failure_reason, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
