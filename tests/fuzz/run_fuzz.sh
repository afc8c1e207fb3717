#!/usr/bin/env bash
# Builds the Kafka codec fuzz targets (libFuzzer + ASan + UBSan, clang) and runs each for a
# bounded time over its committed seed corpus: fuzz_request_decode (request frames: header, then
# body by api key) for 2/3 of the time, fuzz_response_decode (api key, version, response body)
# for the rest; fuzz_record_batch (record batches, their records and every compression codec,
# impl/log) for FUZZ_BATCH_SECONDS more (default a third of FUZZ_SECONDS). Exits non-zero on
# a crash, a sanitizer report or an oracle failure; the crashing input is left in the build
# directory and named on stderr.
# fuzz_metadata_decode (metadata entries, their apply, snapshots; impl/metadata) runs for
# FUZZ_METADATA_SECONDS after them (default a third of FUZZ_SECONDS).
#
#   tests/fuzz/run_fuzz.sh                 30 s in all (FUZZ_SECONDS overrides)
#   tests/fuzz/run_fuzz.sh --seed-corpus   regenerate tests/fuzz/corpus*/ from the generated
#                                          test fillers, then exit
# Knobs: FUZZ_SECONDS, FUZZ_BATCH_SECONDS, FUZZ_CC (default clang), B (build directory,
# default build).
# Needs clang and its libFuzzer runtime (Debian: clang, libclang-rt-14-dev).
set -u
cd "$(dirname "$0")/../.."
B=${B:-build}
OUT="$B/fuzz"
CC=${FUZZ_CC:-clang}
SECONDS_TOTAL=${FUZZ_SECONDS:-30}
mkdir -p "$OUT"

SOURCES="impl/base.c impl/protocol/codec.c impl/protocol/header.c impl/protocol/api_versions.c
         impl/protocol/messages_generated.c impl/protocol/errors_generated.c"
FLAGS="-std=c17 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-function"
BATCH_SOURCES="impl/base.c impl/log/record_batch.c impl/log/crc32c.c impl/log/compression.c"
BATCH_LIBS="-lzstd -lz -llz4 -lsnappy"
METADATA_SOURCES="impl/base.c impl/protocol/codec.c impl/log/crc32c.c
                  impl/metadata/metadata_records.c impl/metadata/metadata_image.c"

if [ "${1:-}" = "--seed-corpus" ]; then
    gcc $FLAGS $SOURCES tests/fuzz/make_seed_corpus.c -o "$OUT/make_seed_corpus" || exit 1
    rm -rf tests/fuzz/corpus tests/fuzz/corpus_responses
    mkdir -p tests/fuzz/corpus tests/fuzz/corpus_responses
    "$OUT/make_seed_corpus" tests/fuzz/corpus tests/fuzz/corpus_responses || exit 1
    echo "seed corpora: $(ls tests/fuzz/corpus | wc -l) requests," \
         "$(ls tests/fuzz/corpus_responses | wc -l) responses"
    gcc $FLAGS $BATCH_SOURCES tests/fuzz/make_batch_corpus.c -o "$OUT/make_batch_corpus" \
        $BATCH_LIBS || exit 1
    rm -rf tests/fuzz/corpus_batches && mkdir -p tests/fuzz/corpus_batches
    "$OUT/make_batch_corpus" tests/fuzz/corpus_batches || exit 1
    echo "seed corpus: $(ls tests/fuzz/corpus_batches | wc -l) record batches"
    gcc $FLAGS $METADATA_SOURCES tests/fuzz/make_metadata_corpus.c \
        -o "$OUT/make_metadata_corpus" || exit 1
    rm -rf tests/fuzz/corpus_metadata && mkdir -p tests/fuzz/corpus_metadata
    "$OUT/make_metadata_corpus" tests/fuzz/corpus_metadata || exit 1
    exit 0
fi

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run_fuzz.sh: $CC not found; install clang (libFuzzer ships with it)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Builds and runs one target for the given seconds; returns non-zero on any failure. Optional
# fourth and fifth arguments: the sources it links (default $SOURCES) and libraries.
fuzz_one() {
    local name=$1 corpus=$2 seconds=$3 sources=${4:-$SOURCES} libs=${5:-}
    $CC $FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        $sources "tests/fuzz/$name.c" -o "$OUT/$name" $libs || return 1
    # New inputs go to a scratch directory; the committed corpus is only read.
    rm -rf "$OUT/$name.work" && mkdir -p "$OUT/$name.work"
    "$OUT/$name" "$OUT/$name.work" "$corpus" \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/$name-" -print_final_stats=1 >"$OUT/$name.log" 2>&1
    local status=$?
    echo "$name: $(grep -E '^stat::number_of_executed_units' "$OUT/$name.log" |
                   awk '{print $2}') runs in $seconds s"
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$OUT/$name.log"
        echo "$name: FAILED (exit $status); log $OUT/$name.log, input $OUT/$name-*" >&2
        return 1
    fi
}

passed=0
failed=0
request_seconds=$(( (SECONDS_TOTAL * 2 + 2) / 3 ))
response_seconds=$(( SECONDS_TOTAL - request_seconds > 0 ? SECONDS_TOTAL - request_seconds : 1 ))
if fuzz_one fuzz_request_decode tests/fuzz/corpus "$request_seconds"; then
    passed=$((passed + 1)); else failed=$((failed + 1)); fi
if fuzz_one fuzz_response_decode tests/fuzz/corpus_responses "$response_seconds"; then
    passed=$((passed + 1)); else failed=$((failed + 1)); fi
batch_seconds=${FUZZ_BATCH_SECONDS:-$(( SECONDS_TOTAL / 3 > 0 ? SECONDS_TOTAL / 3 : 1 ))}
if fuzz_one fuzz_record_batch tests/fuzz/corpus_batches "$batch_seconds" "$BATCH_SOURCES" \
    "$BATCH_LIBS"; then
    passed=$((passed + 1)); else failed=$((failed + 1)); fi
metadata_seconds=${FUZZ_METADATA_SECONDS:-$(( SECONDS_TOTAL / 3 > 0 ? SECONDS_TOTAL / 3 : 1 ))}
if fuzz_one fuzz_metadata_decode tests/fuzz/corpus_metadata "$metadata_seconds" \
    "$METADATA_SOURCES"; then
    passed=$((passed + 1)); else failed=$((failed + 1)); fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
