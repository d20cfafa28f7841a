-- Sets the password of a reset, first in the transaction so the account's row is locked before
-- any token row (two reset tokens of one account redeemed at once queue here instead of
-- deadlocking), and only while the account still has the address the token was mailed to.
UPDATE users
SET password_hash = $2, updated_at = $3
WHERE id = $1 AND email = $4
RETURNING email
