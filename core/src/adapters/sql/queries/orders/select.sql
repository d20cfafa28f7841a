SELECT id, number, user_id, status, currency, subtotal_minor, tax_minor, total_minor, shipping_address,
       placed_at, updated_at, discount_minor, coupon_code,
       shipping_minor, shipping_method, shipment_carrier, shipment_tracking_number,
       shipment_tracking_url
FROM orders
