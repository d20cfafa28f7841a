SELECT p.id, p.sku, p.name, p.slug, p.description, p.price_minor, p.currency, p.stock,
       p.active, p.category_id, p.weight_grams, p.created_at, p.updated_at
FROM products_fts JOIN products p ON p.seq = products_fts.rowid
WHERE products_fts MATCH $1{active}
ORDER BY bm25(products_fts, 10.0, 10.0, 1.0), p.id DESC
LIMIT $2 OFFSET $3
