-- Shipping (SQLite, same tables and meaning as the Postgres schema): the methods staff offer, product weights for pricing by weight, and what an order's
-- delivery cost and how it travels.
CREATE TABLE shipping_methods (
    id            BLOB PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('flat', 'free_above', 'by_weight')),
    currency      TEXT NOT NULL CHECK (length(currency) = 3),
    rate_minor    INTEGER NOT NULL CHECK (rate_minor >= 0),
    -- `free_above`: the goods amount from which shipping is free; `by_weight`: price per kg.
    extra_minor   INTEGER CHECK (extra_minor >= 0),
    active        BOOLEAN NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    CHECK ((kind = 'flat') = (extra_minor IS NULL))
);

ALTER TABLE products ADD COLUMN weight_grams INTEGER NOT NULL DEFAULT 0 CHECK (weight_grams >= 0);

ALTER TABLE orders ADD COLUMN shipping_minor INTEGER NOT NULL DEFAULT 0 CHECK (shipping_minor >= 0);
ALTER TABLE orders ADD COLUMN shipping_method TEXT;
ALTER TABLE orders ADD COLUMN shipment_carrier TEXT;
ALTER TABLE orders ADD COLUMN shipment_tracking_number TEXT;
ALTER TABLE orders ADD COLUMN shipment_tracking_url TEXT;
