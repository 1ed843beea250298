# Shared by benches/fleet.sh, benches/million.sh and benches/cli-scale.sh, sourced with
# `source benches/fleet-db.sh`: the work directory of a private daemon (fleet_setup), and
# a realistic fleet of tokens inserted into its database (fleet_insert).
# shellcheck shell=bash

# fleet_setup NAME [PROFILE]: builds the binaries (cargo profile PROFILE, release by
# default), makes the work directory DIR (/tmp/apitokend-NAME.*, removed on exit unless
# KEEP=1) with the daemon's config (syslog off, the caller's primary group as admin
# group, so `list --all` works without root), and sets BIN, SOCK, DB and APITOKEN (the
# command line on the daemon's socket). stop_daemon stops the daemon that the caller
# started with its pid in DAEMON_PID.
fleet_setup() {
    local root target profile=${2:-release}
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    target=${CARGO_TARGET_DIR:-$root/target}
    echo "building ($profile)..." >&2
    cargo build --quiet --manifest-path "$root/Cargo.toml" --profile "$profile" \
        --bin apitokend --bin apitoken
    BIN="$target/$profile"
    if [ "$profile" = dev ]; then BIN="$target/debug"; fi
    DIR=$(mktemp -d -t "apitokend-$1.XXXXXX")
    SOCK="$DIR/run/admin.sock"
    DB="$DIR/state/tokens.db"
    APITOKEN=("$BIN/apitoken" --socket "$SOCK")
    DAEMON_PID=
    trap fleet_cleanup EXIT
    cat >"$DIR/apitokend.toml" <<EOF
state_dir = "$DIR/state"
runtime_dir = "$DIR/run"
admin_group = "$(id -gn)"

[syslog]
enabled = false
EOF
}

stop_daemon() {
    if [ -n "$DAEMON_PID" ]; then
        kill "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
        DAEMON_PID=
    fi
}

fleet_cleanup() {
    stop_daemon
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $DIR" >&2; else rm -rf "$DIR"; fi
}

# fleet_insert DB N USERS NOW: inserts N token rows for USERS people plus service
# accounts into DB in one transaction (the database must already hold at least one
# token of an owner named svc-real-*, made by `apitoken create`: every row borrows its
# verifier, so rows carry a verifier of the current format), then runs ANALYZE.
#
# Row n gets id = n * 2654435761 mod 2^32 in hex: a bijection, so ids are unique, and 8
# hex digits are valid base62 ids. Owners are skewed (a few people hold many tokens; 5%
# are service accounts), creation times span three years, 30% were never used, a
# quarter never expire (3% fall due within two weeks), a fifth have NULL scopes (from
# before scopes), 2% were rotated away.
fleet_insert() {
local DB=$1 N=$2 USERS=$3 NOW=$4
sqlite3 -batch "$DB" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
BEGIN;
CREATE TEMP TABLE names(i INTEGER PRIMARY KEY, name TEXT);
INSERT INTO names(name) VALUES
  ('ci deploy'), ('laptop'), ('backup job'), ('grafana'), ('jenkins'), ('terraform'),
  ('monitoring'), ('desktop'), ('release bot'), ('nightly build'), ('phone'), ('scraper');
CREATE TEMP TABLE scopes(i INTEGER PRIMARY KEY, scopes TEXT);
INSERT INTO scopes(i, scopes) VALUES
  (1, NULL), (2, 'read'), (3, 'read,write'), (4, 'read,write,login'), (5, 'login'),
  (6, 'read'), (7, 'read,write,login'), (8, 'write'), (9, 'read,login'), (10, 'read,write');
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $N),
rows AS MATERIALIZED (
  SELECT n,
    printf('%08X', (n * 2654435761) % 4294967296) AS id,
    -- Skewed owners: a few people hold many tokens; 5% are service accounts.
    CASE WHEN n % 20 = 0 THEN printf('svc-%03d', n % 97)
         ELSE printf('user%04d', ((abs(random()) % $USERS) * (abs(random()) % $USERS)) / $USERS)
    END AS owner,
    abs(random()) % 12 + 1 AS name_i,
    abs(random()) % 10 + 1 AS scope_i,
    $NOW - abs(random()) % (3 * 365 * 86400) AS created_at,
    abs(random()) % 100 AS r_used,
    abs(random()) % 100 AS r_exp,
    abs(random()) % 100 AS r_rot,
    abs(random()) AS r
  FROM seq
)
INSERT INTO tokens (id, owner, name, hash, created_at, created_by, expires_at,
    last_used_at, last_used_ip, scopes, paths, networks, revoke_at, rotated_to, last_ips)
SELECT
  rows.id,
  rows.owner,
  names.name || ' ' || (rows.n % 1000),
  (SELECT hash FROM tokens WHERE owner LIKE 'svc-real-%' LIMIT 1),
  rows.created_at,
  CASE WHEN rows.n % 3 = 0 THEN 'root' ELSE rows.owner END,
  CASE
    WHEN rows.r_exp < 25 THEN NULL
    -- 3% fall due within two weeks, the rest 6 months to 2 years after creation.
    WHEN rows.r_exp < 28 THEN $NOW + rows.r % (14 * 86400)
    ELSE rows.created_at + (1 + rows.r % 4) * 182 * 86400
  END,
  CASE WHEN rows.r_used < 30 THEN NULL
       ELSE rows.created_at + rows.r % ($NOW - rows.created_at + 1) END,
  CASE WHEN rows.r_used < 30 THEN NULL
       ELSE printf('10.%d.%d.%d', rows.r % 256, (rows.r / 256) % 256, (rows.r / 65536) % 256) END,
  scopes.scopes,
  CASE WHEN rows.n % 50 = 0 THEN '/api/ci/' ELSE '' END,
  CASE WHEN rows.n % 40 = 0 THEN '10.0.0.0/8' ELSE '' END,
  CASE WHEN rows.r_rot < 2 THEN rows.created_at + 86400 ELSE NULL END,
  CASE WHEN rows.r_rot < 2 THEN printf('%08X', (rows.n * 2654435761 + 1) % 4294967296) ELSE NULL END,
  CASE WHEN rows.r_used < 30 THEN ''
       ELSE printf('10.%d.%d.%d', rows.r % 256, (rows.r / 256) % 256, (rows.r / 65536) % 256) END
FROM rows
JOIN names ON names.i = rows.name_i
JOIN scopes ON scopes.i = rows.scope_i;
COMMIT;
ANALYZE;
SQL
}
