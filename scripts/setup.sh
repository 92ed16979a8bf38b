#!/usr/bin/env bash
# One-step set-up on a fresh Debian 12 machine: system packages, the test tools from npm,
# and a Release build in ./build. Safe to run again: each step skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# Real clients for the tests (pinned by each folder's package-lock.json).
for dir in tests/browser tests/c2pa tests/api; do
  [ -f "$dir/package-lock.json" ] || continue
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "opsis setup: npm ci in $dir"
    # --ignore-scripts: install scripts would download at install time, which fails offline.
    npm ci --ignore-scripts --no-audit --no-fund --prefix "$dir" >/dev/null
  fi
done

build_type=${OPSIS_BUILD_TYPE:-Release}
jobs=${OPSIS_JOBS:-$(nproc)}
# OPSIS_TORCH_PREFIX: another libtorch than Debian's CPU one, e.g. a GPU host's PyTorch with CUDA:
#   OPSIS_TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') bash scripts/setup.sh
torch_args=()
if [ -n "${OPSIS_TORCH_PREFIX:-}" ]; then torch_args=(-DCMAKE_PREFIX_PATH="$OPSIS_TORCH_PREFIX"); fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "${torch_args[@]}" >/dev/null
echo "opsis setup: building ($build_type, $jobs jobs)"
cmake --build build -j "$jobs"
echo "opsis setup: done; the command is ./build/opsis"
