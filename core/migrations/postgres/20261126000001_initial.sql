-- The shop's schema. Money is integer minor units plus an ISO-4217 code; ids are UUIDv7.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    full_name     text NOT NULL,
    role          text NOT NULL CHECK (role IN ('customer', 'admin')),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE addresses (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient   text NOT NULL,
    line1       text NOT NULL,
    line2       text NOT NULL,
    city        text NOT NULL,
    region      text NOT NULL,
    postal_code text NOT NULL,
    country     text NOT NULL CHECK (length(country) = 2),
    phone       text NOT NULL,
    is_default  boolean NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX addresses_user_id_idx ON addresses (user_id, created_at);
CREATE UNIQUE INDEX addresses_one_default_idx ON addresses (user_id) WHERE is_default;

CREATE TABLE categories (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    slug        text NOT NULL UNIQUE,
    parent_id   uuid REFERENCES categories (id) ON DELETE RESTRICT,
    description text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX categories_parent_id_idx ON categories (parent_id);

CREATE TABLE products (
    id          uuid PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    -- Lower-cased name in byte order, so both backends sort names the same way.
    name_key    text COLLATE "C" NOT NULL,
    slug        text NOT NULL UNIQUE,
    description text NOT NULL,
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency    text NOT NULL CHECK (length(currency) = 3),
    stock       bigint NOT NULL CHECK (stock >= 0),
    active      boolean NOT NULL,
    category_id uuid REFERENCES categories (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    search      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A')
        || setweight(to_tsvector('english', sku), 'A')
        || setweight(to_tsvector('english', description), 'B')
    ) STORED
);
CREATE INDEX products_search_idx ON products USING gin (search);
CREATE INDEX products_category_idx ON products (category_id, id);
CREATE INDEX products_price_idx ON products (price_minor, id);
CREATE INDEX products_name_idx ON products (name_key, id);

CREATE TABLE stock_movements (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    delta      bigint NOT NULL,
    reason     text NOT NULL,
    actor_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    order_id   uuid,
    created_at timestamptz NOT NULL
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, created_at);

CREATE TABLE cart_items (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity   bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    added_at   timestamptz NOT NULL,
    UNIQUE (user_id, product_id)
);
CREATE INDEX cart_items_product_idx ON cart_items (product_id);

CREATE TABLE orders (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    status           text NOT NULL CHECK (status IN ('pending_payment', 'paid', 'fulfilling',
                         'shipped', 'delivered', 'cancelled', 'refunded')),
    currency         text NOT NULL CHECK (length(currency) = 3),
    subtotal_minor   bigint NOT NULL CHECK (subtotal_minor >= 0),
    tax_minor        bigint NOT NULL CHECK (tax_minor >= 0),
    total_minor      bigint NOT NULL CHECK (total_minor >= 0),
    shipping_address jsonb,
    placed_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX orders_user_idx ON orders (user_id, id DESC);
CREATE INDEX orders_status_idx ON orders (status, id DESC);

CREATE TABLE order_items (
    order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          bigint NOT NULL,
    product_id       uuid NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    sku              text NOT NULL,
    name             text NOT NULL,
    unit_price_minor bigint NOT NULL CHECK (unit_price_minor >= 0),
    quantity         bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    line_total_minor bigint NOT NULL CHECK (line_total_minor >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_product_idx ON order_items (product_id);

CREATE TABLE order_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    changed_at  timestamptz NOT NULL
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

CREATE TABLE checkout_requests (
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    fingerprint     text NOT NULL,
    order_id        uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);

CREATE TABLE payments (
    id             uuid PRIMARY KEY,
    order_id       uuid NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    amount_minor   bigint NOT NULL CHECK (amount_minor >= 0),
    currency       text NOT NULL CHECK (length(currency) = 3),
    provider       text NOT NULL,
    reference      text NOT NULL,
    status         text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    failure_reason text,
    created_at     timestamptz NOT NULL,
    UNIQUE (provider, reference)
);
CREATE INDEX payments_order_idx ON payments (order_id);

-- Events written in the transaction of the change they report; a relay publishes them.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    event_type   text NOT NULL,
    subject      text NOT NULL,
    payload      jsonb NOT NULL,
    occurred_at  timestamptz NOT NULL,
    published_at timestamptz,
    attempts     bigint NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending_idx ON outbox (occurred_at, id) WHERE published_at IS NULL;
