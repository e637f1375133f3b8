#!/usr/bin/env bash
# Run the suite. PostgreSQL and Redis on loopback are used when they answer (always on CI);
# without them the suite runs on SQLite and pytest names every test it had to skip.
set -uo pipefail
PY=${PY:-.venv/bin/python}

reachable() { "$PY" - "$1" "$2" <<'PYEOF'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PYEOF
}

if [ -z "${DATABASE_URL:-}" ] && reachable 127.0.0.1 5432; then
  export DATABASE_URL="postgres://root@127.0.0.1:5432/vastavuoro"
fi
if [ -z "${TEST_REDIS_URL:-}" ] && reachable 127.0.0.1 6379; then
  export TEST_REDIS_URL="redis://127.0.0.1:6379/15"
fi
echo "Database: ${DATABASE_URL:-SQLite (PostgreSQL not reachable: PostgreSQL-only tests will be skipped)}"
echo "Redis:    ${TEST_REDIS_URL:-not reachable: tests that need a real broker will be skipped}"

export DJANGO_ENV=test
"$PY" -m pytest "$@"
code=$?
# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
[ $code -eq 5 ] && { echo "No tests ran."; exit 1; }
exit $code
