#!/usr/bin/env bash
# run_target.sh FUZZER SEED_DIR SECONDS: fuzzes on a scratch copy of the seeds for SECONDS;
# a crash, leak, sanitizer report or timeout fails (libFuzzer writes the input as crash-*,
# leak-* or timeout-* in the current directory).
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 "$work"
