-- Profile and staff updates: never the password (users/set_password.sql,
-- account_tokens/set_password.sql), so a concurrent update cannot write an old hash back.
UPDATE users
SET email = $2, full_name = $3, role = $4, disabled = $5, updated_at = $6,
    -- A new address is not verified yet; only the verification statement sets this column.
    email_verified_at = CASE WHEN email = $2 THEN email_verified_at ELSE NULL END
WHERE id = $1
