-- After a redemption, the user's other outstanding tokens of the same purpose stop working.
UPDATE account_tokens
SET used_at = $3
WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL
