#!/bin/bash
# fio through `lockline mount` on each build, then ext4 on a loop device as
# the anchor, in one run (root; fio installed). Figures: README, Performance.
set -e
cd "$(dirname "$0")/.."
cargo build --release -q
L=$PWD/target/release/lockline
T=${TMPDIR:-/tmp}
for b in locked lockless; do
  rm -f $T/fb.img; $L mkfs $T/fb.img --size 1G >/dev/null; mkdir -p $T/fbm
  $L mount $T/fb.img $T/fbm --build $b --threads 8 >/dev/null
  fio --name=w --directory=$T/fbm --filename=f --size=64M --numjobs=4 --offset_increment=64M --rw=write --bs=64k --ioengine=psync --thread --group_reporting --time_based --runtime=8 --fallocate=none 2>&1 | grep -E "WRITE:" | sed "s/^/$b 64k seq disjoint: /"
  fio --name=w --directory=$T/fbm --filename=f --size=64M --numjobs=4 --rw=randwrite --bs=4k --ioengine=psync --thread --group_reporting --time_based --runtime=8 2>&1 | grep -E "WRITE:" | sed "s/^/$b 4k rand shared: /"
  $L umount $T/fbm >/dev/null
done
rm -f $T/fe.img; truncate -s 1G $T/fe.img; dev=$(losetup -f --show $T/fe.img); mkfs.ext4 -q $dev; mkdir -p $T/fem; mount $dev $T/fem
fio --name=w --directory=$T/fem --filename=f --size=64M --numjobs=4 --offset_increment=64M --rw=write --bs=64k --ioengine=psync --thread --group_reporting --time_based --runtime=8 --fallocate=none 2>&1 | grep -E "WRITE:" | sed "s/^/ext4 64k seq disjoint: /"
fio --name=w --directory=$T/fem --filename=f --size=64M --numjobs=4 --rw=randwrite --bs=4k --ioengine=psync --thread --group_reporting --time_based --runtime=8 2>&1 | grep -E "WRITE:" | sed "s/^/ext4 4k rand shared: /"
umount $T/fem; losetup -d $dev
