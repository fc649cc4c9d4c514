#!/usr/bin/env bash
# fio psync random writes on the engine four ways, in one run: the same job
# in-process (engine/benches/psync.rs: the engine's own calls, no fio),
# preloaded (`lockline exec`), through the FUSE mount (`lockline mount`),
# and on the kernel's own page cache (tmpfs, the anchor). locked build, no
# trace, 1 GiB disk; write bandwidth in MiB/s, bs 4k and 64k, 1 and 4 jobs.
# usage: scripts/bench_exec.sh [path/to/lockline]   (root, for the mount)
set -euo pipefail
bin=${1:-target/release/lockline}
size=${SIZE:-128M}
# Disks on tmpfs: the engine, not the host disk, is what is measured.
tmp=$(mktemp -d -p /dev/shm)
mnt="$tmp/mnt"
mkdir -p "$mnt" "$tmp/shm"
cleanup() {
  "$bin" umount "$mnt" >/dev/null 2>&1 || true
  umount "$tmp/shm" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mount -t tmpfs -o size=2G tmpfs "$tmp/shm"

# fio's write bandwidth (MiB/s) from its terse output: field 48 is the
# write bandwidth in KiB/s.
bw() {
  awk -F';' '{printf "%.0f", $48 / 1024}'
}

job() { # dir bs jobs [fio prefix...]
  local dir=$1 bs=$2 jobs=$3
  shift 3
  "$@" fio --name=w --directory="$dir" --filename=f --rw=randwrite --bs="$bs" \
    --size="$size" --numjobs="$jobs" --offset_increment="$size" --ioengine=psync \
    --thread --group_reporting --minimal --end_fsync=1 2>/dev/null | grep "^3;" | tail -1 | bw
}

cargo bench -q -p lockline-engine --bench psync --no-run 2>/dev/null
printf '| bs | jobs | in-process MiB/s | exec MiB/s | mount MiB/s | tmpfs MiB/s |\n|---|---|---|---|---|---|\n'
for bs in 4k 64k; do
  for jobs in 1 4; do
    i=$(cargo bench -q -p lockline-engine --bench psync -- "$bs" "$jobs" "$size" "$tmp" 2>/dev/null | tail -1)
    rm -rf "$tmp/x"
    rm -f "$tmp/e.img"
    e=$(job "$tmp/x" "$bs" "$jobs" "$bin" exec --disk "$tmp/e.img" --dir "$tmp/x" --)
    "$bin" mkfs "$tmp/m.img" --size 2G --force >/dev/null
    "$bin" mount "$tmp/m.img" "$mnt" --threads 8 >/dev/null
    m=$(job "$mnt" "$bs" "$jobs")
    "$bin" umount "$mnt" >/dev/null
    rm -f "$tmp/shm/f"
    t=$(job "$tmp/shm" "$bs" "$jobs")
    printf '| %s | %s | %s | %s | %s | %s |\n' "$bs" "$jobs" "$i" "$e" "$m" "$t"
  done
done
