-- Counts one use unless the limit is reached. The row is locked by this statement, the last
-- lock checkout takes (after the user and the products), so checkouts never deadlock on it; a
-- checkout waiting for the lock re-checks `used` once the other commits.
UPDATE coupons
SET used = used + 1
WHERE id = $1 AND (usage_limit IS NULL OR used < usage_limit)
