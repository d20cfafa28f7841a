-- shop-workers: which events each worker has already handled, and the analytics worker's tables.

-- One row per (worker, event) handled: written in the transaction of the handler's own changes,
-- so a redelivered event finds its row and changes nothing twice.
CREATE TABLE processed_messages (
    consumer     text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Every event the analytics worker received, as it arrived.
CREATE TABLE analytics_events (
    event_id    text PRIMARY KEY,
    event_type  text NOT NULL,
    subject     text NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL
);
CREATE INDEX analytics_events_occurred_at_idx ON analytics_events (occurred_at);

-- Orders placed and their totals per UTC day (YYYY-MM-DD) and currency (from OrderPlaced).
CREATE TABLE analytics_daily_sales (
    day           text NOT NULL,
    currency      text NOT NULL,
    orders        bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    PRIMARY KEY (day, currency)
);

-- Units and revenue per product, day and currency (from OrderPlaced's lines).
CREATE TABLE analytics_daily_products (
    day           text NOT NULL,
    product_id    text NOT NULL,
    currency      text NOT NULL,
    sku           text NOT NULL,
    units         bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    PRIMARY KEY (day, product_id, currency)
);

-- The funnel per day: product views -> cart updates -> orders, as event counts and as distinct
-- signed-in users.
CREATE TABLE analytics_daily_funnel (
    day           text PRIMARY KEY,
    product_views bigint NOT NULL DEFAULT 0,
    viewers       bigint NOT NULL DEFAULT 0,
    cart_updates  bigint NOT NULL DEFAULT 0,
    cart_users    bigint NOT NULL DEFAULT 0,
    orders        bigint NOT NULL DEFAULT 0,
    buyers        bigint NOT NULL DEFAULT 0
);

-- Who reached which funnel stage on a day (stage: view, cart, order), for the distinct counts.
CREATE TABLE analytics_funnel_users (
    day     text NOT NULL,
    stage   text NOT NULL,
    user_id text NOT NULL,
    PRIMARY KEY (day, stage, user_id)
);
