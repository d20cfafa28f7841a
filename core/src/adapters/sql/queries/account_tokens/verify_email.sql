-- Verifies the address only while it is still the one the token was mailed to.
UPDATE users
SET email_verified_at = $3
WHERE id = $1 AND email = $2
