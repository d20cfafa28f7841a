INSERT INTO products (id, sku, name, name_key, slug, description, price_minor, currency, stock,
                      active, category_id, created_at, updated_at, weight_grams)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
