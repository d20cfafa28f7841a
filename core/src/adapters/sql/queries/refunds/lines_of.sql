SELECT order_id, product_id, quantity
FROM order_items
WHERE order_id IN
