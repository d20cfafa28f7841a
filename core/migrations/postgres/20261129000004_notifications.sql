-- shop-workers: the notification worker's in-app notifications and the webhook deliveries it made.

-- One in-app notification per event that concerns a customer (order placed, paid, status
-- changed, cancelled; payment failed). `event_id` is the event it came from: unique, so an event
-- makes one notification, and a redelivered event finds it again for the webhooks still owed.
-- Ids are UUIDv7 text: they sort by creation, which the listing (newest first) relies on.
CREATE TABLE notifications (
    id         text PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    user_id    text NOT NULL,
    kind       text NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    read_at    timestamptz
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);

-- Webhook POSTs that succeeded, per (event, endpoint URL): a redelivered event skips them.
CREATE TABLE webhook_deliveries (
    event_id     text NOT NULL,
    url          text NOT NULL,
    delivered_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, url)
);
