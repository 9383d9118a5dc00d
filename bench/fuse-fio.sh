#!/usr/bin/env bash
# fio (psync) on ferry mounts — memory, and remote over loopback (ferry serve --memory) — next to the
# same jobs on nbdfuse over nbdkit memory and on sshfs to a loopback sshd (the remote folder a user
# would pick instead), all in one run so the figures compare (BASELINES.md, FUSE and remote mounts);
# then ferry's remote mount as a ratio to sshfs (issue 15's target: at least 2).
#
#   bash bench/fuse-fio.sh            # 1 GiB file, 10 s random-read phase
#   SIZE=256M RUNTIME=5 bash bench/fuse-fio.sh
#
# Needs root, /dev/fuse, fio, nbdkit and nbdfuse (apt-get install -y fio nbdkit nbdfuse), and a built
# ferry (npm run build). The sshfs row needs sshfs and sshd (apt-get install -y sshfs openssh-server);
# without them it says so and the rest runs. sshd runs on a free loopback port with keys made for the
# run (nothing of the system's ssh setup is used or changed; /run/sshd is created if missing, as sshd
# requires). Everything it starts it stops by pid and unmounts, also on Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1G}
RUNTIME=${RUNTIME:-10}
for tool in fio nbdkit nbdfuse fusermount; do
  command -v "$tool" >/dev/null || { echo "fuse-fio: $tool is missing: apt-get install -y fio nbdkit nbdfuse fuse" >&2; exit 1; }
done
[ -f dist/cli/main.js ] || { echo "fuse-fio: run npm run build first" >&2; exit 1; }

work=$(mktemp -d /tmp/ferry-fuse-fio-XXXX)
mkdir -p "$work/memory" "$work/remote" "$work/nbd" "$work/sshfs" "$work/sshdir"
pids=()
cleanup() {
  for m in "$work/memory" "$work/remote" "$work/nbd" "$work/sshfs"; do
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

# sshfs to an sshd of this run on a free loopback port (keys made here; sftp served in-process)
sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
with_sshfs=no
sshfs_missing='not measured: apt-get install -y sshfs openssh-server'
if command -v sshfs >/dev/null && [ -x "$sshd_bin" ]; then
  ssh_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$work/user_key"
  cp "$work/user_key.pub" "$work/authorized_keys"
  cat >"$work/sshd_config" <<CONF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $work/sshd.pid
Subsystem sftp internal-sftp
CONF
  [ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd
  "$sshd_bin" -D -e -f "$work/sshd_config" 2>"$work/sshd.log" & pids+=($!)
  for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null && break; sleep 0.5; done
  sshfs -f "root@127.0.0.1:$work/sshdir" "$work/sshfs" -p "$ssh_port" \
    -o IdentityFile="$work/user_key",StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes \
    2>"$work/sshfs.log" & pids+=($!)
  if wait_mount "$work/sshfs"; then with_sshfs=yes
  else sshfs_missing="not measured: sshfs did not mount: $(tail -c 300 "$work/sshfs.log" "$work/sshd.log" | tr '\n' ' ')"; fi
fi

run_jobs() { # $1 = label, $2 = file
  local common="--filename=$2 --ioengine=psync --size=$SIZE --output-format=json --directory=$work"
  local sw sr rr
  sw=$(cd "$work" && fio --name=sw --rw=write --bs=1M $common | node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log((j.jobs[0].write.bw_bytes/1048576).toFixed(0))')
  sr=$(cd "$work" && fio --name=sr --rw=read --bs=1M $common | node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log((j.jobs[0].read.bw_bytes/1048576).toFixed(0))')
  rr=$(cd "$work" && fio --name=rr --rw=randread --bs=4k --runtime="$RUNTIME" --time_based $common | node -e 'const j=JSON.parse(require("fs").readFileSync(0));console.log((j.jobs[0].read.iops/1000).toFixed(1))')
  printf '| %s | %s MiB/s | %s MiB/s | %s k IOPS |\n' "$1" "$sw" "$sr" "$rr"
  last="$sw $sr $rr"
}

echo "fio psync, file $SIZE, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo '| filesystem | seq write 1M | seq read 1M | randread 4k |'
echo '|---|---|---|---|'
run_jobs 'ferry mount --memory' "$work/memory/bench"
run_jobs 'ferry mount ferry:// (serve --memory, loopback)' "$work/remote/bench"
remote=$last
run_jobs 'nbdfuse over nbdkit memory' "$work/nbd/nbd"
if [ "$with_sshfs" = yes ]; then
  run_jobs 'sshfs to a loopback sshd' "$work/sshfs/bench"
  # shellcheck disable=SC2086 # two lists of three figures
  node -e 'const [a, b] = [process.argv.slice(1, 4), process.argv.slice(4, 7)].map((x) => x.map(Number));
    const r = (i) => (b[i] > 0 ? (a[i] / b[i]).toFixed(2) : "-");
    console.log(`ferry mount ferry:// / sshfs: seq write ${r(0)}, seq read ${r(1)}, randread ${r(2)}`);' $remote $last
else
  echo "| sshfs to a loopback sshd | $sshfs_missing | | |"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
