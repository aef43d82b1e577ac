#!/bin/bash
# The HTTP API against its own OpenAPI document: runs the bus on its default config with the peer
# simulators (a store and a namespace of its own), and schemathesis (installed from PyPI into a
# venv of its own) against GET /v1/openapi.json: every response must be documented, no server
# error, every schema-valid request taken. Bounded: about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
venv=${LGSP_FUZZ_VENV:-${TMPDIR:-/tmp}/lgsp-schemathesis}
version=4.32.5
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$version"; then
  echo "fuzz: installing schemathesis $version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi

cargo build --locked --quiet
work=$(mktemp -d)
port=${LGSP_FUZZ_PORT:-18080}
LGSP__HTTP__LISTEN=127.0.0.1:$port LGSP__STORE__URL="sqlite://$work/lgsp.db" LGSP__AMQP__NAMESPACE=lgsp-fuzz \
  "${CARGO_TARGET_DIR:-$root/target}/debug/lgsp" --config config/lgsp.toml serve --sandbox >"$work/bus.log" 2>&1 &
bus=$!
stop() {
  kill "$bus" 2>/dev/null || true
  wait "$bus" 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then break; fi
  if ! kill -0 "$bus" 2>/dev/null; then
    echo "fuzz: the bus did not start:"; tail -20 "$work/bus.log"; exit 1
  fi
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "fuzz: the bus never became ready"; tail -20 "$work/bus.log"; exit 1; }

# Sandbox mode gives every member and operator the secret `sandbox`: members' routes are asked as
# the sandbox member (every right), operators' as the operator with the role they need.
token() {
  curl -sf "http://127.0.0.1:$port/oauth2/token" -d grant_type=client_credentials -d "client_id=$1" \
    -d client_secret=sandbox | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
MEMBER_TOKEN=$(token onestop.sandbox)
OPERATOR_TOKEN=$(token operator)
ADMIN_TOKEN=$(token admin)
AUDITOR_TOKEN=$(token auditor)
VIEWER_TOKEN=$(token viewer)
export MEMBER_TOKEN OPERATOR_TOKEN ADMIN_TOKEN AUDITOR_TOKEN VIEWER_TOKEN

cd "$work"
status=0
"$venv/bin/schemathesis" --config-file "$root/scripts/schemathesis.toml" run "http://127.0.0.1:$port/v1/openapi.json" \
  --max-examples "${LGSP_FUZZ_EXAMPLES:-100}" --no-color || status=$?
if grep -qiE "panicked" "$work/bus.log"; then
  echo "fuzz: the bus panicked:"; grep -iE -A5 "panicked" "$work/bus.log" | head -40; status=1
fi
rm -rf "$work"
exit $status
