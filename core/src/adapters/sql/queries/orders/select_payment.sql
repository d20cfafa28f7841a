SELECT id, order_id, amount_minor, currency, provider, reference, status, failure_reason,
       created_at
FROM payments
