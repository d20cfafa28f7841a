-- shop-workers: the invoice worker's invoices (one per order) and its per-year numbering.

-- The last invoice number issued in each year: `INV-<year>-<number, 6 digits>`. Incremented in
-- the transaction that records the invoice, so numbers are sequential and never handed out twice.
CREATE TABLE invoice_sequences (
    year        INTEGER PRIMARY KEY,
    last_number INTEGER NOT NULL
);

-- One invoice per order; `location` is where its PDF lives (file:// or s3:// URL).
CREATE TABLE invoices (
    order_id       BLOB PRIMARY KEY REFERENCES orders (id) ON DELETE RESTRICT,
    invoice_number TEXT NOT NULL UNIQUE,
    location       TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL CHECK (size_bytes >= 0),
    created_at     TEXT NOT NULL
);
