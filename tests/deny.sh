#!/usr/bin/env bash
# Supply-chain checks with cargo-deny, under the policy in deny.toml:
#   licenses  every dependency under a permissive licence we allow
#   bans      banned crates refused; duplicate versions listed as warnings
#   sources   crates.io only
#   advisories  the RustSec advisory database (and yanked versions), when it can be had
#
# The workspace (daemon, CLI, PAM module) and the fuzz crate (fuzz/) are both checked.
#
# The advisory database is a git repository on GitHub, which cargo-deny clones into
# $CARGO_HOME/advisory-dbs. Where GitHub cannot be reached the advisories check is
# skipped, and this script says so in its last line. To run it:
#   - with network access to GitHub: DENY_FETCH_ADVISORIES=1 bash tests/deny.sh
#   - offline: put a clone of the advisory database in $CARGO_HOME/advisory-dbs (for
#     example by running `cargo deny fetch db` on a machine that can reach GitHub and
#     copying the directory); this script then checks against it without fetching.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

deny_version=0.20.2

if ! cargo deny --version >/dev/null 2>&1; then
    echo "cargo-deny not found; installing $deny_version (cargo install cargo-deny --locked)"
    cargo install cargo-deny --locked --version "$deny_version"
fi
cargo deny --version

# --workspace: without it cargo-deny takes only the root package as the graph's root and
# never sees the PAM module's dependencies. The licence exception for libfuzzer-sys
# applies to fuzz/ only, so the workspace run would otherwise warn that it never met it.
echo
echo "==== workspace: bans licenses sources ===="
cargo deny --workspace --locked check -A license-exception-not-encountered bans licenses sources

echo
echo "==== fuzz/: bans licenses sources ===="
cargo deny --manifest-path fuzz/Cargo.toml --locked check bans licenses sources

db_dir=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs
local_db=""
for dir in "$db_dir"/advisory-db-*; do
    if [[ -d $dir/.git ]]; then
        local_db=$dir
        break
    fi
done

echo
echo "==== advisories ===="
if [[ ${DENY_FETCH_ADVISORIES:-0} == 1 ]]; then
    cargo deny --workspace --locked check advisories
    advisories="checked against a freshly fetched database"
elif [[ -n $local_db ]]; then
    updated=$(git -C "$local_db" show -s --format=%cs HEAD 2>/dev/null || echo "unknown date")
    echo "using the local advisory database $local_db (last commit $updated), without fetching"
    cargo deny --workspace --offline --locked check advisories
    advisories="checked against the local database of $updated"
else
    advisories="SKIPPED: no advisory database in $db_dir and fetching it from GitHub was not asked for (GitHub is unreachable here); vulnerable and yanked crates were NOT checked. Set DENY_FETCH_ADVISORIES=1 where GitHub is reachable."
    echo "$advisories"
fi

echo
echo "cargo-deny: bans ok, licenses ok, sources ok (workspace and fuzz/); advisories $advisories"
