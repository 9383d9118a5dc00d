#!/usr/bin/env bash
# A one-machine Ceph cluster for trying `ferry serve --s3` and for the S3 backend's tests:
# one monitor, one manager, one OSD (memstore: data in memory, nothing on disk to clean), and one
# RADOS gateway on 127.0.0.1 at a free port, with one S3 user.
#
#   scripts/ceph-dev.sh start  [--dir DIR]   start it; prints S3_ENDPOINT=, AWS_ACCESS_KEY_ID=,
#                                             AWS_SECRET_ACCESS_KEY= lines on stdout
#   scripts/ceph-dev.sh status [--dir DIR]   exit 0 and print those lines when it runs
#   scripts/ceph-dev.sh start --owner PID     also stop it by itself once process PID ends (tests
#                                             use it, so that a killed test run leaves no cluster)
#   scripts/ceph-dev.sh stop   [--dir DIR]   end every daemon it started (by the pids it recorded)
#                                             and remove DIR
#
# DIR defaults to ${TMPDIR:-/tmp}/ferry-ceph. Installs the Debian packages when they are missing
# (as root). Every wait is bounded (CEPH_DEV_WAIT_S, default 120 s) and says what it waited for.
# Objects are stored compressed (CEPH_DEV_COMPRESSION, default zstd; none for benchmarks).
# Why not cephadm or vstart.sh: cephadm needs containers, vstart.sh a Ceph source tree; the daemons
# from the Debian packages are all this needs.
set -euo pipefail

say() { printf 'ceph-dev: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

cmd=${1:-}
shift || true
dir="${TMPDIR:-/tmp}/ferry-ceph"
owner=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dir)
      [ $# -ge 2 ] || die "--dir needs a folder"
      dir=$2
      shift 2
      ;;
    --owner)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--owner needs a process id"
      owner=$2
      shift 2
      ;;
    *) die "unknown argument '$1' (usage: ceph-dev.sh start|stop|status [--dir DIR])" ;;
  esac
done
case "$dir" in
  /*) ;;
  *) dir="$PWD/$dir" ;;
esac
wait_s=${CEPH_DEV_WAIT_S:-120}
[[ "$wait_s" =~ ^[0-9]+$ ]] && [ "$wait_s" -gt 0 ] || die "CEPH_DEV_WAIT_S must be a whole number of seconds"
# memstore keeps objects in memory up to this many bytes (the OSD reports it as its size).
# Only the bytes stored take memory; objects are compressed (zstd), so zeros and repeats cost little.
osd_bytes=${CEPH_DEV_OSD_BYTES:-$((32 * 1024 * 1024 * 1024))}

compression=${CEPH_DEV_COMPRESSION:-zstd}
case "$compression" in
  none | zstd | lz4 | snappy | zlib) ;;
  *) die "CEPH_DEV_COMPRESSION must be none, zstd, lz4, snappy or zlib, got '$compression'" ;;
esac
conf="$dir/ceph.conf"
debs=(ceph-mon ceph-osd ceph-mgr radosgw ceph-common)

install_packages() {
  local need=()
  for pkg in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}"
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
}

# A TCP port that is free on 127.0.0.1 now (the OS picks it).
free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

ceph_cli() { timeout 30 ceph -c "$conf" --connect-timeout 20 "$@"; }

# wait_for WHAT LOG COMMAND...: runs COMMAND once a second until it succeeds, or fails loudly.
wait_for() {
  local what=$1 log=$2
  shift 2
  local deadline=$((SECONDS + wait_s))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      say "gave up after ${wait_s}s waiting for $what; the last lines of $log:"
      tail -n 20 "$log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 1
  done
}

# start_daemon NAME COMMAND...: runs a daemon in the foreground of a background job, records its pid.
start_daemon() {
  local name=$1
  shift
  "$@" >"$dir/log/$name.out" 2>&1 &
  echo $! >"$dir/pids/$name"
}

# True while `pid` runs (a zombie, ended but not yet reaped by its new parent, does not count).
running() {
  kill -0 "$1" 2>/dev/null || return 1
  [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

alive() {
  local f
  for f in "$dir"/pids/*; do
    [ -e "$f" ] || return 1
    running "$(cat "$f")" || return 1
  done
}

osd_up() { [ "$(ceph_cli osd stat -f json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).num_up_osds))")" = 1 ]; }

rgw_answers() { timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1"; }

# stop_pid PID NAME: TERM, up to 30 s, then KILL.
stop_pid() {
  local pid=$1 deadline=$((SECONDS + 30))
  kill -TERM "$pid" 2>/dev/null || true
  while running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if running "$pid"; then
    say "$2 (pid $pid) did not end on TERM in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

do_stop() {
  [ -d "$dir" ] || return 0
  [ -f "$dir/ceph-dev" ] || die "$dir was not made by ceph-dev.sh (no ceph-dev marker); not touching it"
  local f pid deadline
  if [ -f "$dir/watchdog.pid" ] && [ "$(cat "$dir/watchdog.pid")" != $$ ]; then
    kill -TERM "$(cat "$dir/watchdog.pid")" 2>/dev/null || true
  fi
  for f in "$dir"/pids/*; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
  done
  deadline=$((SECONDS + 30))
  for f in "$dir"/pids/*; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    while running "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if running "$pid"; then
      say "$(basename "$f") (pid $pid) did not end on TERM in 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"
}

# After a failed start: the daemons end; the folder stays for a look when CEPH_DEV_KEEP_FAILED=1.
stop_failed() {
  if [ "${CEPH_DEV_KEEP_FAILED:-0}" = 1 ]; then
    local f
    for f in "$dir"/pids/*; do [ -e "$f" ] && stop_pid "$(cat "$f")" "$(basename "$f")"; done
    rm -rf "$dir/pids"
    say "kept $dir (CEPH_DEV_KEEP_FAILED=1): its log/ folder tells what failed"
  else
    do_stop
  fi
}

do_start() {
  install_packages
  if [ -d "$dir" ]; then
    if [ -f "$dir/ceph-dev" ] && alive; then die "a cluster already runs in $dir (stop it first)"; fi
    do_stop
  fi
  # Half-started clusters are taken down again, so a failed start leaves nothing running.
  started=0
  trap '[ "$started" = 1 ] || { say "start failed; stopping what was started"; stop_failed; }' EXIT
  mkdir -p "$dir"/{pids,log,run,keys,mon/ceph-a,mgr/ceph-x,osd/ceph-0,rgw/ceph-rgw.a}
  touch "$dir/ceph-dev"
  local fsid mon_port rgw_port access secret
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
ms_bind_msgr1 = false
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $dir/keys/\$name.keyring
run_dir = $dir/run
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
pid_file = $dir/run/\$name.pid
crash_dir = $dir/log/crash
mon_data = $dir/mon/ceph-\$id
mgr_data = $dir/mgr/ceph-\$id
osd_data = $dir/osd/ceph-\$id
rgw_data = $dir/rgw/ceph-\$id
osd_objectstore = memstore
memstore_device_bytes = $osd_bytes
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_max_pg_per_osd = 1000
mon_warn_on_pool_no_redundancy = false
auth_allow_insecure_global_id_reclaim = false
osd_max_object_size = 1073741824
mgr_initial_modules =
# Deleted objects give their memory back within seconds, not the default hours.
rgw_gc_obj_min_wait = 5
rgw_gc_processor_period = 10
EOF
  say "monitor on 127.0.0.1:$mon_port"
  ceph-authtool --create-keyring "$dir/keys/mon..keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/keys/client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$dir/keys/mon..keyring" --import-keyring "$dir/keys/client.admin.keyring" >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keys/mon..keyring" \
    >"$dir/log/mon-mkfs.out" 2>&1 || die "ceph-mon --mkfs failed: $(tail -n 5 "$dir/log/mon-mkfs.out")"
  start_daemon mon.a ceph-mon -c "$conf" -f -i a
  wait_for "the monitor to answer" "$dir/log/mon.a.log" ceph_cli mon stat

  say "manager"
  ceph_cli auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$dir/keys/mgr.x.keyring" >/dev/null
  start_daemon mgr.x ceph-mgr -c "$conf" -f -i x

  say "OSD (memstore, $((osd_bytes / 1024 / 1024)) MiB)"
  local osd_uuid osd_id
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(ceph_cli osd new "$osd_uuid")
  [ "$osd_id" = 0 ] || die "expected OSD id 0, the monitor gave '$osd_id'"
  ceph_cli auth get-or-create osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
    -o "$dir/keys/osd.0.keyring" >/dev/null
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1 ||
    die "ceph-osd --mkfs failed: $(tail -n 5 "$dir/log/osd-mkfs.out")"
  start_daemon osd.0 ceph-osd -c "$conf" -f -i 0
  wait_for "the OSD to be up" "$dir/log/osd.0.log" osd_up

  say "RADOS gateway on 127.0.0.1:$rgw_port"
  ceph_cli auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
    -o "$dir/keys/client.rgw.a.keyring" >/dev/null
  start_daemon rgw.a radosgw -c "$conf" -f -n client.rgw.a \
    --rgw_frontends "beast endpoint=127.0.0.1:$rgw_port"
  wait_for "the gateway to listen" "$dir/log/client.rgw.a.log" rgw_answers "$rgw_port"
  # Compressed storage (memstore holds objects in memory, and test files are mostly zeros). The
  # zone exists once the gateway ran, and the gateway reads its placement when it starts.
  # CEPH_DEV_COMPRESSION=none keeps objects as they are (benchmarks of random data: no CPU spent).
  if [ "$compression" != none ]; then
    timeout "$wait_s" radosgw-admin -c "$conf" zone placement modify --rgw-zone=default \
      --placement-id=default-placement --compression="$compression" >"$dir/log/placement.out" 2>&1 ||
      die "radosgw-admin zone placement modify failed: $(tail -n 5 "$dir/log/placement.out")"
    stop_pid "$(cat "$dir/pids/rgw.a")" rgw.a
    start_daemon rgw.a radosgw -c "$conf" -f -n client.rgw.a \
      --rgw_frontends "beast endpoint=127.0.0.1:$rgw_port"
    wait_for "the gateway to listen again" "$dir/log/client.rgw.a.log" rgw_answers "$rgw_port"
  fi

  access=$(head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
  secret=$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')
  timeout "$wait_s" radosgw-admin -c "$conf" user create --uid=ferry --display-name='ferry tests' \
    --access-key="$access" --secret-key="$secret" >"$dir/log/user.out" 2>&1 ||
    die "radosgw-admin user create failed: $(tail -n 5 "$dir/log/user.out")"
  cat >"$dir/env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$rgw_port
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
EOF
  chmod 600 "$dir/env"
  if [ -n "$owner" ]; then
    # The watchdog becomes `stop` itself when the owner is gone (stop then spares its own pid).
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; exec bash "$2" stop --dir "$3"' \
      watchdog "$owner" "$(realpath "$0")" "$dir" </dev/null >>"$dir/log/watchdog.out" 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi
  started=1
  cat "$dir/env"
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  status)
    if [ -f "$dir/env" ] && alive; then cat "$dir/env"; else
      say "no cluster runs in $dir"
      exit 1
    fi
    ;;
  *) die "usage: ceph-dev.sh start|stop|status [--dir DIR]" ;;
esac
