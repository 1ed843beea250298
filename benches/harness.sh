# Shared set-up of benches/nginx-bench.sh, benches/store-bench.sh and tests/flood.sh,
# sourced after their option parsing (and benches/rig.sh) with
# `source "$repo/benches/harness.sh" NAME`: checks the tools, builds the release
# binaries, makes the work directory (work_dir NAME) and defines apitoken on its admin
# socket.
# shellcheck shell=bash

for tool in "$nginx_bin" wrk cargo curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool (bash tests/run.sh installs nginx and wrk)" >&2; exit 1; }
done

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" -v c="$(nproc)" 'BEGIN { exit !(l > 0.5 * c) }'; then
    echo "warning: load average $load on $(nproc) CPUs; other work will skew the figures" >&2
fi

section "Build (release)"
(cd "$repo" && cargo build --release --bin apitokend --bin apitoken)
bin=${CARGO_TARGET_DIR:-$repo/target}/release

work_dir "$1"
run=$work/run
admin_sock=$run/admin.sock

apitoken() { "$bin/apitoken" --socket "$admin_sock" "$@"; }
