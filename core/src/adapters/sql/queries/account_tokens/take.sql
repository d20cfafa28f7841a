-- Marks an unused token used and returns it; concurrent redeemers of one token get one row
-- between them (the row lock on Postgres, the write lock on SQLite). Expiry is checked by the
-- caller, which rolls back when the token is too old.
UPDATE account_tokens
SET used_at = $3
WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL
RETURNING user_id, email, expires_at
