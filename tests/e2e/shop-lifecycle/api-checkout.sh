#!/usr/bin/env bash
# A customer buys through the Shop "demo"'s API, reached by a port-forward of its Service:
# register, sign in, put 2 units in the cart, check out (idempotently: a retry with the same key
# answers the same order), and the stock goes down by 2.
#
# The shop runs on PostgreSQL, where nothing is seeded, so the product is created by an
# administrator first; the only way to make one is `shop-api user create --admin`, run here inside
# an API pod (its environment has the database settings), with the password on standard input.
# shellcheck source=api-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/api-lib.sh"

admin_email="e2e-admin@example.com"
admin_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$admin_password" \
  | kubectl --namespace "$NAMESPACE" exec -i deploy/demo-api -c api -- \
    shop-api user create --email "$admin_email" --name "E2E admin" --admin >/dev/null \
  || fail "shop-api user create --admin in deploy/demo-api failed"

start_port_forward

token=$(login "$admin_email" "$admin_password")
product=$(call POST /admin/products 201 \
  '{"sku":"E2E-MUG","name":"E2E mug","price_minor":1250,"currency":"EUR","stock":5}')
product_id=$(jq -er .id <<<"$product")
expect_eq "the new product's stock" "$(jq -r .stock <<<"$product")" 5

token=""
register=$(jq -nc --arg email "$customer_email" --arg password "$customer_password" \
  '{email: $email, password: $password, full_name: "E2E customer"}')
call POST /auth/register 201 "$register" >/dev/null
token=$(login "$customer_email" "$customer_password")

cart=$(call POST /cart/items 201 "$(jq -nc --arg id "$product_id" '{product_id: $id, quantity: 2}')")
expect_eq "units in the cart" "$(jq -r '[.items[].quantity] | add' <<<"$cart")" 2

key="e2e-checkout-$(date +%s)-$$"
order=$(call POST /orders 201 '' -H "Idempotency-Key: $key")
order_id=$(jq -er .id <<<"$order")
expect_eq "the order's status" "$(jq -r .status <<<"$order")" pending_payment
expect_eq "the order's subtotal" "$(jq -r .subtotal.amount_minor <<<"$order")" 2500
expect_eq "the order's currency" "$(jq -r .total.currency <<<"$order")" EUR

replay=$(call POST /orders 201 '' -H "Idempotency-Key: $key")
expect_eq "the retried checkout's order" "$(jq -r .id <<<"$replay")" "$order_id"
grep -qi '^idempotent-replayed: *true' "$work/headers" \
  || fail "the retried checkout does not say Idempotent-Replayed: true"
echo "ok: the retry replayed order $order_id"

token=""
expect_eq "the product's stock after checkout" \
  "$(call GET "/products/$product_id" 200 | jq -r .stock)" 3
echo "api-checkout: passed"
