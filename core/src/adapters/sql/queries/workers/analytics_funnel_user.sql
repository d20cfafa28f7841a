INSERT INTO analytics_funnel_users (day, stage, user_id)
VALUES ($1, $2, $3)
ON CONFLICT (day, stage, user_id) DO NOTHING
