INSERT INTO orders (id, user_id, status, currency, subtotal_minor, tax_minor, total_minor,
                    shipping_address, placed_at, updated_at, number)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {next_number})
RETURNING number
