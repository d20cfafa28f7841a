SELECT product_id, MAX(sku) AS sku, currency, CAST(SUM(units) AS BIGINT) AS units,
       CAST(SUM(revenue_minor) AS BIGINT) AS revenue_minor
FROM analytics_daily_products
WHERE day >= $1 AND day <= $2
GROUP BY product_id, currency
ORDER BY SUM(units) DESC, SUM(revenue_minor) DESC, product_id
LIMIT $3
