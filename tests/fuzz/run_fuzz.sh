#!/usr/bin/env bash
# Builds the Kafka request-decoder fuzz target (libFuzzer + ASan + UBSan, clang) and runs it for
# a bounded time over the committed seed corpus. Exits non-zero on a crash, a sanitizer report
# or an oracle failure (the crashing input is left in the build directory and named on stderr).
#
#   tests/fuzz/run_fuzz.sh                 30 s (FUZZ_SECONDS overrides)
#   tests/fuzz/run_fuzz.sh --seed-corpus   regenerate tests/fuzz/corpus/ from the generated
#                                          test fillers, then exit
# Knobs: FUZZ_SECONDS, FUZZ_CC (default clang), B (build directory, default build).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
OUT="$B/fuzz"
CC=${FUZZ_CC:-clang}
SECONDS_MAX=${FUZZ_SECONDS:-30}
mkdir -p "$OUT"

SOURCES="impl/base.c impl/protocol/codec.c impl/protocol/header.c impl/protocol/api_versions.c
         impl/protocol/messages_generated.c impl/protocol/errors_generated.c"
FLAGS="-std=c17 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-function"

if [ "${1:-}" = "--seed-corpus" ]; then
    gcc $FLAGS $SOURCES tests/fuzz/make_seed_corpus.c -o "$OUT/make_seed_corpus" || exit 1
    rm -f tests/fuzz/corpus/*
    mkdir -p tests/fuzz/corpus
    "$OUT/make_seed_corpus" tests/fuzz/corpus || exit 1
    echo "seed corpus: $(ls tests/fuzz/corpus | wc -l) files in tests/fuzz/corpus/"
    exit 0
fi

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run_fuzz.sh: $CC not found; install clang (libFuzzer ships with it)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

$CC $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    $SOURCES tests/fuzz/fuzz_request_decode.c -o "$OUT/fuzz_request_decode" || {
    echo "0 passed, 1 failed"
    exit 1
}

# New inputs go to a scratch directory; the committed corpus is only read.
rm -rf "$OUT/work" && mkdir -p "$OUT/work"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$OUT/fuzz_request_decode" "$OUT/work" tests/fuzz/corpus \
    -max_total_time="$SECONDS_MAX" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$OUT/" -print_final_stats=1 >"$OUT/fuzz.log" 2>&1
status=$?
grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+ +DONE' "$OUT/fuzz.log"
if [ "$status" -ne 0 ]; then
    tail -n 40 "$OUT/fuzz.log"
    echo "fuzz_request_decode: FAILED (exit $status); log $OUT/fuzz.log, input in $OUT/" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
echo "fuzz_request_decode: ${SECONDS_MAX} s without a crash"
echo "1 passed, 0 failed"
