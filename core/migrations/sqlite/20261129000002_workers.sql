-- shop-workers (SQLite): same tables and meaning as the Postgres schema; timestamps are RFC 3339
-- text, JSON is text.

-- One row per (worker, event) handled: written in the transaction of the handler's own changes,
-- so a redelivered event finds its row and changes nothing twice.
CREATE TABLE processed_messages (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Every event the analytics worker received, as it arrived.
CREATE TABLE analytics_events (
    event_id    TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX analytics_events_occurred_at_idx ON analytics_events (occurred_at);

-- Orders placed and their totals per UTC day (YYYY-MM-DD) and currency (from OrderPlaced).
CREATE TABLE analytics_daily_sales (
    day           TEXT NOT NULL,
    currency      TEXT NOT NULL,
    orders        INTEGER NOT NULL,
    revenue_minor INTEGER NOT NULL,
    PRIMARY KEY (day, currency)
);

-- Units and revenue per product, day and currency (from OrderPlaced's lines).
CREATE TABLE analytics_daily_products (
    day           TEXT NOT NULL,
    product_id    TEXT NOT NULL,
    currency      TEXT NOT NULL,
    sku           TEXT NOT NULL,
    units         INTEGER NOT NULL,
    revenue_minor INTEGER NOT NULL,
    PRIMARY KEY (day, product_id, currency)
);

-- The funnel per day: product views -> cart updates -> orders, as event counts and as distinct
-- signed-in users.
CREATE TABLE analytics_daily_funnel (
    day           TEXT PRIMARY KEY,
    product_views INTEGER NOT NULL DEFAULT 0,
    viewers       INTEGER NOT NULL DEFAULT 0,
    cart_updates  INTEGER NOT NULL DEFAULT 0,
    cart_users    INTEGER NOT NULL DEFAULT 0,
    orders        INTEGER NOT NULL DEFAULT 0,
    buyers        INTEGER NOT NULL DEFAULT 0
);

-- Who reached which funnel stage on a day (stage: view, cart, order), for the distinct counts.
CREATE TABLE analytics_funnel_users (
    day     TEXT NOT NULL,
    stage   TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (day, stage, user_id)
);
