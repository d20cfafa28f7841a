SELECT day, currency, orders, revenue_minor
FROM analytics_daily_sales
WHERE day >= $1 AND day <= $2
ORDER BY day, currency
