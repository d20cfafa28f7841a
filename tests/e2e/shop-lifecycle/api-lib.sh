# shellcheck shell=bash
# Helpers of the suite's API checks, sourced by api-checkout.sh and api-data-survived.sh: a
# port-forward to the Shop's Service (the way a developer reaches it, README "Your first shop") and
# a curl wrapper that fails on an unexpected status. Needs kubectl, curl and jq; NAMESPACE is the
# test's namespace (the Chainsaw step passes its $namespace binding).
set -euo pipefail
shopt -s inherit_errexit

: "${NAMESPACE:?NAMESPACE must name the test namespace}"
local_port="${E2E_API_PORT:-18080}"
api="http://127.0.0.1:${local_port}/api/v1"
# The customer both scripts use: api-checkout.sh registers it, api-data-survived.sh signs in as it
# after the Shop was deleted and re-created.
# shellcheck disable=SC2034 # used by the scripts that source this file
customer_email="e2e-customer@example.com"
# shellcheck disable=SC2034
customer_password="e2e correct horse battery"

work="$(mktemp -d)"
forward_pid=""
cleanup() {
  if [[ -n $forward_pid ]]; then kill "$forward_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# Forwards localhost:$local_port to svc/demo-api's HTTP port and waits for /readyz.
start_port_forward() {
  kubectl --namespace "$NAMESPACE" port-forward svc/demo-api "${local_port}:8080" \
    >"$work/port-forward.log" 2>&1 &
  forward_pid=$!
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:${local_port}/readyz" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$forward_pid" 2>/dev/null; then
      cat "$work/port-forward.log" >&2
      fail "kubectl port-forward svc/demo-api exited"
    fi
    sleep 1
  done
  fail "the API did not answer /readyz through the port-forward within 60 s"
}

# call METHOD PATH EXPECTED_STATUS [BODY [CURL_ARG...]]: prints the response body; fails on any
# other status. Sends $token as a bearer token when it is set. Response headers land in
# $work/headers.
call() {
  local method=$1 path=$2 expected=$3 body=${4:-}
  local args=(-sS -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method"
    -H 'content-type: application/json')
  if [[ -n ${token:-} ]]; then args+=(-H "authorization: Bearer $token"); fi
  if [[ -n $body ]]; then args+=(--data "$body"); fi
  if (($# > 4)); then args+=("${@:5}"); fi
  local status
  status=$(curl "${args[@]}" "$api$path") || fail "$method $path: curl failed"
  if [[ $status != "$expected" ]]; then
    fail "$method $path answered $status, expected $expected: $(cat "$work/body")"
  fi
  cat "$work/body"
}

# login EMAIL PASSWORD: prints an access token.
login() {
  local body
  body=$(jq -nc --arg email "$1" --arg password "$2" '{email: $email, password: $password}')
  token="" call POST /auth/login 200 "$body" | jq -er .access_token
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
  if [[ $2 != "$3" ]]; then fail "$1 is '$2', expected '$3'"; fi
  echo "ok: $1 = $3"
}
