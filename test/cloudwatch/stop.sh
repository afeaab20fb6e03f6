#!/usr/bin/env bash
# Stop the moto_server started by start.sh, and wait for it to exit.
# Exits 0 if it is stopped (or was not running), non-zero if it could not be stopped.
#
# Environment: WEFT_CW_RUN_DIR (default test/cloudwatch/.run), WEFT_CW_STOP_TIMEOUT (default 15 s).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_DIR="${WEFT_CW_RUN_DIR:-$HERE/.run}"
PID_FILE="$RUN_DIR/moto.pid"
STOP_TIMEOUT="${WEFT_CW_STOP_TIMEOUT:-15}"

log() { echo "[cloudwatch/stop] $*" >&2; }

is_ours() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'moto_server'
}

if [ ! -f "$PID_FILE" ]; then
  log "not running (no $PID_FILE)"
  exit 0
fi
pid="$(cat "$PID_FILE" 2>/dev/null || true)"
if ! is_ours "$pid"; then
  log "pid '${pid}' is not running (or is not moto_server); removing stale pid file"
  rm -f "$PID_FILE"
  exit 0
fi

log "stopping pid $pid (SIGTERM)"
kill -TERM "$pid" 2>/dev/null || true
deadline=$(( $(date +%s) + STOP_TIMEOUT ))
while is_ours "$pid"; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
    if is_ours "$pid"; then log "ERROR: pid $pid survived SIGKILL"; exit 1; fi
    break
  fi
  sleep 0.2
done
rm -f "$PID_FILE"
log "stopped"
