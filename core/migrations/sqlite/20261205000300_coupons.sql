-- Coupons (SQLite): same tables and meaning as the Postgres schema; ids are UUID blobs,
-- timestamps RFC 3339 text, id lists JSON text.
CREATE TABLE coupons (
    id                  BLOB PRIMARY KEY,
    -- Upper-cased by the application, so codes are case-insensitive.
    code                TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('percentage', 'fixed')),
    -- Basis points for a percentage, minor units of `currency` for a fixed amount.
    amount              INTEGER NOT NULL CHECK (amount > 0),
    currency            TEXT CHECK (length(currency) = 3),
    min_subtotal_minor  INTEGER CHECK (min_subtotal_minor >= 0),
    starts_at           TEXT,
    ends_at             TEXT,
    usage_limit         INTEGER CHECK (usage_limit >= 0),
    per_customer_limit  INTEGER CHECK (per_customer_limit >= 0),
    -- Raised only by `used < usage_limit` conditional updates at checkout.
    used                INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    product_ids         TEXT NOT NULL,
    category_ids        TEXT NOT NULL,
    active              BOOLEAN NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CHECK (kind = 'percentage' OR currency IS NOT NULL),
    CHECK (min_subtotal_minor IS NULL OR currency IS NOT NULL)
);

-- One row per order that used a coupon: the per-customer count, and the history.
CREATE TABLE coupon_redemptions (
    coupon_id   BLOB NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    order_id    BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redeemed_at TEXT NOT NULL,
    PRIMARY KEY (order_id)
);
CREATE INDEX coupon_redemptions_user_idx ON coupon_redemptions (coupon_id, user_id);

-- The coupon a user applied to their cart (at most one).
CREATE TABLE cart_coupons (
    user_id    BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    coupon_id  BLOB NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    applied_at TEXT NOT NULL
);

ALTER TABLE orders ADD COLUMN discount_minor INTEGER NOT NULL DEFAULT 0 CHECK (discount_minor >= 0);
ALTER TABLE orders ADD COLUMN coupon_code TEXT;
