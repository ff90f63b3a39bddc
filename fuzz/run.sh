#!/bin/sh
# fuzz/run.sh: build the libFuzzer harnesses, run campaigns, minimize the
# saved corpora, smoke-test (ctest). See docs/robustness.md.
#
#   fuzz/run.sh build [BUILD]                 configure + build (clang, ASan+UBSan)
#   fuzz/run.sh campaign BUILD HARNESS SECS   fuzz one harness for SECS seconds;
#                                             log in BUILD/campaign/HARNESS.log
#   fuzz/run.sh merge BUILD HARNESS           minimize fuzz/corpus/HARNESS together
#                                             with what the campaigns found
#   fuzz/run.sh stats BUILD                   executions and coverage per harness
#   fuzz/run.sh smoke FUZZER HARNESS SECS WORKDIR   (ctest's fuzz.smoke_* tests)
#
# HARNESS is cnn, safetensors, npy, onnx or pipeline; BUILD defaults to build-fuzz.
# One fuzzer process at a time (the machine is shared): no -jobs/-workers.
# Campaign and smoke corpora live in the build tree: fuzz/corpus/ is only
# read, except by `merge`. Totals over several campaigns are summed by
# `stats` from every BUILD/campaign/HARNESS*.log.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

# The options every run of harness $1 uses.
fuzz_flags() {
    flags="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1"
    case "$1" in
    cnn) flags="$flags -dict=$HERE/cnn.dict -max_len=2048" ;;
    pipeline) flags="$flags -dict=$HERE/cnn.dict -max_len=4096" ;;
    onnx) flags="$flags -dict=$HERE/onnx.dict -max_len=4096" ;;
    safetensors|npy) flags="$flags -max_len=4096" ;;
    *) echo "run.sh: unknown harness '$1'" >&2; exit 2 ;;
    esac
    echo "$flags"
}

cmd_build() {
    build=${1:-$ROOT/build-fuzz}
    CC=clang cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCNNC_FUZZ=ON -DCNNC_SANITIZE=ON -DCNNC_WERROR=OFF
    cmake --build "$build" -j2
}

# The saved corpus of harness $1 without its crash-* regressions (open bugs
# would stop every run at once; ctest's replay covers them), copied to $2.
seeds() {
    rm -rf "$2"
    mkdir -p "$2"
    for f in "$HERE/corpus/$1"/*; do
        case $(basename "$f") in
        crash-*) ;;
        *) cp "$f" "$2/" ;;
        esac
    done
}

cmd_campaign() {
    build=$1 h=$2 secs=$3
    work="$build/campaign/$h"
    mkdir -p "$work" "$build/campaign/artifacts"
    seeds "$h" "$build/campaign/seeds-$h"
    n=$(ls "$build/campaign/" | grep -c "^$h.*\.log$" || true)
    log="$build/campaign/$h.$n.log"
    echo "fuzzing $h for $secs s; log $log"
    # shellcheck disable=SC2046
    "$build/fuzz/fuzz_$h" $(fuzz_flags "$h") -max_total_time="$secs" \
        -artifact_prefix="$build/campaign/artifacts/$h-" \
        "$work" "$build/campaign/seeds-$h" >"$log" 2>&1 || {
        echo "run.sh: fuzz_$h stopped with a finding, see $log" >&2
        grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz: |artifact_prefix|Test unit written)" "$log" >&2 || true
        return 1
    }
    tail -n 12 "$log" | grep -E "stat::|DONE" || true
}

# New corpus = the named files (seed-*, example-*, diag-*, hostile-*, the hand-made
# .npy/.safetensors seeds) plus what adds coverage to them from the old
# corpus and the campaign's, plus the crash-* regressions as they are.
cmd_merge() {
    build=$1 h=$2
    corpus="$HERE/corpus/$h"
    new="$build/merge/$h"
    rm -rf "$new"
    mkdir -p "$new"
    seeds "$h" "$build/merge/old-$h"
    for f in "$build/merge/old-$h"/*; do
        case $(basename "$f") in
        seed-*|example-*|diag-*|hostile-*|*.npy|*.safetensors) cp "$f" "$new/" ;;
        esac
    done
    # shellcheck disable=SC2046
    "$build/fuzz/fuzz_$h" $(fuzz_flags "$h") -merge=1 "$new" "$build/merge/old-$h" \
        "$build/campaign/$h" >"$build/merge/$h.log" 2>&1
    cp "$corpus"/crash-* "$new/" 2>/dev/null || true
    rm -f "$corpus"/*
    cp "$new"/* "$corpus/"
    echo "$h: $(ls "$corpus" | wc -l) files, $(du -sh "$corpus" | cut -f1)"
}

# Sums stat::number_of_executed_units over the campaign logs; coverage is the
# last campaign's final "cov:" (edges) and "ft:" (features).
cmd_stats() {
    build=$1
    for h in cnn safetensors npy onnx pipeline; do
        logs=$(ls "$build/campaign/$h".*.log 2>/dev/null || true)
        [ -n "$logs" ] || continue
        # shellcheck disable=SC2086
        execs=$(cat $logs | awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}')
        # shellcheck disable=SC2086
        secs=$(cat $logs | awk '/stat::number_of_executed_units/ {n++} END {print n + 0}')
        last=$(ls -t $logs | head -n 1)
        cov=$(grep -E "^#[0-9]+" "$last" | tail -n 1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1, ft \2, corpus \3/')
        echo "$h: $execs executions in $secs runs; last: $cov"
    done
}

# ctest: fuzz for SECS seconds from the saved corpus; any finding fails.
cmd_smoke() {
    fuzzer=$1 h=$2 secs=$3 work=$4
    rm -rf "${work:?}/$h"
    mkdir -p "$work/$h/corpus" "$work/$h/artifacts"
    seeds "$h" "$work/$h/seeds"
    # shellcheck disable=SC2046
    exec "$fuzzer" $(fuzz_flags "$h") -max_total_time="$secs" \
        -artifact_prefix="$work/$h/artifacts/" "$work/$h/corpus" "$work/$h/seeds"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
build) cmd_build "$@" ;;
campaign) [ $# -eq 3 ] || usage; cmd_campaign "$@" ;;
merge) [ $# -eq 2 ] || usage; cmd_merge "$@" ;;
stats) cmd_stats "${1:-$ROOT/build-fuzz}" ;;
smoke) [ $# -eq 4 ] || usage; cmd_smoke "$@" ;;
*) usage ;;
esac
