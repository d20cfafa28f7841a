SELECT p.id, p.sku, p.name, p.slug, p.description, p.price_minor, p.currency, p.stock,
       p.active, p.category_id, p.weight_grams, p.created_at, p.updated_at
FROM products p
