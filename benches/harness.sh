# Shared set-up of benches/nginx-bench.sh and tests/flood.sh, sourced after their option
# parsing with `source "$repo/benches/harness.sh" NAME`: checks the tools, builds the
# release binaries, makes a work directory /tmp/apitokend-NAME.* removed on exit (KEEP=1
# keeps it) with every pid in `pids` stopped, and defines section, wait_for and apitoken.
# shellcheck shell=bash

harness_name=$1

nginx_bin=${NGINX:-/usr/sbin/nginx}
for tool in "$nginx_bin" wrk cargo curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (bash tests/run.sh installs nginx and wrk)" >&2; exit 1; }
done

section() { printf '\n==== %s ====\n' "$*"; }

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" -v c="$(nproc)" 'BEGIN { exit !(l > 0.5 * c) }'; then
    echo "warning: load average $load on $(nproc) CPUs; other work will skew the figures" >&2
fi

section "Build (release)"
(cd "$repo" && cargo build --release --bin apitokend --bin apitoken)
bin=${CARGO_TARGET_DIR:-$repo/target}/release

work=$(mktemp -d "/tmp/apitokend-$harness_name.XXXXXX")
chmod 0755 "$work"
run=$work/run
admin_sock=$run/admin.sock
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# Polls a command until it succeeds, for at most 20 s.
wait_for() {
    local what=$1 deadline=$((SECONDS + 20))
    shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "$what not ready within 20 s" >&2
            return 1
        fi
        sleep 0.05
    done
}

apitoken() { "$bin/apitoken" --socket "$admin_sock" "$@"; }
