#!/usr/bin/env bash
# The project's one test command: bash tests/run.sh
#
# Run it as root on a Debian (bookworm or later) machine that has Rust and, ideally,
# cargo-nextest. It installs the Debian packages the integration tests drive (nginx,
# Apache with mod_authnz_external, libpam-wrapper, sshd, Chromium, ...) when they are missing,
# Node's packages of the browser test and schemathesis (PyPI, into a virtualenv), then
# checks formatting, runs clippy with warnings as errors, builds every binary and the PAM
# module, and runs every test. It exits non-zero as soon as one step fails.
#
# The tests start their own nginx, Apache and sshd instances on their own ports and
# sockets; installing the packages never starts the system services (policy-rc.d).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

section() {
    printf '\n==== %s ====\n' "$*"
}

# Runs one step under a header and names it if it fails.
step() {
    local title=$1
    shift
    section "$title"
    if ! "$@"; then
        printf '\n==== FAILED: %s ====\n' "$title" >&2
        exit 1
    fi
}

packages=(
    nginx
    apache2
    libapache2-mod-authnz-external
    pamtester
    libpam-wrapper
    openssh-server
    openssh-client
    sshpass
    wrk
    sqlite3
    git
    fcgiwrap
    prometheus
    python3-requests
    curl
    postgresql
    openssl
    chromium
    nodejs
)

# The tests run the built binaries as other users (Apache's www-data, accounts made with
# useradd), so every directory from / down to the checkout must be searchable by them. A
# checkout in a mktemp -d directory (mode 0700) is not: such directories get o+x (search,
# not listing), and each one is named.
open_path_to_checkout() {
    local dir
    dir=$(pwd -P)
    while [[ $dir != / ]]; do
        if ((!(0$(stat -c %a "$dir") & 1))); then
            chmod o+x "$dir"
            echo "made $dir searchable by other users (chmod o+x): the tests run binaries as them"
        fi
        dir=$(dirname "$dir")
    done
}

install_packages() {
    local missing=() pkg
    for pkg in "${packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        echo "all ${#packages[@]} packages present"
        return 0
    fi
    if ((EUID != 0)); then
        echo "missing Debian packages: ${missing[*]}; run this script as root to install them" >&2
        return 1
    fi
    echo "installing: ${missing[*]}"
    # Keep the packages' maintainer scripts from starting nginx, Apache or sshd on the
    # system ports: invoke-rc.d asks policy-rc.d, and 101 means "action forbidden".
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" || return 1
        own_policy=1
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive apt-get update -q || status=$?
    if ((status == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
            "${missing[@]}" || status=$?
    fi
    if ((own_policy)); then
        rm -f "$policy"
    fi
    # A policy-rc.d that was already there may allow starts; the tests need no system
    # web server or Prometheus, so stop any that the installation just started.
    local svc
    for svc in nginx apache2 fcgiwrap prometheus; do
        if [[ " ${missing[*]} " == *" $svc "* ]] && command -v service >/dev/null \
            && service "$svc" status >/dev/null 2>&1; then
            service "$svc" stop || true
        fi
    done
    return "$status"
}

ensure_rust_components() {
    if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
        return 0
    fi
    if command -v rustup >/dev/null 2>&1; then
        rustup component add rustfmt clippy
    else
        echo "cargo fmt and cargo clippy are required (rustup component add rustfmt clippy)" >&2
        return 1
    fi
}

# Steps run inside `if`, where bash ignores `set -e`, so every command's status is
# checked explicitly here.
run_tests() {
    local status=0
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --no-fail-fast || status=1
        # nextest does not run doctests.
        cargo test --workspace --doc || status=1
    else
        echo "cargo-nextest not found; running cargo test"
        cargo test --workspace --no-fail-fast || status=1
    fi
    return "$status"
}

if ((EUID != 0)); then
    echo "warning: not running as root; tests that create accounts or start sshd will fail" >&2
fi

step "Debian packages" install_packages
step "Rust components" ensure_rust_components
step "Checkout reachable by the tests' other users" open_path_to_checkout
step "Formatting (cargo fmt --check)" cargo fmt --all -- --check
step "Lints (cargo clippy -D warnings)" cargo clippy --workspace --all-targets -- -D warnings
step "Build (daemon, command line, Apache helper, PAM module)" cargo build --workspace
step "Node packages of the browser test (npm ci, playwright-core)" \
    npm ci --prefix tests/web/browser --no-audit --no-fund
step "Tests" run_tests
step "Hostile requests from the OpenAPI document (schemathesis)" bash tests/schemathesis.sh
step "Floods through nginx (release build)" bash tests/flood.sh -d 5 -r 2
step "Benchmark smoke run (every figure printed, none judged)" bash benches/nginx-bench.sh --smoke
step "Store benchmark smoke run (SQLite and PostgreSQL side by side)" bash benches/store-bench.sh --smoke
step "Debian packages (build, install, check, purge)" bash tests/package-install.sh
step "Supply chain (cargo deny)" bash tests/deny.sh

section "All steps passed"
