#!/usr/bin/env bash
# End-to-end script-mode throughput of the release binary.
#
# Builds `inmem` in release mode, writes a script of N `put key:I value:I`
# lines to a temporary directory, and runs it RUNS times through standard
# input (`inmem --data-dir DIR < script`) and RUNS times through `-f script`,
# printing each wall time, the median and statements per second.
#
# Usage: bench/statements.sh [LINES] [RUNS]      (defaults: 1000000 5)
# Honours CARGO_TARGET_DIR, and INMEM_BIN (measure that binary instead of
# building). Works from any directory; cleans up after itself.
# Target (from the issue): at least 1,000,000 statements per second.
set -euo pipefail

lines=${1:-1000000}
runs=${2:-5}
target=1000000

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bin=$(build_inmem) || exit 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/inmem-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

script="$tmp/script.txt"
awk -v n="$lines" 'BEGIN { for (i = 0; i < n; i++) printf "put key:%d value:%d\n", i, i }' >"$script"
echo "script: $lines lines, $(wc -c <"$script") bytes" >&2

# median of the arguments (numbers), to full precision
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# run_mode NAME INPUT ARGS...: runs the binary RUNS times with standard input
# from INPUT and output to /dev/null, on a fresh data dir each time, and prints
# the timings; sets $median_secs. Any failed statement makes inmem exit 1,
# which stops this script (set -e).
run_mode() {
    local name=$1 input=$2
    shift 2
    local times=() i start end
    for ((i = 1; i <= runs; i++)); do
        rm -rf "$tmp/data"
        start=$(date +%s.%N)
        "$bin" --data-dir "$tmp/data" "$@" <"$input" >/dev/null
        end=$(date +%s.%N)
        times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }')")
    done
    median_secs=$(median "${times[@]}")
    local rate
    rate=$(awk -v n="$lines" -v s="$median_secs" 'BEGIN { printf "%.0f", n / s }')
    printf '%-5s runs (s): %s\n' "$name" "${times[*]}"
    printf '%-5s median %.3f s = %s statements/s\n' "$name" "$median_secs" "$rate"
}

# Check once (untimed) that every statement printed OK.
oks=$("$bin" --data-dir "$tmp/data" -f "$script" | grep -c '^OK$' || true)
if [[ $oks != "$lines" ]]; then
    echo "expected $lines OK lines, got $oks" >&2
    exit 1
fi

run_mode stdin "$script"
stdin_secs=$median_secs
run_mode file /dev/null -f "$script"
file_secs=$median_secs

rate=$(awk -v n="$lines" -v s="$stdin_secs" 'BEGIN { printf "%.0f", n / s }')
file_rate=$(awk -v n="$lines" -v s="$file_secs" 'BEGIN { printf "%.0f", n / s }')
echo "statements/s (median of $runs): $rate"
echo "statements/s with -f (median of $runs): $file_rate"
if ((rate >= target)); then
    echo "target of $target statements/s: met"
else
    echo "target of $target statements/s: MISSED"
fi
