#!/bin/bash
# Makes sure a RabbitMQ broker answers on 127.0.0.1:${RABBITMQ_NODE_PORT:-5672}: installs it from
# the OS packages if it is missing (Debian/Ubuntu, as root or with sudo) and starts an isolated
# node (state under $RMQ_BASE) if nothing is listening. Safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port=${RABBITMQ_NODE_PORT:-5672}
if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
  echo "rabbitmq: already listening on 127.0.0.1:$port"
  exit 0
fi
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "rabbitmq: installing rabbitmq-server from the OS packages"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rabbitmq-server >/dev/null
fi
echo "rabbitmq: starting a node on 127.0.0.1:$port (state in ${RMQ_BASE:-${TMPDIR:-/tmp}/rabbitmq-node})"
"$here/start.sh"
echo "rabbitmq: ready"
