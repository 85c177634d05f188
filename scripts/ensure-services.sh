#!/usr/bin/env bash
# Make sure the services the tests talk to are up: Redis on 127.0.0.1:6379 and
# PostgreSQL on 127.0.0.1:5432 (database `test`).  Start them with the machine's
# own commands when they are installed but stopped; say clearly what is missing.
set -u

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 30); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

if port_open 6379; then
  echo "redis: up on 127.0.0.1:6379"
elif command -v redis-server >/dev/null; then
  echo "redis: starting"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  wait_port 6379 && echo "redis: up" || { echo "redis: failed to start" >&2; exit 1; }
else
  echo "redis: not installed and not running on 127.0.0.1:6379 (apt-get install redis-server)" >&2
  exit 1
fi

if port_open 5432; then
  echo "postgresql: up on 127.0.0.1:5432"
elif command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "postgresql: starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432 && echo "postgresql: up" || echo "postgresql: could not start; its tests will be skipped" >&2
else
  # PostgreSQL is optional for the suite: SQLite always runs, PostgreSQL tests skip with a reason.
  echo "postgresql: not installed; PostgreSQL tests will be skipped" >&2
fi
exit 0
