-- Shipping: the methods staff offer, product weights for pricing by weight, and what an order's
-- delivery cost and how it travels.
CREATE TABLE shipping_methods (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('flat', 'free_above', 'by_weight')),
    currency      text NOT NULL CHECK (length(currency) = 3),
    rate_minor    bigint NOT NULL CHECK (rate_minor >= 0),
    -- `free_above`: the goods amount from which shipping is free; `by_weight`: price per kg.
    extra_minor   bigint CHECK (extra_minor >= 0),
    active        boolean NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CHECK ((kind = 'flat') = (extra_minor IS NULL))
);

ALTER TABLE products ADD COLUMN weight_grams bigint NOT NULL DEFAULT 0 CHECK (weight_grams >= 0);

ALTER TABLE orders ADD COLUMN shipping_minor bigint NOT NULL DEFAULT 0 CHECK (shipping_minor >= 0);
ALTER TABLE orders ADD COLUMN shipping_method text;
ALTER TABLE orders ADD COLUMN shipment_carrier text;
ALTER TABLE orders ADD COLUMN shipment_tracking_number text;
ALTER TABLE orders ADD COLUMN shipment_tracking_url text;
