INSERT INTO addresses (id, user_id, recipient, line1, line2, city, region, postal_code, country,
                       phone, is_default, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
