INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
