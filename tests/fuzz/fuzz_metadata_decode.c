/* fuzz_metadata_decode.c: libFuzzer target for metadata entries, apply and snapshots.
 *
 * An input is a quorum entry payload as a node reads it from the metadata log. It is decoded
 * (impl/metadata/metadata_records.c); what decodes is applied, record by record, to a small
 * image with brokers, topics and partitions (so changes have something to hit), and the
 * image's invariants are ASSERTed by apply itself. An input that starts like a snapshot (magic,
 * METADATA_SNAPSHOT_VERSION) gets its trailing CRC32C recomputed, so the fuzzer explores the
 * loader's parsing rather than the checksum, and is loaded.
 *
 * Oracles besides "no crash, no over-read" (ASan, UBSan): the entry encoding is canonical (what
 * decodes re-encodes to the input's exact bytes); a rejected record leaves the image unchanged;
 * an image saves, loads and saves again to identical bytes with the same digest. Any
 * violation aborts, which libFuzzer reports as a crash.
 *
 * Built and run by tests/fuzz/run_fuzz.sh (clang -fsanitize=fuzzer,address,undefined). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/log/crc32c.h"
#include "../../impl/metadata/metadata.h"

#define FUZZ_SNAPSHOT_SIZE (2u << 20)

static struct metadata_record records[METADATA_ENTRY_RECORDS_MAX];
static u8 reencoded[METADATA_ENTRY_SIZE_MAX];
static u8 snapshot_base[FUZZ_SNAPSHOT_SIZE];
static u32 snapshot_base_size;
static u8 snapshot_first[FUZZ_SNAPSHOT_SIZE];
static u8 snapshot_second[FUZZ_SNAPSHOT_SIZE];
static bool ready;
static struct metadata_image image;
static struct metadata_image image_again;
static struct metadata_image image_before;

static void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz oracle: %s\n", what);
    abort();
}

static void apply_or_fail(struct metadata_image *target, i64 offset,
                          struct metadata_record record)
{
    if (!metadata_image_apply(target, offset, &record)) fuzz_fail("base image record rejected");
}

/* Brokers 1..3 on two racks, topics "a" (ids 1..) and "b" with partitions, a config, a
 * broker config: uuids are all bytes k for topic k, so short inputs can name them. */
static void build_base_image(void)
{
    /* image_before is only ever a struct copy of image: it owns no memory. */
    if (!metadata_image_init(&image) || !metadata_image_init(&image_again)) {
        fuzz_fail("out of memory");
    }
    i64 offset = 0;
    struct metadata_record record;
    for (i32 id = 1; id <= 3; id++) {
        memset(&record, 0, sizeof(record));
        record.type = METADATA_REGISTER_BROKER;
        record.as.register_broker.broker_id = id;
        snprintf(record.as.register_broker.rack, METADATA_RACK_MAX, "r%d", (int)(id % 2));
        snprintf(record.as.register_broker.host, METADATA_HOST_MAX, "h%d", (int)id);
        record.as.register_broker.port = 9092;
        apply_or_fail(&image, offset++, record);
    }
    for (u8 t = 1; t <= 2; t++) {
        memset(&record, 0, sizeof(record));
        record.type = METADATA_TOPIC;
        record.as.topic.name[0] = (char)('a' + t - 1);
        memset(record.as.topic.topic_id.bytes, t, 16);
        apply_or_fail(&image, offset++, record);
        for (i32 p = 0; p < 3; p++) {
            memset(&record, 0, sizeof(record));
            record.type = METADATA_PARTITION;
            memset(record.as.partition.topic_id.bytes, t, 16);
            record.as.partition.partition_id = p;
            record.as.partition.replicas = (struct metadata_ids){{1, 2, 3}, 3};
            record.as.partition.isr = (struct metadata_ids){{1, 2}, 2};
            record.as.partition.leader = 1 + p % 2;
            apply_or_fail(&image, offset++, record);
        }
    }
    memset(&record, 0, sizeof(record));
    record.type = METADATA_CONFIG;
    record.as.config.resource_type = METADATA_RESOURCE_TOPIC;
    snprintf(record.as.config.resource_name, sizeof(record.as.config.resource_name), "a");
    snprintf(record.as.config.name, sizeof(record.as.config.name), "retention.ms");
    snprintf(record.as.config.value, sizeof(record.as.config.value), "1");
    apply_or_fail(&image, offset++, record);
    record.as.config.resource_type = METADATA_RESOURCE_BROKER;
    record.as.config.resource_name[0] = '\0';
    apply_or_fail(&image, offset, record);
    metadata_image_applied(&image, offset);
    snapshot_base_size = metadata_image_save(&image, snapshot_base, sizeof(snapshot_base));
    if (snapshot_base_size == 0) fuzz_fail("base snapshot does not fit");
}

/* save -> load -> save must give the same bytes and digest. */
static void check_snapshot_stable(const struct metadata_image *source)
{
    u32 size = metadata_image_save(source, snapshot_first, sizeof(snapshot_first));
    if (size == 0 || size != metadata_image_snapshot_size(source)) fuzz_fail("snapshot size");
    if (!metadata_image_load(&image_again, snapshot_first, size)) fuzz_fail("own snapshot");
    if (image_again.digest != source->digest) fuzz_fail("digest lost by a snapshot");
    u32 size_again = metadata_image_save(&image_again, snapshot_second, sizeof(snapshot_second));
    if (size_again != size || memcmp(snapshot_first, snapshot_second, size) != 0) {
        fuzz_fail("save(load(save(x))) differs from save(x)");
    }
}

static void fuzz_entry(const u8 *data, u32 size)
{
    u32 count = 0;
    enum metadata_decode_result result = metadata_decode(data, size, records,
                                                         METADATA_ENTRY_RECORDS_MAX, &count);
    if (result != METADATA_DECODED) {
        if (count != 0) fuzz_fail("count set on a failed decode");
        if (result == METADATA_FOREIGN && size > 0 && data[0] == METADATA_ENTRY_MAGIC) {
            fuzz_fail("magic reported FOREIGN");
        }
        return;
    }
    u32 again = metadata_encode(records, count, reencoded, sizeof(reencoded));
    if (again != size || memcmp(reencoded, data, size) != 0) {
        fuzz_fail("encode(decode(x)) differs from x");
    }
    if (!metadata_image_load(&image, snapshot_base, snapshot_base_size)) fuzz_fail("base load");
    i64 offset = image.applied_offset + 1;
    for (u32 i = 0; i < count; i++) {
        memcpy(&image_before, &image, sizeof(image));
        /* Two records per offset: some entries hold several records. */
        if (!metadata_image_apply(&image, offset + i / 2, &records[i]) &&
            memcmp(&image_before, &image, sizeof(image)) != 0) {
            fuzz_fail("a rejected record changed the image");
        }
    }
    metadata_image_check(&image);
    check_snapshot_stable(&image);
}

static void fuzz_snapshot(const u8 *data, u32 size)
{
    /* A valid checksum, so the loader's parsing is what gets explored; an exact-size copy,
     * so ASan sees any read past the end. */
    u8 *copy = malloc(size);
    if (copy == NULL) fuzz_fail("out of memory");
    memcpy(copy, data, size);
    if (size >= 4) store_u32_be(copy + size - 4, crc32c(copy, size - 4));
    bool loaded = metadata_image_load(&image, copy, size);
    free(copy);
    if (!loaded) {
        if (image.topic_count != 0 || image.broker_count != 0 || image.applied_offset != -1) {
            fuzz_fail("a failed load left content behind");
        }
        return;
    }
    check_snapshot_stable(&image);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
    if (size > FUZZ_SNAPSHOT_SIZE) return 0;
    if (!ready) {
        build_base_image();
        ready = true;
    }
    const u8 *bytes = size == 0 ? NULL : data;
    fuzz_entry(bytes, (u32)size);
    if (size >= 2 && data[0] == METADATA_ENTRY_MAGIC && data[1] == METADATA_SNAPSHOT_VERSION) {
        fuzz_snapshot(data, (u32)size);
    }
    return 0;
}
