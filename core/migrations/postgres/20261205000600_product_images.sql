-- Product images: the records live here, the bytes in the blob store (the invoices' folder or
-- bucket) under images/<product>/<image>/<variant>.<ext>. Deleting a product's row deletes these.
-- No unique (product_id, position): a reorder moves positions one row at a time.
CREATE TABLE product_images (
    id             uuid PRIMARY KEY,
    product_id     uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position       bigint NOT NULL CHECK (position >= 0),
    format         text NOT NULL CHECK (format IN ('jpeg', 'png', 'webp')),
    width          bigint NOT NULL CHECK (width > 0),
    height         bigint NOT NULL CHECK (height > 0),
    byte_size      bigint NOT NULL CHECK (byte_size > 0),
    sha256         text NOT NULL CHECK (length(sha256) = 64),
    variants_ready boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL
);

CREATE INDEX product_images_product_idx ON product_images (product_id, position);
