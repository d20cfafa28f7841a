SELECT order_id, product_id, sku, name, unit_price_minor, quantity, line_total_minor
FROM order_items
WHERE order_id IN
