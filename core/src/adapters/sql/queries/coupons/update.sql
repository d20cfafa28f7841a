UPDATE coupons
SET code = $2, kind = $3, amount = $4, currency = $5, min_subtotal_minor = $6, starts_at = $7,
    ends_at = $8, usage_limit = $9, per_customer_limit = $10, product_ids = $11,
    category_ids = $12, active = $13, updated_at = $14
WHERE id = $1
