#!/bin/bash
# Instructions per record of the windowed count's task in process (RocksDB, the record cache, no
# broker), counted by callgrind: stable on a noisy machine, where timings are not. Needs valgrind
# and a release build (swift build -c release --product RillBenchmarks). Counts the processing of
# 100,000 records (--quick) and the final flush of the cache, which writes every window through.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(mktemp)
trap 'rm -f "$binary" "$binary".*' EXIT
# valgrind 3.19 can't read the debug information Swift 6.3 writes; symbols are enough.
strip --strip-debug -o "$binary" "$(swift build -c release --show-bin-path)/RillBenchmarks"
valgrind --tool=callgrind --callgrind-out-file="$binary.out" \
    --toggle-collect='$s4Rill10StreamTaskC7processyyAA9RawRecordVKF' --toggle-collect='$s4Rill10StreamTaskC11flushCachesyyKF' \
    "$binary" --profile-windowed-in-process ${1:---quick} >/dev/null 2>"$binary.log"
records=$([ "${1:-}" = "--full" ] && echo 1000000 || echo 100000)
awk -v n="$records" '/^summary:/ { printf "instructions per record: %.0f\n", $2 / n }' "$binary.out"
if [ -n "${KEEP:-}" ]; then cp "$binary.out" "$KEEP"; fi
