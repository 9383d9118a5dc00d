#!/usr/bin/env bash
# fio over NBD (--ioengine=nbd, iodepth 16) against `ferry nbd --memory` and `nbdkit memory`, the same
# jobs on both in one run, so the ratio is meaningful on a noisy shared machine (issue 8's target:
# ferry at least half of nbdkit; BASELINES.md, "Block device").
#
#   bash bench/nbd-fio.sh                 # 1 GiB devices, 10 s per job
#   SIZE=512M RUNTIME=5 bash bench/nbd-fio.sh
#   FERRY_NODE_FLAGS=--trace-gc bash bench/nbd-fio.sh   # extra node flags for the ferry process
#
# Each device is first written once end to end (the "first write" row: every chunk is fresh), then
# seq write 1M, seq read 1M, randwrite 4k, randread 4k run time-based. Needs fio and nbdkit
# (apt-get install -y fio nbdkit) and a built ferry (npm run build). Everything it starts it stops by
# pid; temporary files live in one temporary folder, removed at the end, also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1G}
RUNTIME=${RUNTIME:-10}
IODEPTH=${IODEPTH:-16}
for tool in fio nbdkit node; do
  command -v "$tool" >/dev/null || { echo "nbd-fio: $tool is missing: apt-get install -y fio nbdkit" >&2; exit 1; }
done
[ -f dist/cli/main.js ] || { echo "nbd-fio: run npm run build first" >&2; exit 1; }
repo=$(pwd)

work=$(mktemp -d /tmp/ferry-nbd-fio-XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

wait_socket() { for _ in $(seq 60); do [ -S "$1" ] && return 0; sleep 0.5; done; echo "nbd-fio: no socket $1" >&2; return 1; }

# shellcheck disable=SC2086 # FERRY_NODE_FLAGS is a list of flags
node ${FERRY_NODE_FLAGS:-} "$repo/bin/ferry.js" nbd --memory "$SIZE" --unix "$work/ferry.sock" >"$work/ferry.log" 2>&1 &
pids+=($!)
nbdkit -U "$work/nbdkit.sock" --foreground memory "$SIZE" & pids+=($!)
wait_socket "$work/ferry.sock"
wait_socket "$work/nbdkit.sock"

# $1 = socket, $2 = rw, $3 = bs, $4 = "time" for a time-based run; prints MiB/s (1M) or k IOPS (4k)
job() {
  local args=(--name=j --ioengine=nbd "--uri=nbd+unix:///?socket=$1" "--rw=$2" "--bs=$3"
    "--iodepth=$IODEPTH" "--size=$SIZE" --verify_state_save=0 --output-format=json)
  [ "$4" = time ] && args+=("--runtime=$RUNTIME" --time_based)
  if ! (cd "$work" && fio "${args[@]}" >"$work/fio.json" 2>"$work/fio.err"); then
    echo "nbd-fio: fio $2 $3 on $1 failed:" >&2; cat "$work/fio.err" "$work/fio.json" >&2; return 1
  fi
  node -e '
    const text = require("fs").readFileSync(0, "utf8"); // the nbd engine prints a line first
    const j = JSON.parse(text.slice(text.indexOf("{"))).jobs[0];
    const s = j.write.io_bytes > 0 ? j.write : j.read;
    console.log(process.argv[1] === "1M" ? (s.bw_bytes / 1048576).toFixed(0) : (s.iops / 1000).toFixed(1));
  ' "$3" <"$work/fio.json"
}

row() { # $1 = label, $2 = unit, $3 = rw, $4 = bs, $5 = time|once
  local f n
  f=$(job "$work/ferry.sock" "$3" "$4" "$5")
  n=$(job "$work/nbdkit.sock" "$3" "$4" "$5")
  printf '| %s | %s %s | %s %s | %s %% |\n' "$1" "$f" "$2" "$n" "$2" "$(node -e "console.log(Math.round(100 * $f / $n))")"
}

echo "fio --ioengine=nbd, iodepth $IODEPTH, device $SIZE, $RUNTIME s per job; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| job | ferry nbd --memory | nbdkit memory | ferry / nbdkit |"
echo "|---|---|---|---|"
row 'first write 1M (fresh device)' MiB/s write 1M once
row 'seq write 1M' MiB/s write 1M time
row 'seq read 1M' MiB/s read 1M time
row 'randwrite 4k' 'k IOPS' randwrite 4k time
row 'randread 4k' 'k IOPS' randread 4k time
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
