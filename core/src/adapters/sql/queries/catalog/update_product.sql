-- Everything but stock, which changes only through adjustments and orders.
UPDATE products
SET name = $2, name_key = $3, slug = $4, description = $5, price_minor = $6, currency = $7,
    active = $8, category_id = $9, updated_at = $10, weight_grams = $11
WHERE id = $1
