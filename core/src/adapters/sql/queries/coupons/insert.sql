INSERT INTO coupons (id, code, kind, amount, currency, min_subtotal_minor, starts_at, ends_at,
                     usage_limit, per_customer_limit, product_ids, category_ids, active,
                     created_at, updated_at, used)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0)
