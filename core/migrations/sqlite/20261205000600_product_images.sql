-- Product images (SQLite): same table and meaning as the Postgres schema; timestamps are RFC 3339 text.
CREATE TABLE product_images (
    id             BLOB PRIMARY KEY,
    product_id     BLOB NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL CHECK (position >= 0),
    format         TEXT NOT NULL CHECK (format IN ('jpeg', 'png', 'webp')),
    width          INTEGER NOT NULL CHECK (width > 0),
    height         INTEGER NOT NULL CHECK (height > 0),
    byte_size      INTEGER NOT NULL CHECK (byte_size > 0),
    sha256         TEXT NOT NULL CHECK (length(sha256) = 64),
    variants_ready BOOLEAN NOT NULL DEFAULT false,
    created_at     TEXT NOT NULL
);

CREATE INDEX product_images_product_idx ON product_images (product_id, position);
