INSERT INTO payment_notifications (id, provider, event_id, order_id, body, body_sha256,
                                   body_length, headers, received_at, outcome, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
