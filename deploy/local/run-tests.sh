#!/usr/bin/env bash
# Runs every suite against a throwaway cluster with its own name, ports and data folder, and
# tears that cluster down however the tests end. Exits with pytest's status.
set -uo pipefail
cd "$(dirname "$0")/../.."
export UV_PYTHON_DOWNLOADS=never
export PAY_CLUSTER="${PAY_TEST_CLUSTER:-test}"
uv_cmd=(uv)
command -v uv >/dev/null 2>&1 || uv_cmd=(python3 -m uv)
run=("${uv_cmd[@]}" run --frozen --quiet)

# The throwaway cluster's services run with short delays, so journeys that wait on a retry
# tier, the janitor or a slow PSP answer finish in seconds. The services inherit these.
export PAYMENT_CHARGE_RETRY_DELAYS="${PAYMENT_CHARGE_RETRY_DELAYS:-1,2,4}"
export PAYMENT_PSP_TIMEOUT_SECONDS="${PAYMENT_PSP_TIMEOUT_SECONDS:-2}"
export PAYMENT_STUCK_AFTER_SECONDS="${PAYMENT_STUCK_AFTER_SECONDS:-3}"
export PAYMENT_JANITOR_INTERVAL_SECONDS="${PAYMENT_JANITOR_INTERVAL_SECONDS:-1}"
# The janitor's per-payment back-off stops growing at 5 s here (an hour by default), so a journey
# that turns the PSP off and on again is not left waiting for a check scheduled a minute out.
export PAYMENT_RECHECK_MAX_DELAY_SECONDS="${PAYMENT_RECHECK_MAX_DELAY_SECONDS:-5}"
export PSP_TIMEOUT_DELAY_SECONDS="${PSP_TIMEOUT_DELAY_SECONDS:-5}"
export PSP_SLOW_WEBHOOK_DELAY_SECONDS="${PSP_SLOW_WEBHOOK_DELAY_SECONDS:-1}"
export PSP_WEBHOOK_RETRY_BASE_SECONDS="${PSP_WEBHOOK_RETRY_BASE_SECONDS:-0.2}"
# Settlement: items are eligible at once, the janitor looks every second at payouts pending for
# 2 s, and the settlement journeys' merchant families get the bank outcomes they need.
export SETTLEMENT_HOLDING_PERIOD_DAYS="${SETTLEMENT_HOLDING_PERIOD_DAYS:-0}"
export SETTLEMENT_JANITOR_INTERVAL_SECONDS="${SETTLEMENT_JANITOR_INTERVAL_SECONDS:-1}"
export SETTLEMENT_PAYOUT_STUCK_AFTER_SECONDS="${SETTLEMENT_PAYOUT_STUCK_AFTER_SECONDS:-2}"
export SETTLEMENT_BANK_ACCOUNTS="${SETTLEMENT_BANK_ACCOUNTS:-MER_stl_closed_*=acct_closed,MER_stl_silent_*=acct_silent}"
# Outbound merchant webhooks: the journeys' receivers listen on 127.0.0.1, which endpoints may
# not name elsewhere; retries give up after 20 s instead of three days.
export WEBHOOK_OUTBOUND_ALLOWED_NETWORKS="${WEBHOOK_OUTBOUND_ALLOWED_NETWORKS:-127.0.0.1/32}"
export WEBHOOK_RETRY_BASE_SECONDS="${WEBHOOK_RETRY_BASE_SECONDS:-1}"
export WEBHOOK_RETRY_MAX_DELAY_SECONDS="${WEBHOOK_RETRY_MAX_DELAY_SECONDS:-2}"
export WEBHOOK_RETRY_HORIZON_SECONDS="${WEBHOOK_RETRY_HORIZON_SECONDS:-20}"

# Chaos on clusters of their own: the fault journeys with a short seeded schedule (make chaos
# draws longer ones) and the broker-loss journey. PAY_CHAOS_TEST=0 leaves them out.
export PAY_CHAOS_TEST="${PAY_CHAOS_TEST:-1}"

state_root="${PAY_STATE_DIR:-$PWD/.local}"
"${run[@]}" localcluster down >/dev/null 2>&1
rm -rf "${state_root:?}/${PAY_CLUSTER}"

trap '"${run[@]}" localcluster down' EXIT
"${run[@]}" localcluster up || exit $?

set -a
# shellcheck disable=SC1090
. "${state_root}/${PAY_CLUSTER}/cluster.env"
set +a
# Schemathesis fuzzes the gateway as a merchant of its own, a bounded number of examples per
# operation (services/gateway/tests/edge/test_schemathesis.py).
export SCHEMATHESIS_EXAMPLES="${SCHEMATHESIS_EXAMPLES:-25}"
GATEWAY_TOKEN="${GATEWAY_TOKEN:-$("${run[@]}" localcluster token --merchant MER_schemathesis)}" \
  || exit $?
export GATEWAY_TOKEN
"${run[@]}" pytest "$@"
