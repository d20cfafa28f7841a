INSERT INTO users (id, email, full_name, role, password_hash, disabled, created_at, updated_at,
                   email_verified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
