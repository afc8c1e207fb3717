/* fuzz_record_batch.c: libFuzzer target for the record batch decoder (impl/log/record_batch.c)
 * and the codecs behind it (impl/log/compression.c): the code that judges the bytes a producer
 * sends and the bytes recovery reads back from a segment.
 *
 * An input is one flags byte, then bytes read as a sequence of batches, as in a Produce
 * request's Records or a .log segment. Flags: bit 0 recomputes each batch's CRC before
 * validation, so that mutations reach the records and the compressed payloads instead of
 * stopping at the checksum; bits 1..2 pick the decompression room (1 MiB, 4 KiB, 64 bytes,
 * none) so the "too small to tell" paths run too.
 *
 * Each batch goes through batch_size_peek, batch_header_decode and batch_validate; a compressed
 * one through batch_records_decompress; the records of whatever validates are walked with
 * record_iterator_next and record_header_next. Besides "no crash, no over-read" (ASan, UBSan),
 * the oracles are:
 *   - agreement: a compressed batch whose records decompress and validate must, rewritten
 *     uncompressed (same header, records in the clear, CRC recomputed), pass batch_validate,
 *     and the reverse: a validating uncompressed batch compressed with each codec must
 *     validate and decompress back to exactly its records;
 *   - round trip: the records of a valid batch rebuilt with batch_builder give the same keys,
 *     values, headers, timestamps and offset deltas.
 * Any violation aborts, which libFuzzer reports as a crash.
 *
 * Built and run by tests/fuzz/run_fuzz.sh (clang -fsanitize=fuzzer,address,undefined); seeds in
 * tests/fuzz/corpus_batches/, written by make_batch_corpus.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/log/compression.h"
#include "../../impl/log/crc32c.h"
#include "../../impl/log/record_batch.h"

#define FUZZ_SCRATCH_SIZE (1u << 20)
#define FUZZ_BATCH_SIZE_MAX (1u << 20)
#define FUZZ_RECORDS_MAX 4096u

static u8 scratch[FUZZ_SCRATCH_SIZE];
static u8 batch_copy[FUZZ_BATCH_SIZE_MAX];
static u8 rewritten[FUZZ_BATCH_SIZE_MAX + RECORD_BATCH_HEADER_SIZE];
static u8 compressed[2 * FUZZ_BATCH_SIZE_MAX];
static u8 decompressed[FUZZ_SCRATCH_SIZE];
static u8 rebuilt[2 * FUZZ_BATCH_SIZE_MAX];
static volatile u8 sink; /* Bytes the views name are read into it, so ASan sees an over-read. */

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz oracle: %s\n", what);
    abort();
}

static u64 fuzz_scratch_capacity(u8 flags)
{
    static const u64 capacities[4] = {FUZZ_SCRATCH_SIZE, 4096, 64, 0};
    return capacities[(flags >> 1) & 3u];
}

/* Walks every record and header; returns the number of records, or -1 on a decode error. */
static i64 fuzz_walk(const u8 *records, u64 size, const struct record_batch_header *header)
{
    struct record_iterator iterator;
    record_iterator_init(&iterator, records, size, (u32)header->RecordCount);
    for (i64 count = 0;; count++) {
        struct record_view record;
        bool more = false;
        if (record_iterator_next(&iterator, &record, &more) != BATCH_OK) return -1;
        if (!more) return count;
        if (record.KeyLength > 0) sink ^= record.Key[record.KeyLength - 1];
        if (record.ValueLength > 0) sink ^= record.Value[record.ValueLength - 1];
        u64 position = 0;
        for (i32 h = 0; h < record.HeaderCount; h++) {
            struct record_header_view view;
            if (record_header_next(&record, &position, &view) != BATCH_OK) return -1;
            if (view.KeyLength > 0) sink ^= view.Key[view.KeyLength - 1];
            if (view.ValueLength > 0) sink ^= view.Value[view.ValueLength - 1];
        }
    }
}

static bool fuzz_bytes_equal(const u8 *a, i32 a_length, const u8 *b, i32 b_length)
{
    if ((a == NULL) != (b == NULL) || a_length != b_length) return false;
    return a == NULL || a_length <= 0 || memcmp(a, b, (size_t)a_length) == 0;
}

/* Rebuilds the records of a valid uncompressed batch with the builder and compares both. */
static void fuzz_rebuild(const u8 *batch, u64 batch_size, const struct record_batch_header *header)
{
    static struct record_header_input inputs[FUZZ_RECORDS_MAX];
    struct batch_builder builder;
    batch_builder_init(&builder, rebuilt, sizeof(rebuilt), 0, header->BaseTimestamp);
    struct record_iterator iterator;
    record_iterator_init(&iterator, batch + RECORD_BATCH_HEADER_SIZE,
                         batch_size - RECORD_BATCH_HEADER_SIZE, (u32)header->RecordCount);
    for (;;) {
        struct record_view record;
        bool more = false;
        if (record_iterator_next(&iterator, &record, &more) != BATCH_OK) {
            fuzz_fail("a validated batch does not iterate");
        }
        if (!more) break;
        if ((u32)record.HeaderCount > FUZZ_RECORDS_MAX) return; /* Too many to compare here. */
        u64 position = 0;
        for (i32 h = 0; h < record.HeaderCount; h++) {
            struct record_header_view view;
            if (record_header_next(&record, &position, &view) != BATCH_OK) {
                fuzz_fail("a validated batch's headers do not decode");
            }
            inputs[h] = (struct record_header_input){view.Key, view.KeyLength, view.Value,
                                                     view.ValueLength};
        }
        /* The fuzzer picks timestamps near the ends of the range: a sum that overflows has
         * no timestamp the builder could encode (producers never write one). */
        i64 timestamp = 0;
        if (__builtin_add_overflow(header->BaseTimestamp, record.TimestampDelta, &timestamp)) {
            return;
        }
        batch_builder_add(&builder, timestamp, record.Key, record.KeyLength, record.Value,
                          record.ValueLength, inputs, (u32)record.HeaderCount);
    }
    u64 size = batch_builder_finish(&builder);
    if (size == 0) fuzz_fail("the builder cannot rebuild a valid batch");
    struct record_batch_header again;
    if (batch_validate(rebuilt, size, &again) != BATCH_OK) fuzz_fail("a rebuilt batch is invalid");
    if (again.RecordCount != header->RecordCount) fuzz_fail("rebuilt record count differs");
    struct record_iterator first, second;
    record_iterator_init(&first, batch + RECORD_BATCH_HEADER_SIZE,
                         batch_size - RECORD_BATCH_HEADER_SIZE, (u32)header->RecordCount);
    record_iterator_init(&second, rebuilt + RECORD_BATCH_HEADER_SIZE,
                         size - RECORD_BATCH_HEADER_SIZE, (u32)again.RecordCount);
    for (;;) {
        struct record_view a, b;
        bool more_a = false, more_b = false;
        if (record_iterator_next(&first, &a, &more_a) != BATCH_OK ||
            record_iterator_next(&second, &b, &more_b) != BATCH_OK) {
            fuzz_fail("a batch stopped iterating");
        }
        if (more_a != more_b) fuzz_fail("rebuilt record count differs");
        if (!more_a) break;
        if (a.TimestampDelta != b.TimestampDelta || a.OffsetDelta != b.OffsetDelta ||
            !fuzz_bytes_equal(a.Key, a.KeyLength, b.Key, b.KeyLength) ||
            !fuzz_bytes_equal(a.Value, a.ValueLength, b.Value, b.ValueLength) ||
            a.HeaderCount != b.HeaderCount) {
            fuzz_fail("a rebuilt record differs");
        }
        u64 position_a = 0, position_b = 0;
        for (i32 h = 0; h < a.HeaderCount; h++) {
            struct record_header_view x, y;
            if (record_header_next(&a, &position_a, &x) != BATCH_OK ||
                record_header_next(&b, &position_b, &y) != BATCH_OK ||
                !fuzz_bytes_equal(x.Key, x.KeyLength, y.Key, y.KeyLength) ||
                !fuzz_bytes_equal(x.Value, x.ValueLength, y.Value, y.ValueLength)) {
                fuzz_fail("a rebuilt header differs");
            }
        }
    }
}

/* A valid uncompressed batch, compressed with every codec, validates and decompresses back to
 * exactly its records. */
static void fuzz_compress_each(const u8 *batch, u64 batch_size)
{
    u64 records_size = batch_size - RECORD_BATCH_HEADER_SIZE;
    for (u32 codec = RECORD_COMPRESSION_GZIP; codec <= RECORD_COMPRESSION_ZSTD; codec++) {
        u64 size = batch_compress(batch, batch_size, (enum record_compression)codec, compressed,
                                  sizeof(compressed));
        if (size == 0) fuzz_fail("a small batch does not compress");
        struct record_batch_header header;
        if (batch_validate(compressed, size, &header) != BATCH_OK) {
            fuzz_fail("a compressed batch is invalid");
        }
        u64 out_size = 0;
        enum batch_error error = batch_records_decompress(compressed, size, &header, decompressed,
                                                         sizeof(decompressed), &out_size);
        if (error != BATCH_OK) fuzz_fail("a compressed batch does not decompress");
        if (out_size != records_size ||
            memcmp(decompressed, batch + RECORD_BATCH_HEADER_SIZE, records_size) != 0) {
            fuzz_fail("decompression does not give back the records");
        }
    }
}

/* The records of a compressed batch, decompressed and checked, written out as an uncompressed
 * batch with the same header: batch_validate must agree. */
static void fuzz_agree(const u8 *batch, const u8 *records, u64 records_size)
{
    u64 size = RECORD_BATCH_HEADER_SIZE + records_size;
    if (size > sizeof(rewritten) || size - RECORD_BATCH_LOG_OVERHEAD > INT32_MAX) return;
    memcpy(rewritten, batch, RECORD_BATCH_HEADER_SIZE);
    memcpy(rewritten + RECORD_BATCH_HEADER_SIZE, records, records_size);
    store_u32_be(rewritten + RECORD_BATCH_LENGTH_OFFSET, (u32)(size - RECORD_BATCH_LOG_OVERHEAD));
    u16 attributes = load_u16_be(rewritten + RECORD_BATCH_CRC_START);
    store_u16_be(rewritten + RECORD_BATCH_CRC_START,
                 (u16)(attributes & ~RECORD_ATTRIBUTE_COMPRESSION_MASK));
    store_u32_be(rewritten + RECORD_BATCH_CRC_OFFSET,
                 crc32c(rewritten + RECORD_BATCH_CRC_START, size - RECORD_BATCH_CRC_START));
    struct record_batch_header header;
    if (batch_validate(rewritten, size, &header) != BATCH_OK) {
        fuzz_fail("decompressed records pass, the same records uncompressed do not");
    }
}

/* One batch at the start of bytes; returns its size, or 0 when no batch can be framed. */
static u64 fuzz_one_batch(const u8 *bytes, u64 size, u8 flags)
{
    u64 batch_size = 0;
    if (batch_size_peek(bytes, size, &batch_size) != BATCH_OK) return 0;
    struct record_batch_header header;
    if (batch_header_decode(bytes, size, &header) != BATCH_OK) return 0;
    if (batch_size > size || batch_size > sizeof(batch_copy)) return 0;
    memcpy(batch_copy, bytes, batch_size); /* Exactly the batch: ASan bounds it. */
    if (flags & 1u) {
        store_u32_be(batch_copy + RECORD_BATCH_CRC_OFFSET,
                     crc32c(batch_copy + RECORD_BATCH_CRC_START,
                            batch_size - RECORD_BATCH_CRC_START));
    }
    if (batch_validate(batch_copy, batch_size, &header) != BATCH_OK) return batch_size;
    u32 codec = (u32)header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK;
    if (codec == RECORD_COMPRESSION_NONE) {
        i64 count = fuzz_walk(batch_copy + RECORD_BATCH_HEADER_SIZE,
                              batch_size - RECORD_BATCH_HEADER_SIZE, &header);
        if (count != header.RecordCount) fuzz_fail("a validated batch does not walk");
        fuzz_rebuild(batch_copy, batch_size, &header);
        if (batch_size <= 64u * 1024u) fuzz_compress_each(batch_copy, batch_size);
        return batch_size;
    }
    u64 capacity = fuzz_scratch_capacity(flags);
    u64 records_size = 0;
    enum batch_error error = batch_records_decompress(batch_copy, batch_size, &header, scratch,
                                                     capacity, &records_size);
    if (error != BATCH_OK) return batch_size;
    if (records_size > capacity) fuzz_fail("decompressed past the room given");
    if (fuzz_walk(scratch, records_size, &header) != header.RecordCount) {
        fuzz_fail("decompressed records validated but do not walk");
    }
    fuzz_agree(batch_copy, scratch, records_size);
    return batch_size;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
    if (size < 1) return 0;
    u8 flags = data[0];
    u64 position = 1;
    while (position < size) {
        u64 used = fuzz_one_batch(data + position, size - position, flags);
        if (used == 0) break;
        position += used;
    }
    return 0;
}
