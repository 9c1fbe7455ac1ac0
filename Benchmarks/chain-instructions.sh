#!/bin/bash
# Instructions per record of the in-process chain, Rill's and the hand-written loop's, counted by
# callgrind: stable on a noisy machine, where timings are not. Needs valgrind and a release build
# (swift build -c release --product RillBenchmarks). Both paths run 310,000 records (a 10,000-record
# warm-up and three runs of 100,000).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(mktemp)
trap 'rm -f "$binary" "$binary".*' EXIT
# valgrind 3.19 can't read the debug information Swift 6.3 writes; symbols are enough.
strip --strip-debug -o "$binary" "$(swift build -c release --show-bin-path)/RillBenchmarks"
count() {  # $1: the function whose calls are counted, inclusively
    valgrind --tool=callgrind --callgrind-out-file="$binary.out" --toggle-collect="$1" \
        "$binary" --in-process-only --quick >/dev/null 2>"$binary.log"
    awk '/^summary:/ { printf "%.0f", $2 / 310000 }' "$binary.out"
}
rill=$(count '$s4Rill10StreamTaskC7processyyAA9RawRecordVKF')
hand=$(count '*runHandWritten*')
echo "instructions per record: rill $rill, hand-written $hand, ratio $(awk "BEGIN { printf \"%.2f\", $hand / $rill }")"
