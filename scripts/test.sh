#!/bin/bash
# Runs every test: installs and starts RabbitMQ if it is not running, and headless Chromium
# with its WebDriver if missing (the console's browser tests), then the workspace's tests (unit,
# in-process with simulators, end to end against the broker, the adapters' conformance suite,
# the console in a real browser), then the HTTP API against its OpenAPI document (scripts/fuzz-api.sh;
# LGSP_SKIP_FUZZ=1 skips it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/rabbitmq/ensure.sh
./scripts/chromium/ensure.sh
cargo test --workspace --locked "$@"
if [ "${LGSP_SKIP_FUZZ:-0}" != 1 ]; then
  ./scripts/fuzz-api.sh
fi
