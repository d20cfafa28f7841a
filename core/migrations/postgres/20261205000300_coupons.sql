-- Coupons: discount codes staff define, applied to a cart and counted when an order uses them.
CREATE TABLE coupons (
    id                  uuid PRIMARY KEY,
    -- Upper-cased by the application, so codes are case-insensitive.
    code                text NOT NULL UNIQUE,
    kind                text NOT NULL CHECK (kind IN ('percentage', 'fixed')),
    -- Basis points for a percentage, minor units of `currency` for a fixed amount.
    amount              bigint NOT NULL CHECK (amount > 0),
    currency            text CHECK (length(currency) = 3),
    min_subtotal_minor  bigint CHECK (min_subtotal_minor >= 0),
    starts_at           timestamptz,
    ends_at             timestamptz,
    usage_limit         bigint CHECK (usage_limit >= 0),
    per_customer_limit  bigint CHECK (per_customer_limit >= 0),
    -- Raised only by `used < usage_limit` conditional updates at checkout.
    used                bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    product_ids         jsonb NOT NULL,
    category_ids        jsonb NOT NULL,
    active              boolean NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CHECK (kind = 'percentage' OR currency IS NOT NULL),
    CHECK (min_subtotal_minor IS NULL OR currency IS NOT NULL)
);

-- One row per order that used a coupon: the per-customer count, and the history.
CREATE TABLE coupon_redemptions (
    coupon_id   uuid NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redeemed_at timestamptz NOT NULL,
    PRIMARY KEY (order_id)
);
CREATE INDEX coupon_redemptions_user_idx ON coupon_redemptions (coupon_id, user_id);

-- The coupon a user applied to their cart (at most one).
CREATE TABLE cart_coupons (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    coupon_id  uuid NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    applied_at timestamptz NOT NULL
);

ALTER TABLE orders ADD COLUMN discount_minor bigint NOT NULL DEFAULT 0 CHECK (discount_minor >= 0);
ALTER TABLE orders ADD COLUMN coupon_code text;
