SELECT id, email, full_name, role, password_hash, disabled, created_at, updated_at
FROM users
