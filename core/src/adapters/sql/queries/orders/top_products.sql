SELECT i.product_id, MIN(i.sku) AS sku, MIN(i.name) AS name, o.currency,
       CAST(SUM(i.quantity) AS BIGINT) AS units,
       CAST(SUM(i.line_total_minor) AS BIGINT) AS revenue_minor
FROM order_items i JOIN orders o ON o.id = i.order_id
WHERE o.placed_at >= $1 AND o.status NOT IN ('cancelled', 'refunded')
GROUP BY i.product_id, o.currency
ORDER BY units DESC, revenue_minor DESC, i.product_id
LIMIT $2
