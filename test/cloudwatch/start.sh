#!/usr/bin/env bash
# Start a CloudWatch Logs emulator (moto in server mode, from PyPI) on
# 127.0.0.1 for weft's CloudWatch Logs integration tests. No Docker, no AWS
# account: the real AWS SDK client is pointed at it with `endpoint`.
#
# Creates (once) a Python virtualenv with moto[server] pinned, starts
# moto_server in the background with a PID file and a log, and waits until
# it answers a CloudWatch Logs API call.
#
# Idempotent: if the server recorded in the PID file is up and answering, it
# only prints the URL. Prints the endpoint URL (http://127.0.0.1:PORT) as its
# last stdout line; exits non-zero on failure.
#
# Environment (all optional):
#   WEFT_CW_PORT     port                          (default 15000)
#   WEFT_CW_RUN_DIR  pid/log directory             (default test/cloudwatch/.run)
#   WEFT_CW_VENV     virtualenv directory          (default ~/.cache/weft/moto-<version>)
#   WEFT_CW_TIMEOUT  seconds to wait for it        (default 60)
set -euo pipefail

MOTO_VERSION=5.2.5
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TAG=cloudwatch/start
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
PORT="${WEFT_CW_PORT:-15000}"
RUN_DIR="${WEFT_CW_RUN_DIR:-$HERE/.run}"
VENV="${WEFT_CW_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/weft/moto-$MOTO_VERSION}"
TIMEOUT="${WEFT_CW_TIMEOUT:-60}"
PID_FILE="$RUN_DIR/moto.pid"
LOG_FILE="$RUN_DIR/moto.log"
URL="http://127.0.0.1:$PORT"

# answers: the server handles a CloudWatch Logs call (DescribeLogGroups).
answers() {
  curl -fsS -m 5 -X POST "$URL/" \
    -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: Logs_20140328.DescribeLogGroups' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}' 2>/dev/null | grep -q '"logGroups"'
}

pid_alive() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'moto_server'
}

mkdir -p "$RUN_DIR"
exec 9>"$RUN_DIR/.lock"
if command -v flock >/dev/null 2>&1; then flock -w 300 9 || die "could not lock $RUN_DIR/.lock"; fi

# ---- already running? --------------------------------------------------------------------------
if [ -f "$PID_FILE" ]; then
  old_pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if pid_alive "$old_pid"; then
    if answers; then log "already running (pid $old_pid)"; echo "$URL"; exit 0; fi
    die "pid $old_pid is running but $URL does not answer; run stop.sh first (log: $LOG_FILE)"
  fi
  rm -f "$PID_FILE"
fi
if port_busy "$PORT"; then die "port $PORT on 127.0.0.1 is already in use by another process (set WEFT_CW_PORT)"; fi

# ---- tools and virtualenv ----------------------------------------------------------------------
command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' || die "python3 >= 3.9 is needed for moto $MOTO_VERSION"
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

MARKER="$VENV/.weft-moto-$MOTO_VERSION"
if [ ! -f "$MARKER" ] || [ ! -x "$VENV/bin/moto_server" ]; then
  log "creating virtualenv $VENV with moto[server]==$MOTO_VERSION (first run: about a minute)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
  ok=0
  for attempt in 1 2 3; do
    if "$VENV/bin/pip" install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION" >"$RUN_DIR/pip.log" 2>&1; then ok=1; break; fi
    log "pip install failed (attempt $attempt); retrying"
    sleep $((attempt * 5))
  done
  if [ "$ok" != 1 ]; then tail -n 30 "$RUN_DIR/pip.log" >&2; die "pip install moto[server]==$MOTO_VERSION failed (log: $RUN_DIR/pip.log)"; fi
  [ -x "$VENV/bin/moto_server" ] || die "moto_server is missing from $VENV after the install"
  touch "$MARKER"
fi

# ---- start ------------------------------------------------------------------------------------
: >"$LOG_FILE"
t0=$(date +%s.%N)
# setsid: own session, so the server outlives this script and a Ctrl-C in the caller's terminal.
setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" </dev/null >>"$LOG_FILE" 2>&1 9>&- &
pid=$!
echo "$pid" >"$PID_FILE"
log "started moto_server $MOTO_VERSION, pid $pid (log: $LOG_FILE), waiting up to ${TIMEOUT}s for $URL ..."

deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "moto_server exited before answering; last log lines:"
    tail -n 40 "$LOG_FILE" >&2 || true
    rm -f "$PID_FILE"
    exit 1
  fi
  if answers; then break; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "no answer after ${TIMEOUT}s; last log lines:"
    tail -n 40 "$LOG_FILE" >&2 || true
    kill -TERM "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    exit 1
  fi
  sleep 0.3
done
t1=$(date +%s.%N)
log "answering at $URL (pid $pid, $(awk "BEGIN{printf \"%.1f\", $t1-$t0}")s)"
echo "$URL"
