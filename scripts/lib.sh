# Sourced by the scripts in scripts/: what each of them needs alike.
#
#   have CMD                  # CMD is on PATH
#   apt_install PKG...        # apt-get install as root (update first when a package is unknown); 1 if not root
#   stop_pid PID [SECONDS]    # SIGTERM, then SIGKILL after SECONDS (default 5); returns PID's exit status
#                             # (137 when it had to be killed); never waits longer

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  [[ $EUID -eq 0 ]] && have apt-get || return 1
  if ! apt-cache show "$@" >/dev/null 2>&1; then timeout 300 apt-get update -qq || true; fi
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

stop_pid() {
  local pid="$1" tenths=$(( ${2:-5} * 10 )) rc=0
  kill -TERM "$pid" 2>/dev/null || true
  while (( tenths-- > 0 )) && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}
