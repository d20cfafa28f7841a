-- A line may hold at most 1000 units (`Quantity::MAX`): no row comes back when it would exceed.
INSERT INTO cart_items (id, user_id, product_id, quantity, added_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (user_id, product_id) DO UPDATE
SET quantity = cart_items.quantity + excluded.quantity
WHERE cart_items.quantity + excluded.quantity <= 1000
RETURNING quantity
