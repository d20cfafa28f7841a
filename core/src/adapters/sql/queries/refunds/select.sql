SELECT id, order_id, sequence, amount_minor, currency, reason, provider, provider_reference,
       refund_key, request_hash, restock, full_refund, pending, created_at
FROM refunds
