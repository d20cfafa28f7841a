-- Payments through a provider (issue 13): the sessions customers pay in, and every notification
-- the providers send, as received, with what the shop did about it.

-- One session per order and attempt: concurrent requests for the same order race on this key, so
-- they all answer the one session that was stored. A new attempt only follows an expired one.
CREATE TABLE payment_sessions (
    order_id     BLOB NOT NULL REFERENCES orders (id) ON DELETE RESTRICT,
    attempt      INTEGER NOT NULL CHECK (attempt >= 0),
    provider     TEXT NOT NULL,
    reference    TEXT NOT NULL,
    token        TEXT,
    redirect_url TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (order_id, attempt),
    UNIQUE (provider, reference)
);
-- The sandbox's pay page finds its session by token.
CREATE INDEX payment_sessions_token_idx ON payment_sessions (provider, token);

-- Notifications as received, for audits. `event_id` is the provider's id of the event, unique
-- among the records that hold its effect (`applied`, `mismatch`); repeats, refusals, and pending
-- or ignored news (which a later delivery of the same event may still apply) are kept too.
-- Anyone may post to the webhook: of a rejected body only the first KiB is kept, with the whole
-- body's SHA-256 and length.
CREATE TABLE payment_notifications (
    id          BLOB PRIMARY KEY,
    provider    TEXT NOT NULL,
    event_id    TEXT,
    order_id    BLOB,
    body        TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    body_length INTEGER NOT NULL CHECK (body_length >= 0),
    headers     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'duplicate', 'ignored', 'pending',
                    'mismatch', 'rejected')),
    detail      TEXT
);
CREATE UNIQUE INDEX payment_notifications_event_idx ON payment_notifications (provider, event_id)
    WHERE outcome IN ('applied', 'mismatch');
CREATE INDEX payment_notifications_received_idx ON payment_notifications (received_at);
-- A Midtrans notification delivered again is recognised by its body before another status query.
CREATE INDEX payment_notifications_body_idx ON payment_notifications (provider, body_sha256)
    WHERE outcome IN ('applied', 'mismatch');
