-- SQLite refuses qualified names (`p.id`) in RETURNING, so the columns are bare here.
UPDATE products
SET stock = stock + $2, updated_at = $3
WHERE id = $1 AND stock + $2 >= 0 AND stock + $2 <= 1000000000
RETURNING id, sku, name, slug, description, price_minor, currency, stock, active, category_id,
          weight_grams,
          created_at, updated_at
