#!/usr/bin/env bash
# Runs every fuzz target for a short while, starting from the committed seeds, and prints
# how many inputs each one executed. Exits non-zero if any target crashes, hangs or fails
# to build. See docs/fuzzing.md.
#
#   bash fuzz/run.sh                      # about 30 s per target, all targets
#   bash fuzz/run.sh check_request        # only the named targets
#   FUZZ_SECONDS=600 bash fuzz/run.sh     # the long run (10 minutes per target)
#   FUZZ_CORPUS=keep bash fuzz/run.sh     # grow fuzz/corpus/<target> instead of a temp dir
#
# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer, sancov); on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets rustc accept them. Targets run one at a time, single
# job, at the lowest CPU priority, so the machine stays usable.
set -euo pipefail

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$fuzz_dir"

seconds=${FUZZ_SECONDS:-30}
all_targets=(token_parse authorization_header check_request admin_request config_parse)
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=("${all_targets[@]}")
fi

# Inputs larger than the protocol limits are refused before parsing, so longer ones
# explore nothing new: check.sock frames are at most 8 KiB (plus the 4-byte prefix),
# admin.sock requests 64 KiB.
max_len() {
    case $1 in
        check_request) echo 8196 ;;
        admin_request) echo 65540 ;;
        *) echo 4096 ;;
    esac
}

export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi

for target in "${targets[@]}"; do
    if [[ ! -f fuzz_targets/$target.rs ]]; then
        echo "unknown target $target; targets: ${all_targets[*]}" >&2
        exit 2
    fi
done

echo "==== building the fuzz targets (address sanitizer, debug assertions) ===="
if ((${#targets[@]} == 1)); then
    nice -n 19 cargo fuzz build "${targets[0]}"
else
    nice -n 19 cargo fuzz build
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

summary=()
failed=()
for target in "${targets[@]}"; do
    if [[ ${FUZZ_CORPUS:-} == keep ]]; then
        corpus=corpus/$target
    else
        corpus=$scratch/corpus-$target
    fi
    mkdir -p "$corpus" "artifacts/$target"
    log=$scratch/$target.log
    echo
    echo "==== $target: ${seconds}s from seeds/$target ===="
    options=(-max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10
        -print_final_stats=1)
    if [[ -f dict/$target.dict ]]; then
        options+=(-dict="dict/$target.dict")
    fi
    status=0
    # New inputs go to the first directory; the seeds directory is only read.
    nice -n 19 cargo fuzz run "$target" "$corpus" "seeds/$target" -- "${options[@]}" \
        >"$log" 2>&1 || status=$?

    # libFuzzer's last progress line: "#<runs> DONE cov: <edges> ft: <features> corp: <n>/<size> ...".
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    execs=$(grep -Eo '^stat::number_of_executed_units:[[:space:]]+[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
    per_sec=$(grep -Eo '^stat::average_exec_per_sec:[[:space:]]+[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
    corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
    if [[ -z $execs && -n $done_line ]]; then
        execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$done_line")
    fi

    if ((status == 0)) && [[ -n $done_line ]]; then
        echo "$done_line"
        result=ok
    else
        failed+=("$target")
        result="FAILED (exit $status)"
        # The panic and its message, libFuzzer's verdict and the saved input; the whole
        # log only when none of those is there (a build error, say).
        if ! grep -m 1 -A 1 "panicked at" "$log"; then
            tail -n 40 "$log"
        fi
        grep -E "^==[0-9]+== ?ERROR|^SUMMARY|Test unit written to|^error(\[|:)" "$log" |
            head -n 10 || true
        artifact=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
        if [[ -n $artifact ]]; then
            echo "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run $target $artifact   (in fuzz/)"
        fi
    fi
    summary+=("$(printf '%-22s %12s %9s %7s %7s  %s' "$target" "${execs:-?}" "${per_sec:-?}" \
        "${cov:-?}" "${corp:-?}" "$result")")
done

echo
echo "==== fuzzing summary (${seconds}s per target) ===="
printf '%-22s %12s %9s %7s %7s  %s\n' target executions execs/s cov corpus result
printf '%s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
    echo "fuzzing FAILED: ${failed[*]} (inputs saved under fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "all ${#targets[@]} targets ran without a crash"
