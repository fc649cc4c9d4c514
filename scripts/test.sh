#!/usr/bin/env bash
# The test command: installs what the suite needs when it is missing, then
# runs formatting, lints and every test. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mkfs.ext4 >/dev/null || need_apt+=(e2fsprogs)
command -v losetup >/dev/null || need_apt+=(mount)
{ command -v clang >/dev/null && [ -f /usr/include/bpf/bpf_helpers.h ]; } || need_apt+=(clang libbpf-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need_apt[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}" >/dev/null
  else
    echo "note: not root, cannot install ${need_apt[*]}; tests needing them will say so"
  fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace -- --test-threads="${LOCKLINE_TEST_THREADS:-2}"
echo "== benchmark compiles and runs (quick)"
cargo bench -p lockline-engine --bench engine -- --quick
cargo bench -p lockline-engine --bench checker -- --quick
echo "all tests passed"
