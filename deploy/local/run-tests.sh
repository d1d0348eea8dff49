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

state_root="${PAY_STATE_DIR:-$PWD/.local}"
"${run[@]}" localcluster down >/dev/null 2>&1
rm -rf "${state_root:?}/${PAY_CLUSTER}"

trap '"${run[@]}" localcluster down' EXIT
"${run[@]}" localcluster up || exit $?

set -a
# shellcheck disable=SC1090
. "${state_root}/${PAY_CLUSTER}/cluster.env"
set +a
"${run[@]}" pytest "$@"
