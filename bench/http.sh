#!/usr/bin/env bash
# HTTP API throughput of `inmem serve --http-port` measured with wrk (Debian's
# package): `GET /v1/keys/{key}` of one existing key, then `PUT /v1/keys/{key}`
# over KEYS distinct keys, each for DURATION with THREADS threads and
# CONNECTIONS connections. With redis-benchmark installed it also measures
# GET/SET over the RESP port of the same server, so the two sit side by side.
#
# Prints one summary line per measurement, e.g.
#   http GET /v1/keys/{key}: 41234 req/s, p50 1.10ms, p99 3.20ms (wrk -t2 -c50 -d10s)
#   http PUT /v1/keys/{key}: 30123 req/s, p50 1.50ms, p99 4.10ms (wrk -t2 -c50 -d10s)
#   resp GET: 90000 req/s; resp SET: 85000 req/s (redis-benchmark -c 50 -n 200000)
#
# Usage: bench/http.sh [DURATION] [CONNECTIONS] [THREADS]   (defaults: 10s 50 2)
# Environment: APPENDFSYNC (always|everysec|no, default everysec), KEYS (PUT
# key space, default 100000), CARGO_TARGET_DIR. Builds the release binary,
# installs wrk with apt-get when missing, works from any directory, and stops
# its server and removes its temporary files on exit.
set -euo pipefail

duration=${1:-10s}
connections=${2:-50}
threads=${3:-2}
fsync=${APPENDFSYNC:-everysec}
keys=${KEYS:-100000}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
target=${CARGO_TARGET_DIR:-$repo/target}
inmem=$target/release/inmem

log() { echo "$*" >&2; }
die() {
    log "http.sh: $*"
    exit 1
}

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; } ||
        die "wrk is missing and could not be installed"
fi
command -v curl >/dev/null || die "curl is needed"

log "building the release binary"
cargo build --release -q

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Port 0 for both: the server prints the ports it chose on stderr.
"$inmem" --data-dir "$work/data" --appendfsync "$fsync" serve --port 0 --http-port 0 \
    2>"$work/server.log" &
server_pid=$!
http_port=
resp_port=
for _ in $(seq 100); do
    line=$(grep -m1 'serving RESP on' "$work/server.log" || true)
    if [[ -n $line ]]; then
        resp_port=$(sed -E 's/.*RESP on [^ ,]*:([0-9]+).*/\1/' <<<"$line")
        http_port=$(sed -E 's/.*HTTP on http:\/\/[^ ,]*:([0-9]+).*/\1/' <<<"$line")
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || die "inmem serve exited: $(cat "$work/server.log")"
    sleep 0.1
done
[[ $http_port =~ ^[0-9]+$ ]] || die "no HTTP port in: $(cat "$work/server.log")"
base=http://127.0.0.1:$http_port

curl -fsS -X PUT -H 'content-type: application/json' -d '{"value":"hello"}' \
    "$base/v1/keys/bench:key" >/dev/null || die "the seeding PUT failed"

cat >"$work/put.lua" <<EOF
-- Distinct keys in turn, so the PUTs are not all the same key.
local n = 0
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
local body = '{"value":"value-0123456789"}'
request = function()
    n = (n + 1) % $keys
    return wrk.format("PUT", "/v1/keys/bench:" .. n, nil, body)
end
EOF

# Runs wrk and prints "REQ/S P50 P99" from its --latency report.
measure() {
    local out
    out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@")
    log "$out"
    if grep -q 'Non-2xx' <<<"$out"; then
        die "wrk saw error answers: $(grep 'Non-2xx' <<<"$out")"
    fi
    local rps p50 p99
    rps=$(awk '/^Requests\/sec:/ {printf "%d", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    echo "$rps req/s, p50 $p50, p99 $p99"
}

settings="wrk -t$threads -c$connections -d$duration, appendfsync $fsync"
get=$(measure "$base/v1/keys/bench:key")
put=$(measure -s "$work/put.lua" "$base")
echo "http GET /v1/keys/{key}: $get ($settings)"
echo "http PUT /v1/keys/{key}: $put ($settings)"

if command -v redis-benchmark >/dev/null && [[ $resp_port =~ ^[0-9]+$ ]]; then
    requests=200000
    if raw=$(redis-benchmark -p "$resp_port" -c "$connections" -n "$requests" -t get,set -q 2>&1); then
        resp=$(tr '\r' '\n' <<<"$raw" |
            awk -F'[: ]+' '/requests per second/ {printf "resp %s: %d req/s; ", $1, $2}')
        echo "${resp% }(redis-benchmark -c $connections -n $requests)"
    else
        log "redis-benchmark failed against the RESP port: $(tr '\r' '\n' <<<"$raw" | tail -n 2)"
    fi
else
    log "redis-benchmark not installed: RESP figures skipped (apt-get install -y redis-tools)"
fi
