#!/usr/bin/env bash
# inmem serve against redis-server under redis-benchmark, side by side in one
# run, with the same persistence settings (append-only log, no periodic
# snapshots). Three cases, from issue #4:
#
#   pipelined    -t set,get -n N -r 100000 -d 16 -c 50 -P 16, appendfsync everysec
#                Targets: inmem >= 1.2x Redis, p99 no worse.
#   unpipelined  -t set,get -n N -r 100000 -d 16 -c 50, appendfsync everysec
#                Target: inmem >= 0.95x Redis, p99 no worse.
#   always       -t set -n N/4 -r 100000 -d 16 -c 50, appendfsync always on both
#                Target: inmem >= 1.5x Redis (group commit). A last line
#                compares Redis's rate here with inmem's unpipelined SET rate
#                under everysec, the most any fsync scheme could reach.
#
# The servers alternate within each round (the order rotates between rounds);
# every figure is the median over ROUNDS rounds, and each line ends with the
# throughput ratio inmem/redis and both p50/p99 latencies, e.g.
#   pipelined SET: inmem 812000 rps (p50 0.9 p99 1.5 ms), redis 650000 rps (...) -> 1.25x
# followed by the ratio within each round (the two servers ran back to back),
# with its median and range: the paired view, which the machine's drift from
# round to round does not move.
#
# Usage: bench/resp.sh [N] [ROUNDS]           (defaults: 1000000 3)
# CASES (default "pipelined unpipelined always") picks the cases to run.
# Installs redis-server and redis-tools with apt-get when missing. Honours
# CARGO_TARGET_DIR, BASE_PORT (default 6410) and INMEM_BIN (an inmem binary
# to measure instead of building this checkout's, e.g. an earlier build kept
# for a before/after comparison under the same conditions). Works from any directory;
# stops its servers and removes its temporary files on exit.
set -euo pipefail

n=${1:-1000000}
rounds=${2:-3}
base_port=${BASE_PORT:-6410}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { echo "$*" >&2; }
die() {
    log "resp.sh: $*"
    exit 1
}

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
ensure_tools "redis-server redis-cli redis-benchmark" redis-server redis-tools || die "cannot install redis-server redis-tools"

bin=$(build_inmem) || die "no inmem binary to measure"
log "$(redis-server --version)"
log "$(nproc) cores; redis-benchmark and both servers share them"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/inmem-resp.XXXXXX")
stop_on_exit "$tmp"

# start_server SYSTEM PORT FSYNC: a fresh server with an empty data directory
start_server() {
    local system=$1 port=$2 fsync=$3 dir
    dir=$(mktemp -d "$tmp/$system.XXXXXX")
    if [[ $system == inmem ]]; then
        "$bin" --data-dir "$dir" --appendfsync "$fsync" --snapshot-interval 0 \
            serve --port "$port" 2>"$dir/stderr" &
    else
        redis-server --port "$port" --dir "$dir" --appendonly yes --appendfsync "$fsync" \
            --save '' --logfile "$dir/redis.log" &
    fi
    pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$system did not start on port $port"
}

# bench PORT ARGS...: prints "TEST rps p50 p99" per test from redis-benchmark's CSV
bench() {
    local port=$1
    shift
    redis-benchmark -p "$port" --csv "$@" 2>/dev/null |
        awk -F, 'NR > 1 { gsub(/"/, ""); print $1, $2, $5, $7 }'
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A results # key "case system test field" -> space-separated samples
record() {
    local key="$1 $2 $3"
    results["$key rps"]+="$4 "
    results["$key p50"]+="$5 "
    results["$key p99"]+="$6 "
}

run_case() {
    local case=$1 fsync=$2 first second
    shift 2
    for ((round = 0; round < rounds; round++)); do
        if ((round % 2 == 0)); then first=inmem second=redis; else first=redis second=inmem; fi
        for system in "$first" "$second"; do
            local port=$((base_port + round))
            [[ $system == redis ]] && port=$((port + 100))
            start_server "$system" "$port" "$fsync"
            while read -r test rps p50 p99; do
                record "$case" "$system" "$test" "$rps" "$p50" "$p99"
                log "  round $((round + 1)) $case $system $test: $rps rps, p50 $p50 ms, p99 $p99 ms"
            done < <(bench "$port" "$@")
            stop_server
        done
    done
}

summary() {
    local case=$1 test=$2 target=$3 i r
    local -a line=()
    for system in inmem redis; do
        local key="$case $system $test"
        # shellcheck disable=SC2086
        line+=("$(median ${results["$key rps"]})" "$(median ${results["$key p50"]})" "$(median ${results["$key p99"]})")
    done
    i=(${line[@]})
    r=$(awk -v a="${i[0]}" -v b="${i[3]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    printf '%-11s %-4s inmem %9.0f rps (p50 %s p99 %s ms), redis %9.0f rps (p50 %s p99 %s ms) -> %sx (target %s)\n' \
        "$case" "$test" "${i[0]}" "${i[1]}" "${i[2]}" "${i[3]}" "${i[4]}" "${i[5]}" "$r" "$target"
    paired "$case" "$test"
}

# paired CASE TEST: each round's inmem/redis ratio (the two ran back to back,
# so drift of the machine between rounds cancels), their median and range.
paired() {
    local -a inmem redis ratios=()
    read -ra inmem <<<"${results["$1 inmem $2 rps"]}"
    read -ra redis <<<"${results["$1 redis $2 rps"]}"
    for k in "${!inmem[@]}"; do
        ratios+=("$(awk -v a="${inmem[k]}" -v b="${redis[k]:-0}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')")
    done
    printf '%-16s per round: %s -> median %sx, range %s-%sx\n' "" "${ratios[*]}" "$(printf "%.2f" "$(median "${ratios[@]}")")" \
        "$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)" "$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)"
}

cases=" ${CASES:-pipelined unpipelined always} "
for case in $cases; do
    [[ $case == pipelined || $case == unpipelined || $case == always ]] ||
        die "unknown case '$case' in CASES (pipelined, unpipelined, always)"
done
always_n=$((n / 4))
if [[ $cases == *" pipelined "* ]]; then
    log "pipelined: -t set,get -n $n -r 100000 -d 16 -c 50 -P 16 (everysec), $rounds rounds"
    run_case pipelined everysec -t set,get -n "$n" -r 100000 -d 16 -c 50 -P 16
fi
if [[ $cases == *" unpipelined "* ]]; then
    log "unpipelined: -t set,get -n $n -r 100000 -d 16 -c 50 (everysec), $rounds rounds"
    run_case unpipelined everysec -t set,get -n "$n" -r 100000 -d 16 -c 50
fi
if [[ $cases == *" always "* ]]; then
    log "always: -t set -n $always_n -r 100000 -d 16 -c 50 (appendfsync always), $rounds rounds"
    run_case always always -t set -n "$always_n" -r 100000 -d 16 -c 50
fi

echo "medians of $rounds rounds, $(nproc) cores, $(redis-server --version | awk '{print $3}')"
if [[ $cases == *" pipelined "* ]]; then
    summary pipelined SET ">=1.2x"
    summary pipelined GET ">=1.2x"
fi
if [[ $cases == *" unpipelined "* ]]; then
    summary unpipelined SET ">=0.95x"
    summary unpipelined GET ">=0.95x"
fi
[[ $cases != *" always "* ]] || summary always SET ">=1.5x"
if [[ $cases == *" unpipelined "* && $cases == *" always "* ]]; then
    # No fsync scheme makes a server faster than it is with no fsync to wait
    # for: inmem's unpipelined SET under everysec bounds its rate under always.
    # shellcheck disable=SC2086
    awk -v free="$(median ${results["unpipelined inmem SET rps"]})" \
        -v redis="$(median ${results["always redis SET rps"]})" 'BEGIN {
        printf "always ceiling: inmem SET with no fsync to wait for (unpipelined, everysec) %.0f rps = %.2fx Redis under always\n",
            free, (redis > 0 ? free / redis : 0) }'
fi
