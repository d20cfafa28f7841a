SELECT id, email, full_name, role, password_hash, disabled, email_verified_at,
       created_at, updated_at
FROM users
