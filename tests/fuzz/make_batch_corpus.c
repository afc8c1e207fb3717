/* make_batch_corpus.c: writes the seed corpus of fuzz_record_batch (tests/fuzz/corpus_batches/):
 * valid record batches built with batch_builder and compressed with batch_compress, each file
 * a flags byte (see fuzz_record_batch.c) and then one or more batches. Seeds cover every codec
 * (none, gzip, snappy, lz4, zstd), null keys and values, empty values, record headers (null
 * header values too), a transactional producer's batch, timestamps before the base, two
 * batches back to back, and a batch too large for the small decompression rooms.
 * Deterministic: running it again rewrites the same files. Test tooling, so it may write files.
 *
 * Usage (see run_fuzz.sh --seed-corpus): make_batch_corpus DIRECTORY */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/log/compression.h"
#include "../../impl/log/record_batch.h"

#define SEED_SIZE_MAX (256u * 1024u)

static u8 plain[SEED_SIZE_MAX];
static u8 packed[SEED_SIZE_MAX];
static u8 seed[SEED_SIZE_MAX];

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static int write_seed(const char *directory, const char *name, const u8 *bytes, u64 size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", directory, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        fprintf(stderr, "make_batch_corpus: cannot write %s\n", path);
        return 1;
    }
    size_t written = fwrite(bytes, 1, (size_t)size, file);
    return fclose(file) != 0 || written != size;
}

/* The shapes of batch a seed holds. */
enum seed_shape {
    SHAPE_KEYED,        /* Keys, values, two headers each (one with a null value). */
    SHAPE_NULLS,        /* Null keys, null and empty values, no headers. */
    SHAPE_TRANSACTIONAL,/* A producer id, epoch and sequence; transactional attribute. */
    SHAPE_LARGE,        /* 100 records of 600 bytes: more than the small rooms hold. */
    SHAPE_COUNT
};

static const char *const shape_names[] = {"keyed", "nulls", "transactional", "large"};

/* Builds one uncompressed batch of the shape into plain; returns its size. */
static u64 build_plain(enum seed_shape shape)
{
    struct batch_builder builder;
    batch_builder_init(&builder, plain, sizeof(plain), 0, 1700000000000);
    if (shape == SHAPE_TRANSACTIONAL) batch_builder_producer(&builder, 4000, 3, 17, true);
    u32 count = shape == SHAPE_LARGE ? 100 : 5;
    static u8 value[600];
    for (u32 i = 0; i < count; i++) {
        char key[32];
        int key_length = snprintf(key, sizeof(key), "key-%u", i);
        for (u32 b = 0; b < sizeof(value); b++) value[b] = (u8)('a' + (i * 7 + b) % 26);
        /* Timestamps go back and forth around the base, as producers' clocks do. */
        i64 timestamp = 1700000000000 + (i64)(i % 3) * 1000 - (i == 4 ? 5000 : 0);
        if (shape == SHAPE_NULLS) {
            const u8 *maybe = i % 2 == 0 ? NULL : value;
            batch_builder_add(&builder, timestamp, NULL, -1, maybe, i % 2 == 0 ? -1 : 0, NULL,
                              0);
            continue;
        }
        struct record_header_input headers[2] = {
            {(const u8 *)"trace", 5, (const u8 *)"abc", 3},
            {(const u8 *)"empty", 5, NULL, -1},
        };
        u32 value_length = shape == SHAPE_LARGE ? 600u : 10u + i;
        batch_builder_add(&builder, timestamp, (const u8 *)key, key_length, value,
                          (i32)value_length, headers, shape == SHAPE_KEYED ? 2u : 0u);
    }
    return batch_builder_finish(&builder);
}

/* The batch of a shape with a codec, in packed; returns its size (0 on failure). */
static u64 build_batch(enum seed_shape shape, u32 codec)
{
    u64 size = build_plain(shape);
    if (size == 0) return 0;
    if (codec == RECORD_COMPRESSION_NONE) {
        memcpy(packed, plain, size);
        return size;
    }
    return batch_compress(plain, size, (enum record_compression)codec, packed, sizeof(packed));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_batch_corpus DIRECTORY\n");
        return 2;
    }
    int failures = 0;
    for (u32 shape = 0; shape < SHAPE_COUNT; shape++) {
        for (u32 codec = RECORD_COMPRESSION_NONE; codec <= RECORD_COMPRESSION_ZSTD; codec++) {
            u64 size = build_batch((enum seed_shape)shape, codec);
            if (size == 0 || size + 1 > sizeof(seed)) {
                fprintf(stderr, "make_batch_corpus: %s/%s did not build\n", shape_names[shape],
                        codec_names[codec]);
                failures++;
                continue;
            }
            /* Flags: CRC repair on, and the large batch with the 4 KiB room. */
            seed[0] = shape == SHAPE_LARGE ? 0x03 : 0x01;
            memcpy(seed + 1, packed, size);
            char name[64];
            snprintf(name, sizeof(name), "%s-%s", shape_names[shape], codec_names[codec]);
            failures += write_seed(argv[1], name, seed, size + 1);
        }
    }
    /* Two batches back to back (a zstd one after a plain one), CRCs as built. */
    u64 first = build_batch(SHAPE_KEYED, RECORD_COMPRESSION_NONE);
    seed[0] = 0x00;
    memcpy(seed + 1, packed, first);
    u64 second = build_batch(SHAPE_NULLS, RECORD_COMPRESSION_ZSTD);
    if (first == 0 || second == 0 || 1 + first + second > sizeof(seed)) return 1;
    memcpy(seed + 1 + first, packed, second);
    failures += write_seed(argv[1], "two-batches", seed, 1 + first + second);
    return failures == 0 ? 0 : 1;
}
