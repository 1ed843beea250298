# The pieces the shell benchmarks and suites (benches/*-bench.sh, tests/flood.sh,
# tests/schemathesis.sh) build their set-up from, sourced first with
# `source "$repo/benches/rig.sh"`. It defines functions and two settings and runs nothing.
# shellcheck shell=bash

nginx_bin=${NGINX:-/usr/sbin/nginx}

# The settings of every auth_request location, as in packaging/nginx/apitokend.conf.
nginx_subrequest='internal;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;'

# options SPEC USAGE ARGS...: `-X VALUE` sets the variable SPEC names for X (SPEC is like
# 'd=duration r=rounds'); -h or an unknown option prints lines USAGE (like 2,12) of the
# script and exits 2. A script that sets the array smoke_defaults also takes --smoke:
# then smoke=1 and smoke_defaults' assignments are made first, so options still win.
options() {
    local spec=$1 usage=$2 letters=h pair a opt
    local -A var=()
    local -a rest=()
    shift 2
    for pair in $spec; do
        letters+="${pair%%=*}:"
        var[${pair%%=*}]=${pair#*=}
    done
    for a in "$@"; do
        if [[ $a == --smoke ]] && declare -p smoke_defaults >/dev/null 2>&1; then
            smoke=1
            for pair in "${smoke_defaults[@]}"; do printf -v "${pair%%=*}" %s "${pair#*=}"; done
        else
            rest+=("$a")
        fi
    done
    set -- "${rest[@]+"${rest[@]}"}"
    local OPTIND=1
    while getopts "$letters" opt; do
        [[ -n ${var[$opt]:-} ]] || { sed -n "${usage}p" "$0"; exit 2; }
        printf -v "${var[$opt]}" %s "$OPTARG"
    done
}

section() { printf '\n==== %s ====\n' "$*"; }

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

port_in_use() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p=$((20000 + RANDOM % 20000))
    while port_in_use "$p"; do p=$((20000 + RANDOM % 20000)); done
    echo "$p"
}

# work_dir NAME: makes the work directory $work (/tmp/apitokend-NAME.*, open to nginx's
# workers); on exit every pid in `pids` is stopped and $work removed (KEEP=1 keeps it).
work_dir() {
    work=$(mktemp -d "/tmp/apitokend-$1.XXXXXX")
    chmod 0755 "$work"
    pids=()
    trap cleanup EXIT
}
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

# daemon_config STATE_DIR RUNTIME_DIR [LINE...]: the daemon's configuration here (no
# password backend, syslog off) on stdout, the LINEs as further top-level keys; the
# caller's own sections may follow it.
daemon_config() {
    printf 'state_dir = "%s"\nruntime_dir = "%s"\n' "$1" "$2"
    shift 2
    if (($#)); then printf '%s\n' "$@"; fi
    printf '\n[password]\nbackend = "none"\n\n[syslog]\nenabled = false\n'
}

# nginx_head NAME [FIRST]: an nginx.conf up to inside `http {` on stdout, for one worker
# (or the directive FIRST), no access log, NAME.pid, NAME-error.log and NAME-tmp in $work.
nginx_head() {
    cat <<EOF
${2:-worker_processes 1;}
daemon off;
pid $work/$1.pid;
error_log $work/$1-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/$1-tmp;
    proxy_temp_path $work/$1-tmp;
    fastcgi_temp_path $work/$1-tmp;
    uwsgi_temp_path $work/$1-tmp;
    scgi_temp_path $work/$1-tmp;
EOF
}

# nginx_front NAME PORT PREFIX=SOCKET...: $work/NAME.conf for one nginx worker on
# 127.0.0.1:PORT where /PREFIX/ answers 204 once apitokend's http.sock at SOCKET allows
# the request. auth_request runs in the access phase, after rewrite-phase `return`, so
# the protected locations answer from try_files (content phase) instead.
nginx_front() {
    local name=$1 port=$2 pair prefix
    shift 2
    {
        nginx_head "$name"
        printf '    server {\n        listen 127.0.0.1:%s backlog=4096;\n        root %s/www;\n' \
            "$port" "$work"
        for pair in "$@"; do
            prefix=${pair%%=*}
            cat <<EOF
        location /$prefix/ { auth_request /_$prefix; try_files /none =204; }
        location = /_$prefix {
            $nginx_subrequest
            proxy_pass http://unix:${pair#*=}:/auth;
        }
EOF
        done
        printf '    }\n}\n'
    } >"$work/$name.conf"
}

# nginx_start NAME: nginx on $work/NAME.conf in the background, its pid in `pids`.
nginx_start() {
    "$nginx_bin" -p "$work" -c "$work/$1.conf" -e "$work/$1-error.log" &
    pids+=($!)
}
