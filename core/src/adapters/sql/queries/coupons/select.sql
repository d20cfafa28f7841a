SELECT id, code, kind, amount, currency, min_subtotal_minor, starts_at, ends_at, usage_limit,
       per_customer_limit, used, product_ids, category_ids, active, created_at, updated_at
FROM coupons
