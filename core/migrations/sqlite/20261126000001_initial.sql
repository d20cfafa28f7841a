-- The shop's schema for the embedded default. Same tables and meaning as the Postgres schema;
-- ids are 16-byte UUID blobs, timestamps RFC 3339 text, booleans 0/1.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    full_name     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE addresses (
    id          BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient   TEXT NOT NULL,
    line1       TEXT NOT NULL,
    line2       TEXT NOT NULL,
    city        TEXT NOT NULL,
    region      TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    country     TEXT NOT NULL CHECK (length(country) = 2),
    phone       TEXT NOT NULL,
    is_default  INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX addresses_user_id_idx ON addresses (user_id, created_at);
CREATE UNIQUE INDEX addresses_one_default_idx ON addresses (user_id) WHERE is_default;

CREATE TABLE categories (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    parent_id   BLOB REFERENCES categories (id) ON DELETE RESTRICT,
    description TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX categories_parent_id_idx ON categories (parent_id);

-- `seq` is the stable rowid the full-text index refers to.
CREATE TABLE products (
    seq         INTEGER PRIMARY KEY,
    id          BLOB NOT NULL UNIQUE,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
    currency    TEXT NOT NULL CHECK (length(currency) = 3),
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    active      INTEGER NOT NULL,
    category_id BLOB REFERENCES categories (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX products_category_idx ON products (category_id, id);
CREATE INDEX products_price_idx ON products (price_minor, id);
CREATE INDEX products_name_idx ON products (name_key, id);

CREATE VIRTUAL TABLE products_fts USING fts5 (
    name, sku, description,
    content = 'products', content_rowid = 'seq',
    tokenize = 'porter unicode61'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, name, sku, description)
    VALUES (new.seq, new.name, new.sku, new.description);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, sku, description)
    VALUES ('delete', old.seq, old.name, old.sku, old.description);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF name, sku, description ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, sku, description)
    VALUES ('delete', old.seq, old.name, old.sku, old.description);
    INSERT INTO products_fts (rowid, name, sku, description)
    VALUES (new.seq, new.name, new.sku, new.description);
END;

CREATE TABLE stock_movements (
    id         INTEGER PRIMARY KEY,
    product_id BLOB NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    delta      INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    actor_id   BLOB REFERENCES users (id) ON DELETE SET NULL,
    order_id   BLOB,
    created_at TEXT NOT NULL
);
CREATE INDEX stock_movements_product_idx ON stock_movements (product_id, created_at);

CREATE TABLE cart_items (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id BLOB NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    added_at   TEXT NOT NULL,
    UNIQUE (user_id, product_id)
);
CREATE INDEX cart_items_product_idx ON cart_items (product_id);

CREATE TABLE orders (
    id               BLOB PRIMARY KEY,
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    status           TEXT NOT NULL CHECK (status IN ('pending_payment', 'paid', 'fulfilling',
                         'shipped', 'delivered', 'cancelled', 'refunded')),
    currency         TEXT NOT NULL CHECK (length(currency) = 3),
    subtotal_minor   INTEGER NOT NULL CHECK (subtotal_minor >= 0),
    tax_minor        INTEGER NOT NULL CHECK (tax_minor >= 0),
    total_minor      INTEGER NOT NULL CHECK (total_minor >= 0),
    shipping_address TEXT,
    placed_at        TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX orders_user_idx ON orders (user_id, id DESC);
CREATE INDEX orders_status_idx ON orders (status, id DESC);

CREATE TABLE order_items (
    order_id         BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no          INTEGER NOT NULL,
    product_id       BLOB NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    unit_price_minor INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    line_total_minor INTEGER NOT NULL CHECK (line_total_minor >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_product_idx ON order_items (product_id);

CREATE TABLE order_status_history (
    id          INTEGER PRIMARY KEY,
    order_id    BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_id    BLOB REFERENCES users (id) ON DELETE SET NULL,
    changed_at  TEXT NOT NULL
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

CREATE TABLE checkout_requests (
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    order_id        BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);

CREATE TABLE payments (
    id             BLOB PRIMARY KEY,
    order_id       BLOB NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    amount_minor   INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency       TEXT NOT NULL CHECK (length(currency) = 3),
    provider       TEXT NOT NULL,
    reference      TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    failure_reason TEXT,
    created_at     TEXT NOT NULL,
    UNIQUE (provider, reference)
);
CREATE INDEX payments_order_idx ON payments (order_id);

CREATE TABLE outbox (
    id           BLOB PRIMARY KEY,
    event_type   TEXT NOT NULL,
    subject      TEXT NOT NULL,
    payload      TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    published_at TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending_idx ON outbox (occurred_at, id) WHERE published_at IS NULL;
