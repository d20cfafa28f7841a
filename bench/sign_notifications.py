#!/usr/bin/env python3
"""Signs one sandbox payment notification per order, exactly as the sandbox's pay page signs
them (`Sandbox-Signature: t=…,v1=hex HMAC-SHA256("{t}.{body}", SHOP_PAYMENT_SANDBOX_SECRET)`),
so the webhook benchmark measures verifying and applying, not the page.

usage: sign_notifications.py SECRET ORDERS_CSV OUT
  ORDERS_CSV: `order_id,total_minor,currency` lines (psql -At -F,)
  OUT: one `signature<TAB>body` line per order. Signed now: use within 5 minutes.
"""
import hashlib, hmac, json, sys, time


def main() -> None:
    secret, orders, out = sys.argv[1].encode(), sys.argv[2], sys.argv[3]
    now = int(time.time())
    with open(orders) as source, open(out, "w") as sink:
        for line in source:
            order_id, total_minor, currency = line.strip().split(",")
            body = json.dumps({
                "id": f"evt_bench_{order_id}", "type": "payment.succeeded",
                "order_id": order_id, "token": f"bench-{order_id}",
                "amount_minor": int(total_minor), "currency": currency, "created": now,
            }, separators=(",", ":"))
            mac = hmac.new(secret, f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
            sink.write(f"t={now},v1={mac}\t{body}\n")


if __name__ == "__main__":
    main()
