#!/usr/bin/env bash
# A throwaway S3 server for development and tests: Ceph's RADOS Gateway on a one-node cluster
# (one ceph-mon, one ceph-osd on memstore, radosgw with the beast frontend on 127.0.0.1).
#
#   scripts/s3-dev.sh start DIR   start it with all state under DIR, create a user and a bucket,
#                                 print `export` lines (also written to DIR/env)
#   scripts/s3-dev.sh stop DIR    stop the daemons recorded under DIR (by PID) and keep DIR
#
# Needs Debian's radosgw, ceph-mon and ceph-osd (`apt-get install --no-install-recommends`).
# Data lives in the OSD's memory (memstore, S3_DEV_MEMSTORE_BYTES, default 2 GiB): stopping loses
# it. Everything listens on 127.0.0.1 only.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
tool() { node "$here/s3-dev-tool.mjs" "$@"; }
die() { echo "s3-dev: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop DIR"; }

[ $# -eq 2 ] || usage
cmd="$1"
dir="$2"

# Daemons in the order they are stopped (clients before the servers they talk to).
DAEMONS=(rgw osd mon)

# The PID recorded for a daemon, if that process is still the one this script started (its
# command line names this DIR's ceph.conf): a reused PID is never signalled.
live_pid() {
  local pidfile="$dir/pids/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf" || return 1
  echo "$pid"
}

# Whether a process still runs; a zombie has ended (a PID 1 that reaps slowly leaves zombies for ~2 s).
running() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# SIGKILL: the cluster is throwaway (its data lives in the OSD's memory and `start` wipes DIR's
# state), and a clean stop took ~5 s here (the OSD waits ~2 s to tell the mon it is going).
stop_daemon() {
  local name="$1" pid i
  if pid="$(live_pid "$name")"; then
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do running "$pid" || break; sleep 0.02; done
    running "$pid" && die "$name (PID $pid) is still running after SIGKILL"
  fi
  rm -f "$dir/pids/$name.pid"
}

stop_all() {
  local name
  for name in "${DAEMONS[@]}"; do stop_daemon "$name"; done
}

# Starts a daemon in the foreground mode (-f), detached from the caller's session, and records it.
run_daemon() {
  local name="$1"
  shift
  setsid "$@" -f -c "$dir/ceph.conf" >>"$dir/log/$name.out" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
  # Not this shell's job any more: no "Killed" notices when `stop` ends it.
  disown $!
}

check_alive() {
  live_pid "$1" >/dev/null || die "$1 exited during start; see $dir/log/ ($(tail -n 3 "$dir/log/$1.out" 2>/dev/null | tr '\n' ' '))"
}

ceph_cli() { timeout 30 ceph -c "$dir/ceph.conf" --connect-timeout 20 "$@"; }

write_conf() {
  local fsid="$1" mon_port="$2"
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
# With auth none radosgw still asks for a secure mon connection and never opens its port.
ms mon client mode = crc
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon
osd data = $dir/osd
osd objectstore = memstore
memstore device bytes = ${S3_DEV_MEMSTORE_BYTES:-2147483648}
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# A nearly full disk must not stop the mon of a throwaway cluster.
mon data avail crit = 0
mon data avail warn = 0
# Pool creation waits on paxos (1 s a commit by default; rgw creates 7 pools at first start).
paxos propose interval = 0.01
paxos min wait = 0.001
# The default 5 s objecter tick adds up to 5 s to rgw's first connection.
objecter tick interval = 0.5

[client.rgw]
# Port 0: the kernel picks a free port and s3-dev-tool reads it from /proc, so no other process
# can take it between choosing and binding.
rgw frontends = beast endpoint=127.0.0.1:0
rgw thread pool size = 64
# Deleted objects' data is freed by rgw's garbage collector, by default 2 h later: memstore then
# fills up after a few GiB of deletes (a benchmark, a test suite) and a full OSD blocks every write.
rgw gc obj min wait = 5
rgw gc processor period = 5
rgw data = $dir/rgw
admin socket = $dir/run/\$name.asok

[client]
# The ceph and radosgw-admin commands need no admin socket (and would clash on one).
admin socket =
EOF
}

start() {
  command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null ||
    die "radosgw, ceph-mon and ceph-osd are not installed (apt-get install --no-install-recommends radosgw ceph-mon ceph-osd)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  for name in "${DAEMONS[@]}"; do
    live_pid "$name" >/dev/null && die "$name is already running for $dir; stop it first"
  done
  rm -rf "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/run" "$dir/log" "$dir/pids" "$dir/env"
  mkdir -p "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/run" "$dir/log" "$dir/pids"
  # Any failure from here on (set -e or die) leaves nothing running.
  trap 'stop_all' EXIT

  local fsid osd_uuid mon_port rgw_port access_key secret_key
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  mon_port="$(tool free-port)"
  write_conf "$fsid" "$mon_port"

  # The mon must be in its monmap by name, or it calls itself noname-a and never forms quorum.
  monmaptool --create --fsid "$fsid" --add a "v2:127.0.0.1:$mon_port" "$dir/run/monmap" >/dev/null
  ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/run/monmap" >>"$dir/log/mkfs.out" 2>&1
  run_daemon mon ceph-mon -i a

  local osd_id
  osd_id="$(ceph_cli osd new "$osd_uuid" 2>>"$dir/log/mkfs.out")" || { check_alive mon; die "ceph osd new failed; see $dir/log/mkfs.out"; }
  [ "$osd_id" = 0 ] || die "ceph osd new returned id '$osd_id', expected 0"
  ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/mkfs.out" 2>&1
  run_daemon osd ceph-osd -i 0

  access_key="$(head -c 10 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
  secret_key="$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  # Before radosgw starts, so the user is there when it first reads the user pool.
  timeout 30 radosgw-admin -c "$dir/ceph.conf" user create --uid=test --display-name=test \
    --access-key="$access_key" --secret="$secret_key" >>"$dir/log/mkfs.out" 2>&1 || die "radosgw-admin user create failed; see $dir/log/mkfs.out"

  run_daemon rgw radosgw -n client.rgw
  rgw_port="$(tool wait-s3 "$(cat "$dir/pids/rgw.pid")" 60 2>>"$dir/log/rgw.out")" ||
    { check_alive mon; check_alive osd; die "radosgw did not answer S3; see $dir/log/rgw.out"; }

  cat >"$dir/env" <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:$rgw_port
export AWS_ACCESS_KEY_ID=$access_key
export AWS_SECRET_ACCESS_KEY=$secret_key
export AWS_REGION=us-east-1
export HA_S3_BUCKET=ha-proxy-test
EOF
  (. "$dir/env" && tool create-bucket) || die "creating the bucket failed"
  trap - EXIT
  cat "$dir/env"
}

case "$cmd" in
  start) start ;;
  stop)
    [ -d "$dir" ] || die "no such directory: $dir"
    dir="$(cd "$dir" && pwd)"
    stop_all
    ;;
  *) usage ;;
esac
