#!/usr/bin/env bash
# schemathesis.sh: hostile requests generated from the web face's own OpenAPI document.
#
# Usage: bash tests/schemathesis.sh [-n MAX_EXAMPLES] [-t MAX_SECONDS]
#
#   -n  examples per operation and phase (default 40)
#   -t  time budget of the whole run in seconds (default 120)
#   KEEP=1 in the environment keeps the work directory (config, logs, report).
#
# Starts the debug-built daemon (debug: overflow checks and debug assertions are on, so
# more mistakes become crashes) with its web face behind a real nginx configured with
# the shipped snippet, and runs schemathesis (PyPI, pinned below, installed into a
# virtualenv under ~/.cache) against /tokens/api/v1/openapi.json, authenticated by a
# `manage` token for root that tests/schemathesis_auth.py mints with the real CLI (again
# whenever the fuzzer has deleted it and gets a 401). It fails when any answer is a
# 5xx (nginx answers 502 when the daemon drops a connection, so a crash shows too), when
# the daemon is no longer running at the end, or when it printed a panic.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/benches/rig.sh"
max_examples=40
max_time=120
options 'n=max_examples t=max_time' 2,9 "$@"

version=4.32.5
venv=${XDG_CACHE_HOME:-$HOME/.cache}/apitokend-schemathesis-$version
st=$venv/bin/schemathesis
command -v "$nginx_bin" >/dev/null || { echo "missing nginx (bash tests/run.sh installs it)" >&2; exit 1; }

if ! "$st" --version 2>/dev/null | grep -q "$version"; then
    echo "installing schemathesis $version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

(cd "$repo" && cargo build --quiet --bin apitokend --bin apitoken)
bin=${CARGO_TARGET_DIR:-$repo/target}/debug

work_dir schemathesis
daemon_config "$work/state" "$work/run" 'admin_group = "root"' >"$work/apitokend.toml"
"$bin/apitokend" --config "$work/apitokend.toml" >"$work/apitokend.log" 2>&1 &
daemon_pid=$!
pids+=("$daemon_pid")
apitoken() { "$bin/apitoken" --socket "$work/run/admin.sock" "$@"; }
wait_for apitokend apitoken status
wait_for web.sock test -S "$work/run/web.sock"
# A few rows for the listings, the audit trail and the operations on an id to find.
apitoken create --user root --name fuzz-a >/dev/null
apitoken create --user alice --name fuzz-b --expires 30d >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
snippet=$(sed "s#/run/apitokend/web.sock#$work/run/web.sock#" "$repo/packaging/nginx/apitokend-web.conf")
user_line=""
((EUID == 0)) && user_line="user nobody nogroup;"
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
$user_line
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log info;
events { worker_connections 256; }
http {
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port;
$snippet
    }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
base=http://127.0.0.1:$port/tokens
wait_for nginx curl -sf "$base/api/v1/openapi.json"

status=0
# Only the server-error check: the document describes the answers, but a fuzzer's
# opinion of which 4xx a hostile request deserves is not a failure.
(cd "$work" && APITOKEN_BIN="$bin/apitoken" APITOKEN_SOCKET="$work/run/admin.sock" \
    PYTHONPATH="$repo/tests" SCHEMATHESIS_HOOKS=schemathesis_auth \
    "$st" run "$base/api/v1/openapi.json" --url "$base" \
    --checks not_a_server_error \
    --phases examples,coverage,fuzzing \
    --max-examples "$max_examples" --max-time "$max_time" \
    --workers 2 --request-timeout 10 \
    --suppress-health-check all \
    --generation-with-security-parameters false \
    --generation-database none \
    --no-color) || status=$?

if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "apitokend is no longer running:" >&2
    cat "$work/apitokend.log" >&2
    status=1
fi
if grep -qi 'panicked' "$work/apitokend.log"; then
    echo "apitokend panicked:" >&2
    cat "$work/apitokend.log" >&2
    status=1
fi
fives=$(awk '$9 ~ /^5/' "$work/nginx/access.log" | wc -l)
total=$(wc -l <"$work/nginx/access.log")
minted=$(apitoken audit --limit 100000 | grep -E 'token\.create.*schemathesis-' -c || true)
echo "requests through nginx: $total, of which 5xx: $fives; manage tokens minted: $minted"
((fives == 0)) || status=1
exit "$status"
