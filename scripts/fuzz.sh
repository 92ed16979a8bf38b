#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: clang, ASan + UBSan) and runs each on its seed corpus
# for OPSIS_FUZZ_SECONDS (default 20). CTest runs this as `fuzz_parsers`; a crash, leak,
# sanitizer report or hang fails it and leaves the input in the build folder.
#   scripts/fuzz.sh [BUILD_DIR]            (default: build-fuzz)
#   OPSIS_FUZZ_SECONDS=600 scripts/fuzz.sh (the longer runs recorded in docs/fuzzing.md)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${OPSIS_FUZZ_SECONDS:-20}
command -v clang++ >/dev/null || { echo "opsis fuzz: clang++ not found (scripts/install-deps.sh installs clang)" >&2; exit 1; }
cmake -S fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DOPSIS_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build" -j "${OPSIS_JOBS:-$(nproc)}"
cd "$build"  # crash-*, leak-* and timeout-* inputs land here
ctest --output-on-failure "${@:2}"
