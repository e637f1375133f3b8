#!/usr/bin/env bash
# Start web, one Celery worker and beat on the embedded defaults; Ctrl-C stops all three.
set -euo pipefail
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}
CELERY="$(dirname "$PY")/celery"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "Stopping web, worker and beat..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

"$CELERY" -A config worker --loglevel=INFO --concurrency=2 --hostname="worker@%h" &
pids+=($!)
"$CELERY" -A config beat --loglevel=INFO &
pids+=($!)
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)

echo "Vastavuoro is starting on http://127.0.0.1:$PORT  (admin: /admin/  portal: /portal/  API docs: /api/docs/)"
echo "Press Ctrl-C to stop web, worker and beat."
# Any of the three exiting stops the others.
wait -n
exit_code=$?
echo "A process exited (code $exit_code); stopping the others."
exit "$exit_code"
