UPDATE addresses
SET recipient = $3, line1 = $4, line2 = $5, city = $6, region = $7, postal_code = $8,
    country = $9, phone = $10, is_default = $11
WHERE id = $1 AND user_id = $2
