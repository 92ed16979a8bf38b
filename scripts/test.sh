#!/usr/bin/env bash
# Sets everything up (as scripts/setup.sh) and runs every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j "${OPSIS_TEST_JOBS:-$(nproc)}" "$@"
