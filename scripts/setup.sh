#!/usr/bin/env bash
# Installs what ferry needs on a fresh Debian machine, and nothing when it is already there:
# the FUSE system packages (libfuse2, fuse) and the npm packages from package-lock.json; with --test
# also the real clients the test suite drives (fio, nbdinfo/nbdcopy, qemu-img/qemu-nbd) and headless
# Chromium (the bench report test screenshots the HTML report), and Ceph's daemons (the S3 backend's
# tests start a one-machine cluster with scripts/ceph-dev.sh).
# Safe to run again and again: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'ferry setup: %s\n' "$*" >&2; }

debs=(libfuse2 fuse)
[ "${1:-}" = "--test" ] && debs+=(fio libnbd-bin qemu-utils chromium)
# The S3 backend's tests run a one-machine Ceph cluster (scripts/ceph-dev.sh).
[ "${1:-}" = "--test" ] && debs+=(ceph-mon ceph-osd ceph-mgr radosgw ceph-common)
need_debs=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need_debs+=("$pkg")
done
if [ ${#need_debs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing system packages: ${need_debs[*]}; run as root or: sudo apt-get install -y ${need_debs[*]}"
    exit 1
  fi
  say "installing ${need_debs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_debs[@]}" >/dev/null
fi
[ -e /dev/fuse ] || say "note: /dev/fuse is missing; 'ferry mount' and the FUSE tests cannot run on this machine"

# npm packages: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.ferry-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

# The native UDP addon: npm ci builds it (the package's install script), but a checkout whose lock
# file did not change since its last install has none yet. Never fatal: JavaScript is the fallback.
[ -f build/Release/ferry_udp.node ] || node scripts/build-native.js
