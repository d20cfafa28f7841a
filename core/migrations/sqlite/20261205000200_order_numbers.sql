-- Readable order numbers (issue 14.4): `orders.number` is the sequential part of
-- `SO-2026-000123`; the year is the UTC year of `placed_at`, added when the number is printed.
--
-- SQLite has one writer at a time (checkout begins with `BEGIN IMMEDIATE`), so the next number
-- is simply max + 1, read through the unique index below: no counter table, no gaps.
ALTER TABLE orders ADD COLUMN number INTEGER CHECK (number > 0);

-- Existing orders are numbered in the order they were placed.
UPDATE orders
SET number = numbered.n
FROM (SELECT id, row_number() OVER (ORDER BY placed_at, id) AS n FROM orders) AS numbered
WHERE orders.id = numbered.id;

CREATE UNIQUE INDEX orders_number_key ON orders (number);

-- SQLite cannot add NOT NULL to an existing column without rebuilding the table (and every
-- table that references it); instead an order written without a number gets the next one, as
-- the column default does on PostgreSQL, and a number can never be taken away.
CREATE TRIGGER orders_number_assign AFTER INSERT ON orders
WHEN NEW.number IS NULL
BEGIN
    UPDATE orders SET number = (SELECT COALESCE(MAX(number), 0) + 1 FROM orders)
    WHERE id = NEW.id;
END;

CREATE TRIGGER orders_number_kept BEFORE UPDATE OF number ON orders
WHEN NEW.number IS NULL
BEGIN
    SELECT RAISE(ABORT, 'orders.number cannot be removed');
END;
