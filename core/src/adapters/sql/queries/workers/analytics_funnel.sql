-- `{events}` and `{users}` are the stage's two columns (from a fixed table, never input).
INSERT INTO analytics_daily_funnel (day, {events}, {users})
VALUES ($1, 1, $2)
ON CONFLICT (day) DO UPDATE
SET {events} = analytics_daily_funnel.{events} + 1,
    {users} = analytics_daily_funnel.{users} + excluded.{users}
