# shellcheck shell=bash
# Sourced by scripts/bench-extras and scripts/profile: the authoritative side
# of their measurements, an NSD config and the zone bench.example (as the
# shared harness serves it): nK.bench.example A for K < NAMES, and a wildcard
# under miss.bench.example for unique names; and what both measure with.
#
#   write_nsd DIR ADDR NAMES TTL    # writes DIR/zone and DIR/nsd.conf (NSD on ADDR = ip:port)
#   names_file NAMES FILE           # dnsperf input: n0..n(NAMES-1).bench.example A
#   wait_for ADDR                   # until n0.bench.example resolves at ADDR (15 s at most; 1 if not)
#   cpu_ticks PID                   # user + system CPU of PID so far, in clock ticks

write_nsd() {
  local dir="$1" addr="$2" names="$3" ttl="$4"
  mkdir -p "$dir"
  awk -v n="$names" -v ttl="$ttl" 'BEGIN {
    printf "$ORIGIN bench.example.\n$TTL %d\n@ IN SOA ns1 hostmaster 1 3600 600 86400 %d\n", ttl, ttl
    printf "@ IN NS ns1\nns1 IN A 127.0.0.1\n*.miss IN A 192.0.2.1\n"
    for (i = 0; i < n; i++) printf "n%d IN A 10.%d.%d.%d\n", i, int(i/65536)%256, int(i/256)%256, i%256 }' > "$dir/zone"
  cat > "$dir/nsd.conf" <<CONF
server:
  ip-address: ${addr%:*}@${addr##*:}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir"
  pidfile: "$dir/nsd.pid"
  verbosity: 0
  rrl-ratelimit: 0
  reuseport: no
remote-control:
  control-enable: no
zone:
  name: "bench.example"
  zonefile: "zone"
CONF
}

names_file() { awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "n%d.bench.example A\n", i }' > "$2"; }

wait_for() {
  local deadline=$(( SECONDS + 15 ))
  while (( SECONDS < deadline )); do
    dig +short +tries=1 +time=1 @"${1%:*}" -p "${1##*:}" n0.bench.example A 2>/dev/null | grep -q '^10\.' && return 0
    sleep 0.2
  done
  return 1
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
