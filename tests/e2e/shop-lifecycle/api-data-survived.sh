#!/usr/bin/env bash
# After the Shop "demo" was deleted and re-created: the new API runs on the PostgreSQL data the
# first one left (same claim, same password, kept in the Secret demo-postgres), so the customer
# registered by api-checkout.sh still signs in, with the same signing key (Secret
# demo-credentials), and its order is still there.
# shellcheck source=api-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/api-lib.sh"

start_port_forward
token=$(login "$customer_email" "$customer_password")
orders=$(call GET /orders 200)
expect_eq "the customer's orders" "$(jq -r '.items | length' <<<"$orders")" 1
expect_eq "the order's product" "$(jq -r '.items[0].items[0].sku' <<<"$orders")" E2E-MUG
echo "api-data-survived: passed"
