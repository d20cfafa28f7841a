SELECT id, user_id, status, currency, subtotal_minor, tax_minor, total_minor, shipping_address,
       placed_at, updated_at
FROM orders
