#!/usr/bin/env bash
# Stop the OpenSearch node started by start.sh (SIGTERM -> shutdown hook closes the node), and wait.
# Exits 0 if it is stopped (or was not running), non-zero if it could not be stopped.
#
# Environment: WEFT_OS_RUN_DIR (default test/opensearch/.run), WEFT_OS_STOP_TIMEOUT (default 30 s),
#              WEFT_OS_CLEAN=1 also removes the data directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_DIR="${WEFT_OS_RUN_DIR:-$HERE/.run}"
PID_FILE="$RUN_DIR/opensearch.pid"
STOP_TIMEOUT="${WEFT_OS_STOP_TIMEOUT:-30}"

log() { echo "[opensearch/stop] $*" >&2; }

is_ours() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'weft.OpenSearchLauncher'
}

if [ ! -f "$PID_FILE" ]; then
  log "not running (no $PID_FILE)"
  exit 0
fi
pid="$(cat "$PID_FILE" 2>/dev/null || true)"
if ! is_ours "$pid"; then
  log "pid '${pid}' is not running (or is not the launcher); removing stale pid file"
  rm -f "$PID_FILE" "$RUN_DIR/ready"
  exit 0
fi

log "stopping pid $pid (SIGTERM)"
kill -TERM "$pid" 2>/dev/null || true
deadline=$(( $(date +%s) + STOP_TIMEOUT ))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
      log "ERROR: pid $pid survived SIGKILL"
      exit 1
    fi
    log "WARNING: killed with SIGKILL (no clean shutdown)"
    break
  fi
  sleep 0.3
done

rm -f "$PID_FILE" "$RUN_DIR/ready"
if [ "${WEFT_OS_CLEAN:-0}" = 1 ]; then rm -rf "$RUN_DIR/data" "$RUN_DIR/tmp"; fi
log "stopped"
