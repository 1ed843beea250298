#!/usr/bin/env bash
# Installs the Debian packages on this machine, checks them, and purges them again:
#
#   bash tests/package-install.sh [APITOKEND_DEB LIBPAM_APITOKEN_DEB]
#
# Without arguments it builds both packages with packaging/build-debs.sh. It needs root
# and a Debian system. It checks the files at their SPEC section 2 paths, validates the
# shipped configuration with the installed daemon, starts the installed daemon in the
# foreground exactly as the shipped unit's ExecStart= does (with a temporary runtime
# and state directory when /run/apitokend is already in use), creates a token with the
# installed apitoken command, verifies it through check.sock with the installed
# apitoken-external, and finally purges both packages and checks that nothing is left.
#
# It refuses to run where apitokend is already installed, because the purge at the end
# deletes /var/lib/apitokend; set APITOKEND_PACKAGE_TEST_REPLACE=1 to allow it.
# Every run leaves the machine as it found it, so it can be run again at once.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

passed=0
failed=0
daemon_pid=
tmp=
group_created=0
run_created=0

ok() {
    passed=$((passed + 1))
    printf 'ok - %s\n' "$*"
}

not_ok() {
    failed=$((failed + 1))
    printf 'not ok - %s\n' "$*"
    exit 1
}

# check DESCRIPTION COMMAND...: runs COMMAND quietly and records the result.
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi
}

# Predicates for check.
matches() {
    [[ $1 =~ $2 ]]
}

mode_is() {
    [[ $(stat -c %a "$1") == "$2" ]]
}

lacks() {
    ! grep -q "$1" "$2"
}

is_conffile() {
    # shellcheck disable=SC2016 # ${Conffiles} is a dpkg-query field, not a variable.
    dpkg-query -W -f='${Conffiles}\n' apitokend | grep -q " $1 "
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

known() {
    dpkg-query -W -f='${Status}' "$1" >/dev/null 2>&1 &&
        ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'not-installed'
}

cleanup() {
    local status=$?
    set +e
    if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null
    fi
    if known libpam-apitoken || known apitokend; then
        dpkg --purge libpam-apitoken apitokend >/dev/null 2>&1 ||
            echo "warning: dpkg --purge libpam-apitoken apitokend failed" >&2
    fi
    if ((group_created)) && getent group apitoken-admin >/dev/null; then
        groupdel apitoken-admin
    fi
    if ((run_created)) && [[ -d /run/apitokend ]]; then
        rm -rf /run/apitokend
    fi
    [[ -n $tmp ]] && rm -rf "$tmp"
    printf '\npackage-install: %d passed, %d failed\n' "$passed" "$failed"
    exit "$status"
}

if ((EUID != 0)); then
    echo "tests/package-install.sh installs packages: run it as root" >&2
    exit 1
fi
if ! command -v dpkg >/dev/null; then
    echo "tests/package-install.sh needs a Debian system (dpkg)" >&2
    exit 1
fi
if { known apitokend || known libpam-apitoken; } && [[ ${APITOKEND_PACKAGE_TEST_REPLACE:-} != 1 ]]; then
    echo "apitokend is already installed here; this test purges it at the end, which" >&2
    echo "deletes /var/lib/apitokend. Set APITOKEND_PACKAGE_TEST_REPLACE=1 to go ahead." >&2
    exit 1
fi

if (($# == 2)); then
    daemon_deb=$1
    pam_deb=$2
elif (($# == 0)); then
    echo "building the packages (packaging/build-debs.sh)"
    built=$(bash packaging/build-debs.sh)
    mapfile -t debs <<<"$built"
    daemon_deb=${debs[0]:-}
    pam_deb=${debs[1]:-}
else
    echo "usage: $0 [APITOKEND_DEB LIBPAM_APITOKEN_DEB]" >&2
    exit 2
fi

tmp=$(mktemp -d /tmp/apitokend-package-test.XXXXXX)
getent group apitoken-admin >/dev/null || group_created=1
[[ -e /run/apitokend ]] || run_created=1
trap cleanup EXIT

echo "== install: $daemon_deb $pam_deb"
check "packages are files" test -f "$daemon_deb" -a -f "$pam_deb"
if ! dpkg -i "$daemon_deb" "$pam_deb" >"$tmp/dpkg.log" 2>&1; then
    echo "dpkg -i left dependencies unresolved; apt-get -f install"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -f install -y -q >>"$tmp/dpkg.log" 2>&1 ||
        { cat "$tmp/dpkg.log"; not_ok "install the packages"; }
fi
check "apitokend is installed" installed apitokend
check "libpam-apitoken is installed" installed libpam-apitoken

echo "== files (SPEC section 2)"
check "daemon /usr/sbin/apitokend" test -x /usr/sbin/apitokend
check "command line /usr/bin/apitoken" test -x /usr/bin/apitoken
check "Apache helper /usr/lib/apitokend/apitoken-external" test -x /usr/lib/apitokend/apitoken-external
pam_so=$(dpkg -L libpam-apitoken | grep '/security/pam_apitoken\.so$' || true)
check "PAM module at /lib/<multiarch>/security ($pam_so)" \
    matches "$pam_so" '^/lib/[a-z0-9_]+-linux-[a-z0-9_]+/security/pam_apitoken\.so$'
check "PAM module file exists" test -f "$pam_so"
check "PAM module exports pam_sm_authenticate" grep -q pam_sm_authenticate "$pam_so"
check "configuration /etc/apitokend/apitokend.toml is a conffile" \
    is_conffile /etc/apitokend/apitokend.toml
check "PAM service /etc/pam.d/apitokend is a conffile" is_conffile /etc/pam.d/apitokend
check "PAM service /etc/pam.d/apitokend" test -f /etc/pam.d/apitokend
check "pam-auth-update profile /usr/share/pam-configs/apitoken" test -f /usr/share/pam-configs/apitoken
check "the profile is off by default (common-auth unchanged)" \
    lacks pam_apitoken /etc/pam.d/common-auth
for unit in apitokend.service apitokend.socket apitokend-check.socket apitokend-admin.socket apitokend-web.socket; do
    check "systemd unit /lib/systemd/system/$unit" test -f "/lib/systemd/system/$unit"
done
for page in man8/apitokend.8 man1/apitoken.1 man8/apitoken-external.8 man1/apitoken-create.1; do
    check "manual page /usr/share/man/$page.gz" test -f "/usr/share/man/$page.gz"
done
check "bash completion" test -f /usr/share/bash-completion/completions/apitoken
check "zsh completion" test -f /usr/share/zsh/vendor-completions/_apitoken
check "fish completion" test -f /usr/share/fish/vendor_completions.d/apitoken.fish
check "nginx example" test -f /usr/share/doc/apitokend/examples/nginx/apitokend.conf
check "Apache example" test -f /usr/share/doc/apitokend/examples/apache/apitoken.conf
check "Apache WebDAV example" test -f /usr/share/doc/apitokend/examples/apache/apitoken-webdav.conf
check "group apitoken-admin exists" getent group apitoken-admin
check "state directory /var/lib/apitokend is mode 0700" mode_is /var/lib/apitokend 700

echo "== configuration"
check "apitokend --config /etc/apitokend/apitokend.toml --check-config" \
    /usr/sbin/apitokend --config /etc/apitokend/apitokend.toml --check-config

echo "== daemon, started as the unit's ExecStart= does"
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/apitokend.service | tail -n 1)
# Leading "-", "@", "+", "!" are systemd prefixes, not part of the command.
exec_start=${exec_start#[-@+!:]}
read -r -a argv <<<"$exec_start"
check "ExecStart= runs /usr/sbin/apitokend ($exec_start)" test "${argv[0]}" = /usr/sbin/apitokend
run=/run/apitokend
if [[ -S $run/admin.sock || -S $run/check.sock || -S $run/http.sock ]]; then
    # Another apitokend (the system's own, started by the socket units) owns the
    # directory: run this one on temporary directories, with a database of its own.
    run=$tmp/run
    printf 'state_dir = "%s"\nruntime_dir = "%s"\n' "$tmp/state" "$run" >"$tmp/apitokend.toml"
    for i in "${!argv[@]}"; do
        [[ ${argv[$i]} == /etc/apitokend/apitokend.toml ]] && argv[i]=$tmp/apitokend.toml
    done
    echo "/run/apitokend has sockets of another apitokend: runtime directory $run"
fi
"${argv[@]}" >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
deadline=$((SECONDS + 20))
until /usr/bin/apitoken --socket "$run/admin.sock" status >/dev/null 2>&1; do
    if ! kill -0 "$daemon_pid" 2>/dev/null || ((SECONDS > deadline)); then
        cat "$tmp/daemon.log"
        not_ok "daemon answers on $run/admin.sock"
    fi
    sleep 0.1
done
ok "daemon answers on $run/admin.sock (${argv[*]})"

echo "== token"
token=$(/usr/bin/apitoken --socket "$run/admin.sock" create --name package-test --expires 1d)
check "apitoken create prints a token" matches "$token" '^atk_[0-9A-Za-z]{8}_[0-9A-Za-z]{38}$'
id=${token:4:8}
lists_id() {
    /usr/bin/apitoken --socket "$run/admin.sock" list --json | grep -q "\"$1\""
}
check "apitoken list shows it" lists_id "$id"

external() {
    local user=$1 secret=$2
    printf '%s\n%s\n' "$user" "$secret" |
        IP=127.0.0.1 URI=/package-test /usr/lib/apitokend/apitoken-external --socket "$run/check.sock"
}
expect_exit() {
    local want=$1 got=0
    shift
    "$@" || got=$?
    [[ $got == "$want" ]]
}
user=$(id -un)
check "apitoken-external accepts the token for $user (exit 0)" expect_exit 0 external "$user" "$token"
check "apitoken-external refuses it for another user (exit 1)" expect_exit 1 external nobody "$token"
bad=${token%?}$([[ ${token: -1} == 0 ]] && echo 1 || echo 0)
check "apitoken-external refuses a mistyped token (exit 1)" expect_exit 1 external "$user" "$bad"
check "apitoken delete $id" /usr/bin/apitoken --socket "$run/admin.sock" delete "$id"
check "apitoken-external refuses the deleted token (exit 1)" expect_exit 1 external "$user" "$token"

kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
check "daemon exits 0 on SIGTERM" test "$status" = 0

echo "== purge"
check "dpkg --purge libpam-apitoken apitokend" dpkg --purge libpam-apitoken apitokend
for path in /usr/sbin/apitokend /usr/bin/apitoken /usr/lib/apitokend "$pam_so" /etc/apitokend \
    /etc/pam.d/apitokend /usr/share/pam-configs/apitoken /var/lib/apitokend \
    /lib/systemd/system/apitokend.service; do
    check "gone: $path" test ! -e "$path"
done
check "common-auth does not name pam_apitoken" lacks pam_apitoken /etc/pam.d/common-auth
