INSERT INTO refunds (id, order_id, sequence, amount_minor, currency, reason, provider,
                     provider_reference, refund_key, request_hash, restock, full_refund,
                     pending, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
