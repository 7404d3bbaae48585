#!/usr/bin/env bash
# What unpipelined SETs under redis-benchmark can reach on this machine, and
# so what issue #4's `appendfsync always` target (inmem >= 1.5x Redis) asks
# for. One run measures side by side, in rotating order, with a fresh server
# each round (`-t set -n N -r 100000 -d 16 -c 50`, as bench/resp.sh's
# `always` case):
#
#   null            bench/null_server.c: answers +OK, stores nothing
#   redis-none      redis-server, no persistence at all
#   redis-everysec  redis-server, append-only log fsynced once a second
#   redis-always    redis-server, append-only log fsynced before each reply
#   inmem-everysec  inmem serve --appendfsync everysec
#   inmem-always    inmem serve --appendfsync always
#
# and prints each one's median rate and its ratio to redis-always. When the
# null server's ratio is well below 1.5, no server can meet the target here:
# the benchmark client, not the fsync, is the limit (rounds drift by 15-20%,
# so a real server may pass the null server within that noise).
#
# TEST=get measures unpipelined GETs instead (`-t get`, after 100,000 SETs
# fill the keyspace; the null server answers +OK and needs no fill) on null,
# redis-everysec and inmem-everysec, as ratios to redis-everysec: the ceiling
# of bench/resp.sh's unpipelined GET case.
#
# Usage: bench/ceiling.sh [N] [ROUNDS]      (defaults: 100000 6)
# Needs a C compiler (cc); installs redis-server and redis-tools with apt-get
# when missing. Honours CARGO_TARGET_DIR, INMEM_BIN and BASE_PORT (default
# 6610). Works from any directory; stops its servers and removes its
# temporary files on exit.
set -euo pipefail

n=${1:-100000}
rounds=${2:-6}
base_port=${BASE_PORT:-6610}
test=${TEST:-set}
case $test in
set)
    systems=(null redis-none redis-everysec redis-always inmem-everysec inmem-always)
    reference_system=redis-always
    ;;
get)
    systems=(null redis-everysec inmem-everysec)
    reference_system=redis-everysec
    ;;
*)
    echo "ceiling.sh: unknown TEST '$test' (set, get)" >&2
    exit 1
    ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { echo "$*" >&2; }
die() {
    log "ceiling.sh: $*"
    exit 1
}

command -v cc >/dev/null || die "needs a C compiler (cc) for bench/null_server.c"
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
ensure_tools "redis-server redis-cli redis-benchmark" redis-server redis-tools || die "cannot install redis-server redis-tools"

bin=$(build_inmem) || die "no inmem binary to measure"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/inmem-ceiling.XXXXXX")
cc -O2 -o "$tmp/null_server" bench/null_server.c || die "cannot compile bench/null_server.c"
log "$(redis-server --version)"
log "$(nproc) cores; redis-benchmark and the server share them"

stop_on_exit "$tmp"

# start_server SYSTEM PORT: a fresh server with an empty data directory
start_server() {
    local system=$1 port=$2 dir
    dir=$(mktemp -d "$tmp/$system.XXXXXX")
    case $system in
    null) "$tmp/null_server" "$port" & ;;
    redis-none)
        redis-server --port "$port" --dir "$dir" --appendonly no --save '' \
            --logfile "$dir/redis.log" &
        ;;
    redis-*)
        redis-server --port "$port" --dir "$dir" --appendonly yes \
            --appendfsync "${system#redis-}" --save '' --logfile "$dir/redis.log" &
        ;;
    inmem-*)
        "$bin" --data-dir "$dir" --appendfsync "${system#inmem-}" --snapshot-interval 0 \
            serve --port "$port" 2>"$dir/stderr" &
        ;;
    esac
    pid=$!
    # The null server answers PING with +OK, which is all this needs.
    for _ in $(seq 100); do
        [[ -n $(redis-cli -p "$port" ping 2>/dev/null) ]] && return 0
        sleep 0.1
    done
    die "$system did not start on port $port"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A rates
for ((round = 0; round < rounds; round++)); do
    for k in "${!systems[@]}"; do
        system=${systems[$(((k + round) % ${#systems[@]}))]}
        port=$((base_port + k))
        start_server "$system" "$port"
        if [[ $test == get && $system != null ]]; then
            redis-benchmark -p "$port" -t set -n 100000 -r 100000 -d 16 -c 50 -q >/dev/null 2>&1 ||
                die "cannot fill $system"
        fi
        rate=$(redis-benchmark -p "$port" -t "$test" -n "$n" -r 100000 -d 16 -c 50 --csv 2>/dev/null |
            awk -F, 'NR > 1 { gsub(/"/, ""); print $2 }')
        stop_server
        [[ -n $rate ]] || die "no result from $system"
        log "  round $((round + 1)) $system: $rate rps"
        rates[$system]+="$rate "
    done
done

# shellcheck disable=SC2086
reference=$(median ${rates[$reference_system]})
echo "unpipelined ${test^^} -n $n -c 50, medians of $rounds rounds, $(nproc) cores, $(redis-server --version | awk '{print $3}')"
for system in "${systems[@]}"; do
    # shellcheck disable=SC2086
    rate=$(median ${rates[$system]})
    awk -v s="$system" -v r="$rate" -v ref="$reference" \
        -v name="$reference_system" \
        'BEGIN { printf "%-15s %8.0f rps = %.2fx %s\n", s, r, (ref > 0 ? r / ref : 0), name }'
done
