# shellcheck shell=bash
# Sourced by the scripts in scripts/: what each of them needs alike.
#
#   have CMD                  # CMD is on PATH
#   apt_install PKG...        # apt-get install as root (update first when a package is unknown); 1 if not root
#   install_tools BIN=PKG...  # installs the packages of the BINs that are missing (as root, or through
#                             # sudo; never waits for a password without a terminal), then stops and
#                             # disables the system services those packages started (knot, unbound,
#                             # redis-server): scripts start their own servers on their own ports
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

install_tools() {
  local pair bin pkg missing=() sudo=() svc systemd=0
  for pair in "$@"; do
    bin="${pair%%=*}" pkg="${pair#*=}"
    have "$bin" && continue
    [[ " ${missing[*]:-} " == *" $pkg "* ]] || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if ! have apt-get; then
    echo "apt-get not found: install ${missing[*]} by hand" >&2
    return 1
  fi
  if [[ $EUID -ne 0 ]]; then
    have sudo || { echo "not root and no sudo: cannot install ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
    [[ -t 0 ]] || sudo=(sudo -n)
  fi
  [[ -d /run/systemd/system ]] && systemd=1
  # A service the user had before is left alone; one the install starts is stopped.
  local services=(knot unbound redis-server) before=()
  service_on() {
    if [[ $systemd -eq 1 ]]; then systemctl is-enabled --quiet "$1.service" 2>/dev/null
    else have service && service "$1" status >/dev/null 2>&1; fi
  }
  for svc in "${services[@]}"; do service_on "$svc" && before+=("$svc"); done
  echo "installing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" timeout 300 apt-get update -qq || echo "apt-get update failed; installing from the lists there are" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}"
  for svc in "${services[@]}"; do
    [[ " ${before[*]:-} " == *" $svc "* ]] && continue
    service_on "$svc" || continue
    echo "stopping the $svc service the package started" >&2
    if [[ $systemd -eq 1 ]]; then "${sudo[@]}" systemctl disable --now "$svc.service" || true
    else "${sudo[@]}" service "$svc" stop || true; fi
  done
}
