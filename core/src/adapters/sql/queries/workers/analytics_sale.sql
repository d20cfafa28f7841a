INSERT INTO analytics_daily_sales (day, currency, orders, revenue_minor)
VALUES ($1, $2, 1, $3)
ON CONFLICT (day, currency) DO UPDATE
SET orders = analytics_daily_sales.orders + 1,
    revenue_minor = analytics_daily_sales.revenue_minor + excluded.revenue_minor
