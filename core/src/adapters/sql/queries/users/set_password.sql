-- The only statement besides a reset that writes password_hash (users/update.sql leaves it
-- alone, so a profile or staff update racing a password change cannot write an old hash back).
UPDATE users
SET password_hash = $2, updated_at = $3
WHERE id = $1
