SELECT id, provider, event_id, order_id, body, body_sha256, body_length, headers, received_at,
       outcome, detail
FROM payment_notifications
