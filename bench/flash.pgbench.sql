-- The flash sale's yardstick: the statements one checkout runs (as bench/checkout.pgbench.sql)
-- when every buyer's cart is one unit of the same product, md5('bench-hot'): one hot row.
\set n random(1, :users)
\set r random(1, 2000000000)
SELECT id, user_id, recipient, line1, line2, city, region, postal_code, country, phone, is_default, created_at FROM addresses WHERE user_id = md5('bench-' || :n)::uuid ORDER BY created_at, id;
BEGIN;
SELECT id FROM users WHERE id = md5('bench-' || :n)::uuid FOR UPDATE;
SELECT fingerprint, order_id FROM checkout_requests WHERE user_id = md5('bench-' || :n)::uuid AND idempotency_key = 'pgbench-' || :client_id || '-' || :r;
SELECT ci.id AS item_id, ci.user_id AS item_user_id, ci.quantity AS item_quantity, ci.added_at AS item_added_at, p.id, p.sku, p.name, p.slug, p.description, p.price_minor, p.currency, p.stock, p.active, p.category_id, p.created_at, p.updated_at FROM cart_items ci JOIN products p ON p.id = ci.product_id WHERE ci.user_id = md5('bench-' || :n)::uuid ORDER BY p.id;
SELECT id, code, kind, amount, currency, min_subtotal_minor, starts_at, ends_at, usage_limit, per_customer_limit, used, product_ids, category_ids, active, created_at, updated_at FROM coupons WHERE id = (SELECT coupon_id FROM cart_coupons WHERE user_id = md5('bench-' || :n)::uuid);
INSERT INTO orders (id, user_id, status, currency, subtotal_minor, tax_minor, total_minor, shipping_address, placed_at, updated_at) VALUES (md5('order-' || :client_id || '-' || :r)::uuid, md5('bench-' || :n)::uuid, 'pending_payment', 'USD', 1500, 0, 1500, NULL, now(), now()) RETURNING number;
INSERT INTO order_items (order_id, line_no, product_id, sku, name, unit_price_minor, quantity, line_total_minor) VALUES (md5('order-' || :client_id || '-' || :r)::uuid, 1, md5('bench-hot')::uuid, 'BENCH-HOT', 'Bench hot product', 1500, 1, 1500);
INSERT INTO stock_movements (product_id, delta, reason, actor_id, order_id, created_at) VALUES (md5('bench-hot')::uuid, -1, 'order placed', md5('bench-' || :n)::uuid, md5('order-' || :client_id || '-' || :r)::uuid, now());
INSERT INTO order_status_history (order_id, from_status, to_status, actor_id, changed_at) VALUES (md5('order-' || :client_id || '-' || :r)::uuid, NULL, 'pending_payment', md5('bench-' || :n)::uuid, now());
INSERT INTO checkout_requests (user_id, idempotency_key, fingerprint, order_id, created_at) VALUES (md5('bench-' || :n)::uuid, 'pgbench-' || :client_id || '-' || :r, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', md5('order-' || :client_id || '-' || :r)::uuid, now());
DELETE FROM cart_items WHERE user_id = md5('bench-' || :n)::uuid;
INSERT INTO outbox (id, event_type, subject, payload, occurred_at) VALUES (md5('event-' || :client_id || '-' || :r)::uuid, 'dev.shop.order.placed.v1', 'orders/x', '{"order_id":"x","items":[{"sku":"BENCH-HOT","quantity":1}]}', now());
WITH locked AS MATERIALIZED (SELECT id FROM products WHERE id IN (md5('bench-hot')::uuid) ORDER BY id FOR NO KEY UPDATE) UPDATE products SET stock = stock - v.column2, updated_at = now() FROM (VALUES (md5('bench-hot')::uuid, 1)) AS v WHERE products.id = v.column1 AND products.stock >= v.column2 AND products.active AND products.id IN (SELECT id FROM locked) RETURNING id, stock;
COMMIT;
