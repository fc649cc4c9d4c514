#!/usr/bin/env bash
# The terminal UI end to end: the real binary in a real terminal (tmux),
# driven with keys and read back from the screen.
#   scripts/tui_e2e.sh BIN TRACE_WITH_VIOLATIONS
# Checks: the replay opens on the first violation with its op ids and
# explanation on screen; Enter, zoom and pan change the axis; at a wait the
# holder is named and b goes to it; q quits and
# the terminal is restored; a small terminal gets a message; bad input is
# one line and exit 2. With LIVE_DISK set (root), also `run --tui --rounds`:
# violations appear on screen before the run ends; and `mount --tui`: a
# client's writes appear live, q unmounts cleanly.
set -euo pipefail
bin=$(realpath "$1")
trace=$(realpath "$2")
command -v tmux >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q tmux >/dev/null
work=$(mktemp -d)
sock="lockline-e2e-$$"
t() { tmux -L "$sock" "$@"; }
cleanup() {
  t kill-server 2>/dev/null || true
  # A failed mount --tui check can leave the mount behind.
  if grep -qF " $work/mnt " /proc/mounts; then "$bin" umount "$work/mnt" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "tui e2e: FAIL: $*"; echo "--- screen:"; cat "$work/screen" 2>/dev/null || true; exit 1; }
cap() { t capture-pane -t ui -p >"$work/screen"; }
# wait_for TEXT SECONDS: poll the screen until it shows TEXT.
wait_for() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    cap
    grep -qF -- "$1" "$work/screen" && return 0
    sleep 0.2
  done
  fail "'$1' not on screen after $2 s"
}
axis() { grep -E '\+[0-9.]+(ns|µs|ms|s) ' "$work/screen" | head -1; }

# The first violation the UI lists: the first of the trace's violations
# table (the checks in order), with its ops and explanation.
python3 - "$trace" >"$work/first" <<'EOF'
import sys, polars as pl
v = pl.read_parquet(f"{sys.argv[1]}/violations.parquet")
if v.height == 0:
    sys.exit("the e2e trace has no violations")
r = v.row(0, named=True)
print(r["class"])
print(",".join(str(o) for o in r["ops"]))
print(r["explanation"][:40])
EOF
# A moment a thread waits for a folio lock another thread holds: just
# after a lock_wait on a folio held by another thread (ns from the first
# event, as the goto prompt takes it).
python3 - "$trace" >"$work/wait" <<'EOF'
import sys, polars as pl
e = pl.read_parquet(f"{sys.argv[1]}/events.parquet").sort("ts_ns", maintain_order=True)
first = e["ts_ns"][0]
held = {}
for r in e.filter(pl.col("class") == "folio").iter_rows(named=True):
    key = (r["inode"], r["folio"], r["fid"])
    holders = held.setdefault(key, {})
    if r["kind"] == "lock_acquired":
        holders[r["tid"]] = holders.get(r["tid"], 0) + 1
    elif r["kind"] == "lock_released" and holders.get(r["tid"]):
        holders[r["tid"]] -= 1
    elif r["kind"] == "lock_wait" and any(n and t != r["tid"] for t, n in holders.items()):
        print(r["ts_ns"] + 1 - first)
        break
else:
    sys.exit("the e2e trace has no wait for a held folio lock")
EOF
wait_at=$(cat "$work/wait")
class=$(sed -n 1p "$work/first")
ops=$(sed -n 2p "$work/first")
expl=$(sed -n 3p "$work/first")

echo "-- replay in tmux (160x45): $trace"
t new-session -d -s ui -x 160 -y 45 "$bin tui '$trace'; echo EXIT=\$? >'$work/exit'; sleep 600"
wait_for "replay:" 60
wait_for "ops $ops" 5
grep -qF "▶$class" "$work/screen" || fail "first violation ($class) not selected"
grep -qF -- "$expl" "$work/screen" || fail "explanation '$expl' not on screen"
a0=$(axis)
t send-keys -t ui Enter
sleep 0.5; cap
a1=$(axis)
[ "$a1" != "$a0" ] || fail "Enter did not move the timeline to the blame window"
grep -qF "═" "$work/screen" || fail "no blame window marked on the axis"
t send-keys -t ui + +
sleep 0.5; cap
a2=$(axis)
[ "$a2" != "$a1" ] || fail "zoom did not change the axis"
t send-keys -t ui H
sleep 0.5; cap
a3=$(axis)
[ "$a3" != "$a2" ] || fail "pan did not change the axis"
# Who blocked whom: at a wait, the held-at-cursor tab names the holder,
# and b goes to it.
t send-keys -t ui g
t send-keys -t ui -l "$wait_at"
t send-keys -t ui Enter
wait_for ", held by " 5
t send-keys -t ui b
wait_for "from here" 5
# ] walks the selected violation from its victim's op to its culprit (a
# violation whose culprit the trace does not show says so instead).
t send-keys -t ui ']'
for _ in $(seq 25); do
  cap
  grep -qE "step 1/[0-9]+: victim:|no culprit, so no path" "$work/screen" && break
  sleep 0.2
done
grep -qE "step 1/[0-9]+: victim:|no culprit, so no path" "$work/screen" || fail "] did not walk the violation's path"
t send-keys -t ui '?'
wait_for "go to its holder" 5
t send-keys -t ui x q
for _ in $(seq 50); do [ -s "$work/exit" ] && break; sleep 0.2; done
[ "$(cat "$work/exit" 2>/dev/null)" = "EXIT=0" ] || fail "q did not exit 0: $(cat "$work/exit" 2>/dev/null)"
cap
grep -qF "Timeline" "$work/screen" && fail "terminal not restored after q"
t kill-server; sleep 0.3

echo "-- 70x20 terminal"
t new-session -d -s ui -x 70 -y 20 "$bin tui '$trace'; sleep 600"
wait_for "needs at least 80x24" 30
t send-keys -t ui q
t kill-server; sleep 0.3

echo "-- bad input"
rm -f "$work/exit"
t new-session -d -s ui -x 100 -y 30 "$bin tui '$work/missing' 2>'$work/err'; echo EXIT=\$? >'$work/exit'; sleep 600"
for _ in $(seq 50); do [ -s "$work/exit" ] && break; sleep 0.2; done
[ "$(cat "$work/exit")" = "EXIT=2" ] || fail "missing trace: $(cat "$work/exit")"
grep -q "^lockline: error: .*missing" "$work/err" || fail "missing trace: $(cat "$work/err")"
t kill-server; sleep 0.3
set +e
"$bin" tui "$trace" >"$work/out" 2>"$work/err" </dev/null
code=$?
set -e
[ "$code" = 2 ] || fail "stdout not a terminal: exit $code"
[ "$(wc -l <"$work/err")" = 1 ] && grep -q "not one" "$work/err" || fail "stdout not a terminal: $(cat "$work/err")"

if [ -n "${LIVE_DISK:-}" ]; then
  echo "-- run --tui live"
  rm -f "$work/exit"
  t new-session -d -s ui -x 160 -y 45 "$bin run --disk '$LIVE_DISK' --mkfs --force --size 256M --build lockless-min --workload overlap --threads 8 --file-size 4M --short-copy-rate 0.6 --rounds 150 --probe inproc --tui; echo EXIT=\$? >'$work/exit'; sleep 600"
  wait_for "LIVE" 60
  # A violation must show while the run is still going (LIVE, not done).
  # About a quarter of rounds tear with 8 threads and these short copies.
  for _ in $(seq 600); do
    cap
    if grep -qE "▶(torn|dropped|stale)" "$work/screen"; then
      grep -qF "run finished" "$work/screen" && fail "violation shown only after the run ended"
      break
    fi
    sleep 0.2
  done
  grep -qE "▶(torn|dropped|stale)" "$work/screen" || fail "no violation appeared during the live run"
  t send-keys -t ui q
  for _ in $(seq 150); do [ -s "$work/exit" ] && break; sleep 0.2; done
  [ "$(cat "$work/exit" 2>/dev/null)" = "EXIT=0" ] || fail "live q: $(cat "$work/exit" 2>/dev/null)"
  t kill-server; sleep 0.3

  echo "-- mount --tui: a real client's writes on the live timeline, q unmounts"
  rm -f "$work/exit"
  "$bin" mkfs "$work/m.img" --size 256M >/dev/null
  mkdir "$work/mnt"
  t new-session -d -s ui -x 160 -y 45 "$bin mount '$work/m.img' '$work/mnt' --build lockless --tui; echo EXIT=\$? >'$work/exit'; sleep 600"
  wait_for "fuse-mount" 60
  wait_for "LIVE" 10
  # Write until the serving threads' lanes show: the first writes after
  # the UI starts can precede the uprobes' first events (about 1 s here).
  for i in $(seq 60); do
    dd if=/dev/urandom of="$work/mnt/f$i" bs=64k count=20 conv=fsync 2>/dev/null
    cap
    grep -qF "worker" "$work/screen" && break
    sleep 0.5
  done
  wait_for "worker" 1
  t send-keys -t ui q
  for _ in $(seq 300); do [ -s "$work/exit" ] && break; sleep 0.2; done
  [ "$(cat "$work/exit" 2>/dev/null)" = "EXIT=0" ] || fail "mount --tui q: $(cat "$work/exit" 2>/dev/null)"
  wait_for "written back and committed" 5
  grep -qF " $work/mnt " /proc/mounts && fail "still mounted after q"
  "$bin" fsck "$work/m.img" | grep -q "no problems found" || fail "fsck after mount --tui"
fi
echo "tui e2e: ok"
