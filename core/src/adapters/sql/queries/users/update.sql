UPDATE users
SET email = $2, full_name = $3, role = $4, password_hash = $5, disabled = $6, updated_at = $7
WHERE id = $1
