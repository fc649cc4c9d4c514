#!/usr/bin/env bash
# Runs one cargo-fuzz target (fuzz/fuzz_targets/) for SECONDS, on this
# machine's nightly toolchain (libFuzzer with AddressSanitizer), starting
# from fuzz/regressions/TARGET (inputs that once found a bug: kept),
# fuzz/seeds/TARGET (valid inputs to start from: kept) and a working corpus
# in fuzz/corpus/TARGET (not kept). Extra arguments go to libFuzzer; a
# crash's input lands in fuzz/artifacts/TARGET. The trace reader's target
# is a cargo-fuzz project of its own (fuzz/trace/: it builds polars, 15
# minutes under the sanitizer), sharing fuzz/target and fuzz/'s corpora;
# its crashes land in fuzz/trace/artifacts/TARGET.
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer args...]
#   scripts/fuzz.sh list          (the targets of fuzz/)
#   scripts/fuzz.sh list-all      (and fuzz/trace/'s)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
if [ "${1:-}" = list ]; then
  ls fuzz_targets | sed 's/\.rs$//'
  exit 0
fi
if [ "${1:-}" = list-all ]; then
  ls fuzz_targets trace/fuzz_targets | grep '\.rs$' | sed 's/\.rs$//'
  exit 0
fi
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer args...] (or: list)}
secs=${2:?usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer args...]}
shift 2
if [ -f "fuzz_targets/$target.rs" ]; then
  project=.
elif [ -f "trace/fuzz_targets/$target.rs" ]; then
  project=trace
else
  echo "fuzz.sh: no target '$target' (scripts/fuzz.sh list-all)" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null || {
  echo "installing (cargo): cargo-fuzz"
  cargo +nightly install cargo-fuzz --locked --quiet
}
mkdir -p "corpus/$target" "regressions/$target"
dirs=("corpus/$target" "regressions/$target")
[ -d "seeds/$target" ] && dirs+=("seeds/$target")
limits=(-rss_limit_mb=4096)
# polars reserves room by the counts a damaged Parquet footer claims (15.8
# GB for fuzz/regressions/trace_reader/footer-claims-15gb): address space
# never touched, the read then fails in one line. libFuzzer's malloc limit
# (the RSS limit by default) would call that an out-of-memory; RSS stays
# limited.
[ "$target" = trace_reader ] && limits+=(-malloc_limit_mb=65536)
set +e
cargo +nightly fuzz run --fuzz-dir "$project" --target-dir target "$target" "${dirs[@]}" -- \
  -max_total_time="$secs" -timeout=10 "${limits[@]}" -print_final_stats=1 "$@"
rc=$?
# Targets that need files keep them under lockline-fuzz-PID (tmpfs first):
# those of fuzzers no longer running go (another target may be running).
for d in /dev/shm/lockline-fuzz-* "${TMPDIR:-/tmp}"/lockline-fuzz-*; do
  [ -e "$d" ] || continue
  kill -0 "${d##*-}" 2>/dev/null || rm -rf "$d"
done
exit $rc
