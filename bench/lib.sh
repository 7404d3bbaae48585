# Shared by the scripts in bench/: source it, do not run it.

# build_inmem: prints the path of the inmem binary to measure: INMEM_BIN when
# set (an earlier build, for before/after runs under the same conditions),
# else the release build, asking cargo where it put it so any target dir or
# config works. Progress goes to stderr; returns non-zero on failure.
build_inmem() {
    if [[ -n ${INMEM_BIN:-} ]]; then
        [[ -x $INMEM_BIN ]] || { echo "INMEM_BIN=$INMEM_BIN is not an executable" >&2; return 1; }
        echo "inmem: $INMEM_BIN (INMEM_BIN)" >&2
        printf '%s\n' "$INMEM_BIN"
        return 0
    fi
    echo "building release binary..." >&2
    local bin
    bin=$(cargo build --release --bin inmem --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    [[ -n $bin && -x $bin ]] || { echo "cargo reported no inmem binary" >&2; return 1; }
    echo "inmem: $bin ($(git describe --always --dirty 2>/dev/null || echo 'no git'))" >&2
    printf '%s\n' "$bin"
}

# ensure_tools "COMMAND ..." PACKAGE...: installs the Debian PACKAGEs with
# apt-get (running apt-get update only if the first try fails) when any
# COMMAND is missing. Progress goes to stderr; returns non-zero on failure.
ensure_tools() {
    local commands=$1 missing=() command
    shift
    for command in $commands; do
        command -v "$command" >/dev/null || missing+=("$command")
    done
    ((${#missing[@]})) || return 0
    echo "missing ${missing[*]}: installing $*..." >&2
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y "$@" >&2 ||
        { "${sudo[@]}" apt-get update >&2 && "${sudo[@]}" apt-get install -y "$@" >&2; } ||
        { echo "cannot install $*" >&2; return 1; }
}

# One server at a time: start_server (each script's own) sets pid;
# stop_server kills and reaps it; stop_on_exit DIR makes exit and interrupts
# stop the server and remove DIR.
pid=""
stop_server() {
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
}
stop_on_exit() {
    scratch_dir=$1
    trap 'stop_server; rm -rf "$scratch_dir"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
