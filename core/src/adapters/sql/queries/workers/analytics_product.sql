INSERT INTO analytics_daily_products (day, product_id, currency, sku, units, revenue_minor)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (day, product_id, currency) DO UPDATE
SET sku = excluded.sku,
    units = analytics_daily_products.units + excluded.units,
    revenue_minor = analytics_daily_products.revenue_minor + excluded.revenue_minor
