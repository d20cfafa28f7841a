-- An unused token, without redeeming it: the reset looks it up before hashing the new password
-- (no argon2 work for made-up tokens) and before locking the account's row. Expiry is checked by
-- the caller (SQLite keeps timestamps as text).
SELECT user_id, email, expires_at
FROM account_tokens
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL
