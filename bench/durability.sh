#!/usr/bin/env bash
# inmem against Redis (and SQLite) on the durability issue's three targets:
#
#   load     KEYS `put key:N value:N` from a file on stdin (--appendfsync everysec)
#            vs the same SETs through `redis-cli --pipe` into redis-server with
#            appendonly yes / appendfsync everysec / no RDB saves, vs sqlite3
#            INSERTs in one transaction into a file database.
#            Targets: inmem >= 3x faster than Redis, >= 10x faster than sqlite3.
#   restart  inmem recovering snapshot.db + a short log and answering
#            `-c "get key:1"` (process start to exit) vs redis-server loading the
#            RDB of the same keys until `GET key:1` answers. Target: >= 2x faster.
#   memory   resident bytes per key with KEYS keys loaded, minus an empty
#            database (inmem: VmRSS of a live process; Redis: INFO
#            used_memory_rss). Target: below Redis.
#
# The systems alternate within each round (the order rotates between rounds),
# and each metric is reported as the median over ROUNDS rounds, e.g.
#   load 1M: inmem 0.61 s, redis 1.90 s, sqlite 2.40 s -> 3.1x redis, 3.9x sqlite (target 3x, 10x): ...
#
# Usage: bench/durability.sh [KEYS] [ROUNDS]      (defaults: 1000000 3)
# PARTS picks the measurements (default "load restart memory"; restart needs
# load), e.g. PARTS=memory bench/durability.sh 1000000 5.
# Installs redis-server, redis-tools and sqlite3 with apt-get when missing.
# Honours CARGO_TARGET_DIR, INMEM_BIN (measure that binary instead of
# building) and REDIS_PORT (default 6399). Works from any
# directory; removes its temporary files and stops its servers on exit.
set -euo pipefail

keys=${1:-1000000}
rounds=${2:-3}
port=${REDIS_PORT:-6399}
parts=${PARTS:-load restart memory}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

log() { echo "$*" >&2; }
die() {
    log "durability.sh: $*"
    exit 1
}

run_load=false run_restart=false run_memory=false
for part in $parts; do
    case $part in
    load) run_load=true ;;
    restart) run_restart=true ;;
    memory) run_memory=true ;;
    *) die "unknown part '$part' in PARTS (load, restart, memory)" ;;
    esac
done
if $run_restart && ! $run_load; then
    die "PARTS: restart measures the data the load part writes; add load"
fi

# --- tools ---------------------------------------------------------------

# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
ensure_tools "redis-server redis-cli sqlite3" redis-server redis-tools sqlite3 || die "cannot install redis-server redis-tools sqlite3"
for tool in redis-server redis-cli sqlite3 awk sort; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

bin=$(build_inmem) || die "no inmem binary to measure"
log "$(redis-server --version)"
log "sqlite3 $(sqlite3 --version | cut -d' ' -f1)"

# --- temporary files and processes ---------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/inmem-durability.XXXXXX")
pids=() # servers started and not yet waited for
untrack() {
    local pid keep=()
    for pid in "${pids[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    pids=("${keep[@]}")
}
cleanup() {
    local pid
    exec 3>&- 2>/dev/null || true
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if redis-cli -p "$port" ping >/dev/null 2>&1; then
    die "something already answers on port $port (set REDIS_PORT)"
fi

log "writing inputs for $keys keys..."
awk -v n="$keys" 'BEGIN { for (i = 0; i < n; i++) printf "put key:%d value:%d\n", i, i }' >"$tmp/inmem.txt"
awk -v n="$keys" 'BEGIN {
    for (i = 0; i < n; i++) {
        k = "key:" i; v = "value:" i
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
    }
}' >"$tmp/redis.resp"
if $run_load; then
    awk -v n="$keys" 'BEGIN {
        print "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT);"
        print "BEGIN;"
        for (i = 0; i < n; i++) printf "INSERT INTO kv VALUES('\''key:%d'\'','\''value:%d'\'');\n", i, i
        print "COMMIT;"
    }' >"$tmp/sqlite.sql"
fi

# --- helpers -------------------------------------------------------------

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }

# median of the arguments (numbers)
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v v="$1" -v t="$2" -v dir="$3" 'BEGIN {
    ok = (dir == "ge") ? (v >= t) : (v < t); print (ok ? "met" : "MISSED") }'; }

# Starts redis-server on $port in directory $1 with the extra arguments; sets
# $redis_pid. Returns once the process exists (not necessarily answering).
redis_start() {
    local dir=$1
    shift
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no \
        --logfile "$dir/redis.log" "$@" &
    redis_pid=$!
    pids+=("$redis_pid")
}

# Waits (polling as fast as redis-cli runs) until `GET key` answers `want`.
redis_wait_get() {
    local key=$1 want=$2 out deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
        out=$(redis-cli -p "$port" GET "$key" 2>/dev/null) || true
        [[ $out == "$want" ]] && return 0
        kill -0 "$redis_pid" 2>/dev/null || die "redis-server exited; see its log"
    done
    die "redis-server did not answer GET $key in time"
}

redis_wait_ping() {
    local deadline=$((SECONDS + 30))
    until [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; do
        ((SECONDS < deadline)) || die "redis-server did not start"
        kill -0 "$redis_pid" 2>/dev/null || die "redis-server exited"
        sleep 0.01
    done
}

redis_stop() {
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$redis_pid" 2>/dev/null || true
    untrack "$redis_pid"
}

rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
redis_rss() { redis-cli -p "$port" info memory | tr -d '\r' | awk -F: '$1 == "used_memory_rss" { print $2 }'; }

# --- one round of each measurement ---------------------------------------

# load: sets load_<system> (seconds); leaves data in $tmp/<system>-<round>.
load_inmem() {
    local dir=$tmp/inmem-$1 start end
    rm -rf "$dir"
    start=$(now)
    "$bin" --data-dir "$dir" --appendfsync everysec <"$tmp/inmem.txt" >/dev/null ||
        die "inmem failed to load the script"
    end=$(now)
    load_inmem=$(elapsed "$start" "$end")
}

load_redis() {
    local dir=$tmp/redis-$1 start end out
    rm -rf "$dir" && mkdir -p "$dir"
    redis_start "$dir" --appendonly yes --appendfsync everysec --save ''
    redis_wait_ping
    start=$(now)
    out=$(redis-cli -p "$port" --pipe <"$tmp/redis.resp" 2>&1)
    end=$(now)
    [[ $out == *"errors: 0, replies: $keys"* ]] || die "redis-cli --pipe: $out"
    [[ $(redis-cli -p "$port" dbsize) == "$keys" ]] || die "redis holds the wrong number of keys"
    load_redis=$(elapsed "$start" "$end")
    # Keep the data for the restart measurement: an RDB of the same keys.
    [[ $(redis-cli -p "$port" save) == OK ]] || die "redis SAVE failed"
    redis_stop
}

load_sqlite() {
    local db=$tmp/sqlite-$1.db start end
    rm -f "$db" "$db-journal"
    start=$(now)
    sqlite3 "$db" <"$tmp/sqlite.sql" || die "sqlite3 failed"
    end=$(now)
    [[ $(sqlite3 "$db" 'SELECT count(*) FROM kv') == "$keys" ]] || die "sqlite holds the wrong number of rows"
    load_sqlite=$(elapsed "$start" "$end")
    rm -f "$db"
}

# restart: the data directory of the load round, saved and extended a little.
restart_inmem() {
    local dir=$tmp/inmem-$1 start end out
    "$bin" --data-dir "$dir" -c "save" >/dev/null 2>&1 || die "inmem save failed"
    "$bin" --data-dir "$dir" -c "put extra:1 a; put extra:2 b; put extra:3 c" >/dev/null 2>&1 ||
        die "inmem puts after save failed"
    start=$(now)
    out=$("$bin" --data-dir "$dir" -c "get key:1" 2>"$tmp/restart.err")
    end=$(now)
    [[ $out == value:1 ]] || die "inmem answered '$out' after restart"
    log "  ($(cat "$tmp/restart.err"))"
    restart_inmem=$(elapsed "$start" "$end")
    rm -rf "$dir"
}

restart_redis() {
    local dir=$tmp/redis-$1 start end
    [[ -s $dir/dump.rdb ]] || die "no dump.rdb from the load round"
    start=$(now)
    redis_start "$dir" --dbfilename dump.rdb --appendonly no --save ''
    redis_wait_get key:1 value:1
    end=$(now)
    restart_redis=$(elapsed "$start" "$end")
    [[ $(redis-cli -p "$port" dbsize) == "$keys" ]] || die "redis restarted with the wrong number of keys"
    redis_stop
    rm -rf "$dir"
}

# memory: bytes per key in a live process, over an empty database's baseline.
memory_inmem() {
    local dir=$tmp/inmem-mem-$1 fifo=$tmp/inmem.fifo out=$tmp/inmem.out pid empty full
    rm -rf "$dir" "$fifo" "$out" && mkfifo "$fifo"
    "$bin" --data-dir "$dir" --appendfsync everysec <"$fifo" >"$out" &
    pid=$!
    pids+=("$pid")
    exec 3>"$fifo"
    # Each answer is flushed once no more input is waiting: wait for the last one.
    wait_last_line() {
        local want=$1 deadline=$((SECONDS + 300))
        until [[ $(tail -n 1 "$out" 2>/dev/null) == "$want" ]]; do
            ((SECONDS < deadline)) || die "inmem did not answer"
            kill -0 "$pid" 2>/dev/null || die "inmem exited"
            sleep 0.05
        done
    }
    echo "get nothing" >&3
    wait_last_line "(nil)"
    sleep 1
    empty=$(rss_bytes "$pid")
    cat "$tmp/inmem.txt" >&3
    echo "get key:$((keys - 1))" >&3
    wait_last_line "value:$((keys - 1))"
    sleep 2 # past a log fsync, as for Redis below
    full=$(rss_bytes "$pid")
    exec 3>&-
    wait "$pid" || die "inmem failed while loading through the fifo"
    untrack "$pid"
    memory_inmem=$(awk -v a="$empty" -v b="$full" -v n="$keys" 'BEGIN { printf "%.1f", (b - a) / n }')
    log "  inmem  RSS empty $((empty / 1024)) KiB, loaded $((full / 1024)) KiB"
    rm -rf "$dir" "$fifo" "$out"
}

memory_redis() {
    local dir=$tmp/redis-mem-$1 empty full
    rm -rf "$dir" && mkdir -p "$dir"
    redis_start "$dir" --appendonly yes --appendfsync everysec --save ''
    redis_wait_ping
    sleep 1
    empty=$(redis_rss)
    redis-cli -p "$port" --pipe <"$tmp/redis.resp" >/dev/null 2>&1 || die "redis-cli --pipe failed"
    [[ $(redis-cli -p "$port" dbsize) == "$keys" ]] || die "redis holds the wrong number of keys"
    sleep 2
    full=$(redis_rss)
    redis_stop
    memory_redis=$(awk -v a="$empty" -v b="$full" -v n="$keys" 'BEGIN { printf "%.1f", (b - a) / n }')
    log "  redis  RSS empty $((empty / 1024)) KiB, loaded $((full / 1024)) KiB"
    rm -rf "$dir"
}

# --- the rounds ------------------------------------------------------------

loads_inmem=() loads_redis=() loads_sqlite=()
restarts_inmem=() restarts_redis=()
mems_inmem=() mems_redis=()
systems=(inmem redis sqlite)
# Runs one measurement (restart or memory) of round $2 on inmem and Redis, in
# this round's order, and logs each result with unit $3 (sqlite has neither).
measure_servers() {
    local what=$1 round=$2 unit=$3 s v
    for s in "${order[@]}"; do
        [[ $s == sqlite ]] && continue
        "${what}_$s" "$round"
        v=${what}_$s
        log "  $(printf '%-7s' "$what") $s ${!v} $unit"
    done
}

for ((r = 1; r <= rounds; r++)); do
    order=()
    for ((i = 0; i < 3; i++)); do order+=("${systems[(r - 1 + i) % 3]}"); done
    log "round $r/$rounds (order: ${order[*]})"
    if $run_load; then
        for s in "${order[@]}"; do
            "load_$s" "$r"
            v=load_$s
            log "  load    $s ${!v} s"
        done
        loads_inmem+=("$load_inmem") loads_redis+=("$load_redis") loads_sqlite+=("$load_sqlite")
    fi
    if $run_restart; then
        measure_servers restart "$r" s
        restarts_inmem+=("$restart_inmem") restarts_redis+=("$restart_redis")
    fi
    if $run_memory; then
        measure_servers memory "$r" bytes/key
        mems_inmem+=("$memory_inmem") mems_redis+=("$memory_redis")
    fi
    # The load round's data (which restart reads) is not needed any more.
    rm -rf "$tmp/inmem-$r" "$tmp/redis-$r"
done

# --- summary ---------------------------------------------------------------

if ((keys % 1000000 == 0)); then label="$((keys / 1000000))M"; else label=$keys; fi
if $run_load; then
    li=$(median "${loads_inmem[@]}") lr=$(median "${loads_redis[@]}") ls=$(median "${loads_sqlite[@]}")
    x_redis=$(ratio "$lr" "$li") x_sqlite=$(ratio "$ls" "$li")
    echo "runs: load inmem ${loads_inmem[*]} | redis ${loads_redis[*]} | sqlite ${loads_sqlite[*]} (s)"
fi
if $run_restart; then
    ri=$(median "${restarts_inmem[@]}") rr=$(median "${restarts_redis[@]}")
    x_restart=$(ratio "$rr" "$ri")
    echo "runs: restart inmem ${restarts_inmem[*]} | redis ${restarts_redis[*]} (s)"
fi
if $run_memory; then
    mi=$(median "${mems_inmem[@]}") mr=$(median "${mems_redis[@]}")
    x_mem=$(ratio "$mi" "$mr")
    echo "runs: memory inmem ${mems_inmem[*]} | redis ${mems_redis[*]} (bytes/key)"
fi
if $run_load; then
    printf 'load %s: inmem %.2f s, redis %.2f s, sqlite %.2f s -> %sx redis, %sx sqlite (target 3x, 10x): %s, %s\n' \
        "$label" "$li" "$lr" "$ls" "$x_redis" "$x_sqlite" \
        "$(verdict "$x_redis" 3 ge)" "$(verdict "$x_sqlite" 10 ge)"
fi
if $run_restart; then
    printf 'restart %s: inmem %.3f s, redis %.3f s -> %sx faster (target 2x): %s\n' \
        "$label" "$ri" "$rr" "$x_restart" "$(verdict "$x_restart" 2 ge)"
fi
if $run_memory; then
    printf 'memory %s: inmem %.1f bytes/key, redis %.1f bytes/key -> %sx redis (target < 1x): %s\n' \
        "$label" "$mi" "$mr" "$x_mem" "$(verdict "$x_mem" 1 lt)"
fi
echo "(medians of $rounds rounds; load and restart are wall times including process start and exit)"
