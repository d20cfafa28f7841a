-- Readable order numbers (issue 14.4): `orders.number` is the sequential part of
-- `SO-2026-000123`; the year is the UTC year of `placed_at`, added when the number is printed.
--
-- A SEQUENCE rather than a counter row: `nextval` is not transactional, so concurrent checkouts
-- never wait for each other to take a number (a counter row would be locked by every checkout
-- until it commits: one hot row serialising the whole shop, flash sale or not). The price is a
-- gap when a checkout rolls back after taking its number; numbers stay unique and increasing.
-- (Invoices, which must not have gaps, keep their own locked per-year counter.)
CREATE SEQUENCE order_numbers AS bigint MINVALUE 1;

ALTER TABLE orders ADD COLUMN number bigint;

-- Existing orders are numbered in the order they were placed.
UPDATE orders
SET number = numbered.n
FROM (SELECT id, row_number() OVER (ORDER BY placed_at, id) AS n FROM orders) AS numbered
WHERE orders.id = numbered.id;

SELECT setval('order_numbers', COALESCE((SELECT max(number) FROM orders), 0) + 1, false);

ALTER TABLE orders
    ALTER COLUMN number SET DEFAULT nextval('order_numbers'),
    ALTER COLUMN number SET NOT NULL,
    ADD CONSTRAINT orders_number_key UNIQUE (number),
    ADD CONSTRAINT orders_number_positive CHECK (number > 0);
ALTER SEQUENCE order_numbers OWNED BY orders.number;
