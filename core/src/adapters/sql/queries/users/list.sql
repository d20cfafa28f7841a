SELECT id, email, full_name, role, password_hash, disabled, created_at, updated_at
FROM users
WHERE ($1 IS NULL OR id < $1)
ORDER BY id DESC
LIMIT $2
