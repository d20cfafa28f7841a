-- Timestamps are stored as RFC 3339 text in UTC, so the day is its first ten characters.
SELECT substr(placed_at, 1, 10) AS day, currency, COUNT(*) AS orders,
       CAST(COALESCE(SUM(CASE WHEN status IN ('paid', 'fulfilling', 'shipped', 'delivered')
                              THEN total_minor ELSE 0 END), 0) AS BIGINT) AS revenue_minor
FROM orders
WHERE placed_at >= $1
GROUP BY substr(placed_at, 1, 10), currency
ORDER BY day, currency
