#!/usr/bin/env bash
# fio (psync) on ferry mounts — memory, and remote over loopback (ferry serve --memory) — next to the
# same jobs on nbdfuse over nbdkit memory, all in one run so the figures compare (BASELINES.md, FUSE).
#
#   bash bench/fuse-fio.sh            # 1 GiB file, 10 s random-read phase
#   SIZE=256M RUNTIME=5 bash bench/fuse-fio.sh
#
# Needs root, /dev/fuse, fio, nbdkit and nbdfuse (apt-get install -y fio nbdkit nbdfuse), and a built
# ferry (npm run build). Everything it starts it stops by pid and unmounts, also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1G}
RUNTIME=${RUNTIME:-10}
for tool in fio nbdkit nbdfuse fusermount; do
  command -v "$tool" >/dev/null || { echo "fuse-fio: $tool is missing: apt-get install -y fio nbdkit nbdfuse fuse" >&2; exit 1; }
done
[ -f dist/cli/main.js ] || { echo "fuse-fio: run npm run build first" >&2; exit 1; }

work=$(mktemp -d /tmp/ferry-fuse-fio-XXXX)
mkdir -p "$work/memory" "$work/remote" "$work/nbd"
pids=()
cleanup() {
  for m in "$work/memory" "$work/remote" "$work/nbd"; do
    grep -q " $m " /proc/mounts && { fusermount -u "$m" 2>/dev/null || fusermount -uz "$m" 2>/dev/null || true; }
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

wait_for() { # $1 = file, $2 = pattern: wait up to 30 s for a line
  for _ in $(seq 60); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.5; done
  echo "fuse-fio: timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; return 1
}
wait_mount() { for _ in $(seq 60); do grep -q " $1 " /proc/mounts && return 0; sleep 0.5; done; echo "fuse-fio: $1 did not mount" >&2; return 1; }

node bin/ferry.js mount --memory --quota 4GiB "$work/memory" >"$work/memory.log" 2>&1 & pids+=($!)
node bin/ferry.js serve --memory --quota 4GiB --listen 127.0.0.1:0 --no-discovery >"$work/serve.log" 2>&1 & pids+=($!)
nbdkit -U "$work/nbd.sock" --foreground memory 2G & pids+=($!)
wait_for "$work/serve.log" 'listening'
port=$(grep -o '127\.0\.0\.1:[0-9]*' "$work/serve.log" | head -1 | cut -d: -f2)
node bin/ferry.js mount "ferry://127.0.0.1:$port" "$work/remote" >"$work/remote.log" 2>&1 & pids+=($!)
for _ in $(seq 60); do [ -S "$work/nbd.sock" ] && break; sleep 0.5; done
nbdfuse "$work/nbd" --unix "$work/nbd.sock" & pids+=($!)
wait_mount "$work/memory"; wait_mount "$work/remote"; wait_mount "$work/nbd"

run_jobs() { # $1 = label, $2 = file
  local common="--filename=$2 --ioengine=psync --size=$SIZE --output-format=json --directory=$work"
  local sw sr rr
  sw=$(cd "$work" && fio --name=sw --rw=write --bs=1M $common | node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log((j.jobs[0].write.bw_bytes/1048576).toFixed(0))')
  sr=$(cd "$work" && fio --name=sr --rw=read --bs=1M $common | node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log((j.jobs[0].read.bw_bytes/1048576).toFixed(0))')
  rr=$(cd "$work" && fio --name=rr --rw=randread --bs=4k --runtime="$RUNTIME" --time_based $common | node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log((j.jobs[0].read.iops/1000).toFixed(1))')
  printf '| %s | %s MiB/s | %s MiB/s | %s k IOPS |\n' "$1" "$sw" "$sr" "$rr"
}

echo "fio psync, file $SIZE, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo '| filesystem | seq write 1M | seq read 1M | randread 4k |'
echo '|---|---|---|---|'
run_jobs 'ferry mount --memory' "$work/memory/bench"
run_jobs 'ferry mount ferry:// (serve --memory, loopback)' "$work/remote/bench"
run_jobs 'nbdfuse over nbdkit memory' "$work/nbd/nbd"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
