SELECT id, user_id, recipient, line1, line2, city, region, postal_code, country, phone,
       is_default, created_at
FROM addresses
