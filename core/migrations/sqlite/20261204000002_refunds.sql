-- Refunds (SQLite): same table and meaning as the Postgres schema; timestamps are RFC 3339 text.
CREATE TABLE refunds (
    id                 BLOB PRIMARY KEY,
    order_id           BLOB NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    sequence           INTEGER NOT NULL CHECK (sequence >= 1),
    amount_minor       INTEGER NOT NULL CHECK (amount_minor > 0),
    currency           TEXT NOT NULL CHECK (length(currency) = 3),
    reason             TEXT NOT NULL,
    provider           TEXT NOT NULL,
    provider_reference TEXT NOT NULL,
    refund_key         TEXT NOT NULL,
    request_hash       TEXT,
    restock            BOOLEAN NOT NULL,
    full_refund        BOOLEAN NOT NULL,
    pending            BOOLEAN NOT NULL,
    created_at         TEXT NOT NULL,
    UNIQUE (order_id, sequence),
    UNIQUE (order_id, refund_key),
    UNIQUE (provider, provider_reference)
);

CREATE INDEX orders_pending_payment_idx ON orders (placed_at) WHERE status = 'pending_payment';
