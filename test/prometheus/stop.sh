#!/usr/bin/env bash
# Stop the Prometheus server started by test/prometheus/start.sh (SIGTERM, then
# SIGKILL after WEFT_PROM_STOP_TIMEOUT seconds, default 20) and remove its data.
# Exits 0 when it is stopped (or was not running).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_DIR="${WEFT_PROM_RUN_DIR:-$HERE/.run}"
PID_FILE="$RUN_DIR/prometheus.pid"
CONFIG="$RUN_DIR/prometheus.yml"
STOP_TIMEOUT="${WEFT_PROM_STOP_TIMEOUT:-20}"

log() { echo "[prometheus/stop] $*" >&2; }

is_ours() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--config.file=$CONFIG"
}

if [ ! -f "$PID_FILE" ]; then
  log "not running (no $PID_FILE)"
  exit 0
fi
pid="$(cat "$PID_FILE" 2>/dev/null || true)"
if ! is_ours "$pid"; then
  log "pid '$pid' is not running (or is not ours); removing the stale pid file"
  rm -f "$PID_FILE"
  exit 0
fi
log "stopping pid $pid (SIGTERM)"
kill -TERM "$pid" 2>/dev/null || true
deadline=$(( $(date +%s) + STOP_TIMEOUT ))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
    break
  fi
  sleep 0.2
done
rm -f "$PID_FILE"
rm -rf "$RUN_DIR/data"
log "stopped"
