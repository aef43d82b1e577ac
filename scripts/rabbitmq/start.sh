#!/bin/bash
# Start an isolated RabbitMQ node in the background; returns when it is fully booted (~7 s).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/rmq-env.sh"
mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
touch "$RABBITMQ_CONF_ENV_FILE"
if [ ! -f "$RMQ_BASE/rabbitmq.conf" ]; then
  cat > "$RMQ_BASE/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_NODE_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = ${RMQ_MGMT_PORT:-15672}
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = ${RMQ_PROM_PORT:-15692}
collect_statistics_interval = 1000
CONF
fi
# RMQ_PLUGINS=none starts a bare node (faster to start and stop: what throw-away test nodes use).
if [ ! -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ]; then
  if [ "${RMQ_PLUGINS:-}" = none ]; then echo '[].' ; else echo '[rabbitmq_management,rabbitmq_prometheus].'; fi > "$RABBITMQ_ENABLED_PLUGINS_FILE"
fi
if (exec 3<>/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT) 2>/dev/null; then
  echo "port $RABBITMQ_NODE_PORT already in use" >&2; exit 1
fi
setsid nohup rabbitmq-server >"$RABBITMQ_LOG_BASE/server.stdout" 2>&1 </dev/null &
echo $! > "$RMQ_BASE/server_shell.pid"
for i in $(seq 1 1200); do   # cheap poll: the AMQP listener opens at the end of boot
  (exec 3<>/dev/tcp/127.0.0.1/$RABBITMQ_NODE_PORT) 2>/dev/null && break
  kill -0 "$(cat "$RMQ_BASE/server_shell.pid")" 2>/dev/null || { echo "rabbitmq-server exited; see $RABBITMQ_LOG_BASE" >&2; exit 1; }
  sleep 0.1
done
rabbitmqctl -q await_startup --timeout 60
