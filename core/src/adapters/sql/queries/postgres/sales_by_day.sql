SELECT to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, currency, COUNT(*) AS orders,
       CAST(COALESCE(SUM(CASE WHEN status IN ('paid', 'fulfilling', 'shipped', 'delivered')
                              THEN total_minor ELSE 0 END), 0) AS BIGINT) AS revenue_minor
FROM orders
WHERE placed_at >= $1
GROUP BY to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), currency
ORDER BY day, currency
