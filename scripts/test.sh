#!/bin/bash
# Runs every test: installs and starts RabbitMQ if it is not running, then the workspace's
# tests (unit, in-process with simulators, and end to end against the broker).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/rabbitmq/ensure.sh
cargo test --workspace --locked "$@"
