#!/usr/bin/env bash
# Builds the Debian packages apitokend and libpam-apitoken (docs/packaging.md):
#
#   bash packaging/build-debs.sh
#
# Installs cargo-deb first when it is missing, writes the manual pages and shell
# completions into target/assets/ (the gen-docs binary), builds both packages in
# release mode with cargo-deb, and prints the paths of the two .deb files on stdout,
# one per line. Everything else goes to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() {
    printf '==> %s\n' "$*" >&2
}

if ! cargo deb --version >/dev/null 2>&1; then
    log "installing cargo-deb (cargo install cargo-deb --locked)"
    cargo install cargo-deb --locked >&2
fi

# cargo-deb computes the shared-library dependencies ($auto) with dpkg-shlibdeps.
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
    if ((EUID == 0)); then
        log "installing dpkg-dev (dpkg-shlibdeps)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q dpkg-dev >&2
    else
        echo "dpkg-shlibdeps is missing: apt-get install dpkg-dev" >&2
        exit 1
    fi
fi

# Reproducible packages: file times in the .deb and the date in the manual pages come
# from the last commit, not from the clock.
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

log "manual pages and completions -> target/assets/"
rm -rf target/assets
cargo run --quiet --locked --features gen-docs --bin gen-docs -- target/assets >&2

# The PAM module goes to /lib/<multiarch>/security: x86_64 is the default asset list,
# other architectures are variants of the libpam-apitoken metadata.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
pam_variant=()
if [[ $multiarch != x86_64-linux-gnu ]]; then
    pam_variant=(--variant "$multiarch")
fi

# cargo-deb prints the path of the package it wrote on stdout. The release profile
# keeps line tables for backtraces (debug = 1); --strip leaves them out of the packages
# (use --dbgsym instead for separate -dbgsym packages).
log "cargo deb -p apitokend"
daemon_deb=$(cargo deb -p apitokend --locked --strip)
log "cargo deb -p pam_apitoken ${pam_variant[*]}"
pam_deb=$(cargo deb -p pam_apitoken --locked --strip "${pam_variant[@]}")

printf '%s\n' "$daemon_deb" "$pam_deb"
