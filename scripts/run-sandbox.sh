#!/bin/bash
# Runs lgsp on its default config (config/lgsp.toml) with the simulated peers, on this machine:
# installs and starts RabbitMQ if it is not running, builds, and serves on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/rabbitmq/ensure.sh
cargo build --release --locked
exec "${CARGO_TARGET_DIR:-./target}/release/lgsp" --config config/lgsp.toml serve --sandbox "$@"
