SELECT ci.id AS item_id, ci.user_id AS item_user_id, ci.quantity AS item_quantity,
       ci.added_at AS item_added_at,
       p.id, p.sku, p.name, p.slug, p.description, p.price_minor, p.currency, p.stock,
       p.active, p.category_id, p.weight_grams, p.created_at, p.updated_at
FROM cart_items ci JOIN products p ON p.id = ci.product_id
WHERE ci.user_id = $1
