-- shop-workers (SQLite): same tables and meaning as the Postgres schema; timestamps are RFC 3339
-- text, JSON is text.

-- One in-app notification per event that concerns a customer; `event_id` unique (one per event).
-- Ids are UUIDv7 text: they sort by creation, which the listing (newest first) relies on.
CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at    TEXT
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);

-- Webhook POSTs that succeeded, per (event, endpoint URL): a redelivered event skips them.
CREATE TABLE webhook_deliveries (
    event_id     TEXT NOT NULL,
    url          TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (event_id, url)
);
