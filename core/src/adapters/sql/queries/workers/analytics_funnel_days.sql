SELECT day, product_views, viewers, cart_updates, cart_users, orders, buyers
FROM analytics_daily_funnel
WHERE day >= $1 AND day <= $2
