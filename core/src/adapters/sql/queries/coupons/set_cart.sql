INSERT INTO cart_coupons (user_id, coupon_id, applied_at)
VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET coupon_id = excluded.coupon_id, applied_at = excluded.applied_at
