INSERT INTO invoices (order_id, invoice_number, location, size_bytes, created_at)
VALUES ($1, $2, $3, $4, $5)
