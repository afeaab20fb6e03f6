# Shared by the test/*/start.sh scripts: source it after setting TAG (the
# prefix of log lines, e.g. "opensearch/start").

log() { echo "[$TAG] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# as_root runs a command as root: directly, or with sudo when available.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi
}

# apt_install installs Debian packages, quietly, without recommends.
apt_install() {
  log "installing from Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2 || die "apt-get update failed"
  as_root apt-get install -y -qq --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

# port_busy: something accepts TCP connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
