#!/usr/bin/env bash
# reliability.sh: every reliability and security suite, with its figures.
#
# Usage (as root, after `bash tests/run.sh` has installed nginx, wrk, sqlite3 and
# libpam-wrapper):
#   bash tests/reliability.sh [flood.sh options, e.g. -d 5 -r 1]
#
# Runs, in order, and goes on after a failure so every figure is printed:
#   tests/durability/  SIGKILL under concurrent writes; front ends while the daemon is down
#   tests/hostile/     hostile input on all three sockets, idle and slow clients, memory
#   tests/hygiene/     secrets in logs, audit, replies, database; a non-dumpable process
#   tests/flood.sh     valid throughput through nginx under floods of bad credentials
# then prints the figures of all four together and exits 1 if any suite failed.
# docs/security.md says which claim each test backs. Takes about five minutes.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in nginx wrk sqlite3 prlimit runuser; do
    if ! command -v "$tool" >/dev/null && [[ ! -x /usr/sbin/$tool ]]; then
        echo "missing $tool; bash tests/run.sh installs what the tests need" >&2
        exit 1
    fi
done

logs=$(mktemp -d /tmp/apitokend-reliability.XXXXXX)
failed=()

section() { printf '\n==== %s ====\n' "$*"; }

# Runs one suite, showing its output and keeping a copy for the figures.
suite() {
    local name=$1
    shift
    section "$name"
    if ! "$@" 2>&1 | tee "$logs/$name.log"; then
        failed+=("$name")
    fi
}

# Integration tests print their figures; --nocapture shows them. Two threads: the
# machine's other suites (and the flood later) should not distort the timings.
suite durability cargo test --test durability -- --nocapture --test-threads 2
suite hostile cargo test --test hostile -- --nocapture --test-threads 2
suite hygiene cargo test --test hygiene -- --nocapture --test-threads 2
suite flood bash tests/flood.sh "$@"

section "Figures"
for name in durability hostile hygiene; do
    echo "-- $name"
    grep -hE '^(crash [0-9]|RSS after|apitokend (open-files|holds|CPU)|http\.sock /auth with|[a-z]+\.sock: [0-9]+ slow|32 concurrent|searched|uid [0-9]+:|21 KiB|81 headers)' \
        "$logs/$name.log" || true
    grep -hE '^test result:' "$logs/$name.log" || true
done
echo "-- flood"
sed -n '/^==== Summary ====/,$p' "$logs/flood.log" | tail -n +2
echo
echo "logs: $logs"
if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "all reliability suites passed"
