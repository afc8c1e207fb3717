/* test_metadata.c: metadata records (encode/decode), the image they build, and snapshots. */
#include "test.h"

#include "../../impl/log/crc32c.h"
#include "../../impl/metadata/metadata.h"
#include "../../impl/prng.h"

#define ENTRY_BUFFER_SIZE (64u * 1024u)
#define SNAPSHOT_BUFFER_SIZE (2u * 1024u * 1024u)

static u8 entry_buffer[ENTRY_BUFFER_SIZE];
static u8 entry_buffer_again[ENTRY_BUFFER_SIZE];
static struct metadata_record decoded[METADATA_ENTRY_RECORDS_MAX];

/* ===== Record builders ===== */

static struct metadata_uuid uuid_of(u32 seed)
{
    struct metadata_uuid uuid;
    for (u32 i = 0; i < 16; i++) uuid.bytes[i] = (u8)(seed * 31u + i * 7u + 1u);
    return uuid;
}

static struct metadata_ids ids_of(u32 count, const i32 *ids)
{
    struct metadata_ids list;
    memset(&list, 0, sizeof(list));
    list.count = count;
    for (u32 i = 0; i < count; i++) list.ids[i] = ids[i];
    return list;
}

static struct metadata_record register_broker(i32 id, const char *rack)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_REGISTER_BROKER;
    struct metadata_register_broker *r = &record.as.register_broker;
    r->broker_id = id;
    r->broker_epoch = 1234;
    r->incarnation_id = uuid_of((u32)id + 1000u);
    snprintf(r->rack, sizeof(r->rack), "%s", rack);
    snprintf(r->host, sizeof(r->host), "broker-%d.example", (int)id);
    r->port = 9092 + id;
    r->fenced = true;
    return record;
}

static struct metadata_record broker_ref(enum metadata_record_type type, i32 id, i64 epoch)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = type;
    struct metadata_broker_ref ref = {id, epoch};
    if (type == METADATA_UNREGISTER_BROKER) record.as.unregister_broker = ref;
    else if (type == METADATA_FENCE_BROKER) record.as.fence_broker = ref;
    else record.as.unfence_broker = ref;
    return record;
}

static struct metadata_record registration_change(i32 id, i64 epoch, i8 fenced, i8 shutdown)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_BROKER_REGISTRATION_CHANGE;
    record.as.registration_change = (struct metadata_broker_registration_change){
        id, epoch, fenced, shutdown};
    return record;
}

static struct metadata_record topic_record(const char *name, u32 id_seed)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_TOPIC;
    snprintf(record.as.topic.name, sizeof(record.as.topic.name), "%s", name);
    record.as.topic.topic_id = uuid_of(id_seed);
    return record;
}

static struct metadata_record partition_record(u32 id_seed, i32 partition_id, u32 replica_count,
                                               const i32 *replicas, i32 leader)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_PARTITION;
    struct metadata_partition_record *p = &record.as.partition;
    p->topic_id = uuid_of(id_seed);
    p->partition_id = partition_id;
    p->replicas = ids_of(replica_count, replicas);
    p->isr = ids_of(replica_count, replicas);
    p->leader = leader;
    return record;
}

static struct metadata_record partition_change(u32 id_seed, i32 partition_id, i32 leader)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_PARTITION_CHANGE;
    record.as.partition_change.topic_id = uuid_of(id_seed);
    record.as.partition_change.partition_id = partition_id;
    record.as.partition_change.leader = leader;
    return record;
}

static struct metadata_record config_record(i8 resource_type, const char *resource,
                                            const char *name, const char *value)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_CONFIG;
    struct metadata_config_record *c = &record.as.config;
    c->resource_type = resource_type;
    snprintf(c->resource_name, sizeof(c->resource_name), "%s", resource);
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->value_null = value == NULL;
    if (value != NULL) snprintf(c->value, sizeof(c->value), "%s", value);
    return record;
}

static struct metadata_record remove_topic(u32 id_seed)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_REMOVE_TOPIC;
    record.as.remove_topic.topic_id = uuid_of(id_seed);
    return record;
}

static struct metadata_record producer_ids(i64 next)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_PRODUCER_IDS;
    record.as.producer_ids = (struct metadata_producer_ids){3, 77, next};
    return record;
}

static struct metadata_record no_op(void)
{
    struct metadata_record record;
    memset(&record, 0, sizeof(record));
    record.type = METADATA_NO_OP;
    return record;
}

/* One record of every type, with every optional part present somewhere. */
static u32 every_type(struct metadata_record *records)
{
    static const i32 three[] = {1, 2, 3};
    static const i32 two[] = {4, 5};
    u32 n = 0;
    records[n++] = register_broker(1, "rack-a");
    records[n] = register_broker(2, "");
    records[n].as.register_broker.in_controlled_shutdown = true;
    records[n++].as.register_broker.fenced = false;
    records[n++] = broker_ref(METADATA_UNREGISTER_BROKER, 7, -1);
    records[n++] = broker_ref(METADATA_FENCE_BROKER, 1, INT64_MAX);
    records[n++] = broker_ref(METADATA_UNFENCE_BROKER, 1, 5);
    records[n++] = registration_change(1, 5, -1, 1);
    records[n++] = topic_record("orders", 1);
    /* The longest strings every field allows. */
    records[n] = topic_record("", 2);
    memset(records[n++].as.topic.name, 'x', METADATA_TOPIC_NAME_MAX);
    records[n++] = partition_record(1, 0, 3, three, 2);
    records[n] = partition_record(1, 1, 3, three, -1);
    records[n].as.partition.removing = ids_of(1, three);
    records[n].as.partition.adding = ids_of(2, two);
    records[n].as.partition.leader_epoch = 9;
    records[n++].as.partition.partition_epoch = INT32_MAX;
    records[n++] = partition_change(1, 0, METADATA_LEADER_UNCHANGED);
    records[n] = partition_change(1, 1, 3);
    records[n].as.partition_change.isr_set = true;
    records[n].as.partition_change.isr = ids_of(1, three + 2);
    records[n].as.partition_change.adding_set = true; /* An empty list is a list too. */
    records[n].as.partition_change.replicas_set = true;
    records[n].as.partition_change.replicas = ids_of(2, two);
    records[n].as.partition_change.removing_set = true;
    records[n++].as.partition_change.removing = ids_of(3, three);
    records[n++] = remove_topic(1);
    records[n++] = config_record(METADATA_RESOURCE_TOPIC, "orders", "retention.ms", "1000");
    records[n++] = config_record(METADATA_RESOURCE_TOPIC, "orders", "cleanup.policy", NULL);
    records[n] = config_record(METADATA_RESOURCE_BROKER, "", "", "");
    memset(records[n].as.config.resource_name, 'r', METADATA_TOPIC_NAME_MAX);
    memset(records[n].as.config.name, 'n', METADATA_CONFIG_NAME_MAX - 1);
    memset(records[n++].as.config.value, 'v', METADATA_CONFIG_VALUE_MAX - 1);
    records[n++] = producer_ids(INT64_MAX);
    records[n++] = no_op();
    return n;
}

/* ===== Encode and decode ===== */

TEST(every_record_type_round_trips)
{
    struct metadata_record records[32];
    u32 count = every_type(records);
    u32 size = metadata_encode(records, count, entry_buffer, sizeof(entry_buffer));
    REQUIRE(size > 4);
    CHECK(entry_buffer[0] == METADATA_ENTRY_MAGIC);
    CHECK(entry_buffer[1] == METADATA_ENTRY_VERSION);
    u32 decoded_count = 0;
    REQUIRE(metadata_decode(entry_buffer, size, decoded, METADATA_ENTRY_RECORDS_MAX,
                            &decoded_count) == METADATA_DECODED);
    REQUIRE(decoded_count == count);
    for (u32 i = 0; i < count; i++) {
        if (memcmp(&records[i], &decoded[i], sizeof(records[i])) != 0) {
            fprintf(stderr, "  record %u (type %d) differs after decoding\n", i,
                    (int)records[i].type);
            CHECK(false);
        }
    }
    u32 size_again = metadata_encode(decoded, decoded_count, entry_buffer_again,
                                     sizeof(entry_buffer_again));
    CHECK(size_again == size && memcmp(entry_buffer, entry_buffer_again, size) == 0);

    /* Each record alone, too, and an entry with no record at all. */
    for (u32 i = 0; i < count; i++) {
        u32 one = metadata_encode(&records[i], 1, entry_buffer, sizeof(entry_buffer));
        REQUIRE(one > 4);
        CHECK(metadata_decode(entry_buffer, one, decoded, 1, &decoded_count) ==
              METADATA_DECODED);
        CHECK(decoded_count == 1 && memcmp(&records[i], &decoded[0], sizeof(records[i])) == 0);
    }
    u32 empty = metadata_encode(NULL, 0, entry_buffer, sizeof(entry_buffer));
    CHECK(empty == 4);
    CHECK(metadata_decode(entry_buffer, empty, decoded, 0, &decoded_count) == METADATA_DECODED);
    CHECK(decoded_count == 0);
}

TEST(a_full_entry_round_trips)
{
    static struct metadata_record records[METADATA_ENTRY_RECORDS_MAX];
    static u8 big[METADATA_ENTRY_SIZE_MAX];
    struct metadata_record kinds[32];
    u32 kind_count = every_type(kinds);
    for (u32 i = 0; i < METADATA_ENTRY_RECORDS_MAX; i++) records[i] = kinds[i % kind_count];
    u32 size = metadata_encode(records, METADATA_ENTRY_RECORDS_MAX, big, sizeof(big));
    REQUIRE(size > 0);
    u32 count = 0;
    CHECK(metadata_decode(big, size, decoded, METADATA_ENTRY_RECORDS_MAX, &count) ==
          METADATA_DECODED);
    CHECK(count == METADATA_ENTRY_RECORDS_MAX);
    CHECK(memcmp(records, decoded, sizeof(records)) == 0);
    /* A caller with room for fewer records gets MALFORMED, never an overflow. */
    CHECK(metadata_decode(big, size, decoded, METADATA_ENTRY_RECORDS_MAX - 1, &count) ==
          METADATA_MALFORMED);
    CHECK(count == 0);
}

/* Decodes a private copy of exactly size bytes, so ASan sees any read past the end. */
static enum metadata_decode_result decode_exact(const u8 *bytes, u32 size, u32 *count)
{
    u8 *copy = malloc(size == 0 ? 1 : size);
    ASSERT(copy != NULL);
    if (size > 0) memcpy(copy, bytes, size);
    enum metadata_decode_result result =
        metadata_decode(size == 0 ? NULL : copy, size, decoded, METADATA_ENTRY_RECORDS_MAX,
                        count);
    free(copy);
    return result;
}

TEST(every_truncation_is_malformed)
{
    struct metadata_record records[32];
    u32 count = every_type(records);
    u32 size = metadata_encode(records, count, entry_buffer, sizeof(entry_buffer));
    REQUIRE(size > 0);
    u32 decoded_count = 99;
    CHECK(decode_exact(entry_buffer, 0, &decoded_count) == METADATA_FOREIGN);
    CHECK(decoded_count == 0);
    for (u32 length = 1; length < size; length++) {
        decoded_count = 99;
        if (decode_exact(entry_buffer, length, &decoded_count) != METADATA_MALFORMED) {
            fprintf(stderr, "  a prefix of %u of %u bytes was not MALFORMED\n", length, size);
            CHECK(false);
        }
        CHECK(decoded_count == 0);
    }
    CHECK(decode_exact(entry_buffer, size, &decoded_count) == METADATA_DECODED);
}

TEST(bit_flips_never_crash_and_what_decodes_is_canonical)
{
    struct metadata_record records[32];
    u32 count = every_type(records);
    u32 size = metadata_encode(records, count, entry_buffer, sizeof(entry_buffer));
    REQUIRE(size > 0);
    static u8 flipped[ENTRY_BUFFER_SIZE];
    u32 outcomes[3] = {0};
    for (u32 bit = 0; bit < size * 8; bit++) {
        memcpy(flipped, entry_buffer, size);
        flipped[bit / 8] ^= (u8)(1u << (bit % 8));
        u32 decoded_count = 0;
        enum metadata_decode_result result = decode_exact(flipped, size, &decoded_count);
        outcomes[result]++;
        if (result != METADATA_DECODED) continue;
        /* The encoding is canonical: what decodes re-encodes to the very same bytes. */
        u32 again = metadata_encode(decoded, decoded_count, entry_buffer_again,
                                    sizeof(entry_buffer_again));
        CHECK(again == size && memcmp(entry_buffer_again, flipped, size) == 0);
    }
    CHECK(outcomes[METADATA_FOREIGN] == 8); /* Exactly the flips of the magic byte. */
    CHECK(outcomes[METADATA_MALFORMED] > 0);
    CHECK(outcomes[METADATA_DECODED] > 0); /* Flips inside ids and strings still decode. */

    /* Random garbage, half of it behind a valid header. */
    struct prng prng = prng_stream(42, 1);
    for (u32 round = 0; round < 20000; round++) {
        u32 length = (u32)prng_below(&prng, 300);
        for (u32 i = 0; i < length; i++) flipped[i] = (u8)prng_next(&prng);
        if (length >= 4 && round % 2 == 0) {
            flipped[0] = METADATA_ENTRY_MAGIC;
            flipped[1] = METADATA_ENTRY_VERSION;
            flipped[2] = 0;
            flipped[3] = (u8)prng_below(&prng, 4);
        }
        u32 decoded_count = 0;
        if (decode_exact(flipped, length, &decoded_count) == METADATA_DECODED) {
            u32 again = metadata_encode(decoded, decoded_count, entry_buffer_again,
                                        sizeof(entry_buffer_again));
            CHECK(again == length && memcmp(entry_buffer_again, flipped, length) == 0);
        }
    }
}

TEST(foreign_and_malformed_headers)
{
    u32 count = 7;
    const u8 quorum_payload[] = {'a', 'p', 'p', 'e', 'n', 'd'};
    CHECK(metadata_decode(quorum_payload, sizeof(quorum_payload), decoded, 8, &count) ==
          METADATA_FOREIGN);
    CHECK(count == 0);
    CHECK(metadata_decode(NULL, 0, decoded, 8, &count) == METADATA_FOREIGN);
    const u8 magic_only[] = {METADATA_ENTRY_MAGIC};
    CHECK(metadata_decode(magic_only, 1, decoded, 8, &count) == METADATA_MALFORMED);
    const u8 other_version[] = {METADATA_ENTRY_MAGIC, 2, 0, 0};
    CHECK(metadata_decode(other_version, 4, decoded, 8, &count) == METADATA_MALFORMED);
    const u8 snapshot_header[] = {METADATA_ENTRY_MAGIC, METADATA_SNAPSHOT_VERSION, 0, 0};
    CHECK(metadata_decode(snapshot_header, 4, decoded, 8, &count) == METADATA_MALFORMED);
    const u8 too_many[] = {METADATA_ENTRY_MAGIC, METADATA_ENTRY_VERSION, 0x02, 0x01};
    CHECK(metadata_decode(too_many, 4, decoded, METADATA_ENTRY_RECORDS_MAX, &count) ==
          METADATA_MALFORMED);
    const u8 unknown_type[] = {METADATA_ENTRY_MAGIC, METADATA_ENTRY_VERSION, 0, 1, 6, 0};
    CHECK(metadata_decode(unknown_type, 6, decoded, 8, &count) == METADATA_MALFORMED);
    const u8 future_record[] = {METADATA_ENTRY_MAGIC, METADATA_ENTRY_VERSION, 0, 1, 20, 1};
    CHECK(metadata_decode(future_record, 6, decoded, 8, &count) == METADATA_MALFORMED);
    const u8 no_op_entry[] = {METADATA_ENTRY_MAGIC, METADATA_ENTRY_VERSION, 0, 1, 20, 0};
    CHECK(metadata_decode(no_op_entry, 6, decoded, 8, &count) == METADATA_DECODED);
    CHECK(count == 1 && decoded[0].type == METADATA_NO_OP);
    const u8 trailing[] = {METADATA_ENTRY_MAGIC, METADATA_ENTRY_VERSION, 0, 1, 20, 0, 0};
    CHECK(metadata_decode(trailing, 7, decoded, 8, &count) == METADATA_MALFORMED);
    CHECK(count == 0);
    /* A bool that is neither 0 nor 1, and a NUL inside a string. */
    struct metadata_record record = register_broker(1, "r");
    u32 size = metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer));
    REQUIRE(size > 0);
    entry_buffer[size - 1] = 2;
    CHECK(metadata_decode(entry_buffer, size, decoded, 8, &count) == METADATA_MALFORMED);
    record = topic_record("ab", 1);
    size = metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer));
    REQUIRE(size > 0);
    entry_buffer[4 + 2 + 1 + 1] = 0; /* Header, type and version, length, then 'b'. */
    CHECK(metadata_decode(entry_buffer, size, decoded, 8, &count) == METADATA_MALFORMED);
    /* Larger than any entry may be, even if the bytes would parse. */
    static u8 huge[METADATA_ENTRY_SIZE_MAX + 1];
    huge[0] = METADATA_ENTRY_MAGIC;
    huge[1] = METADATA_ENTRY_VERSION;
    CHECK(metadata_decode(huge, sizeof(huge), decoded, 8, &count) == METADATA_MALFORMED);
}

TEST(encode_rejects_invalid_records_and_small_buffers)
{
    struct metadata_record record = register_broker(1, "r");
    memset(record.as.register_broker.rack, 'x', sizeof(record.as.register_broker.rack));
    CHECK(metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer)) == 0);
    static const i32 ids[] = {1, 2, 3};
    record = partition_record(1, 0, 3, ids, 1);
    record.as.partition.isr.count = METADATA_REPLICAS_MAX + 1;
    CHECK(metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer)) == 0);
    record = partition_change(1, 0, 1);
    record.as.partition_change.adding.count = METADATA_REPLICAS_MAX + 1; /* Not set: ignored. */
    CHECK(metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer)) > 0);
    record.as.partition_change.adding_set = true;
    CHECK(metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer)) == 0);
    record = registration_change(1, 1, 2, 0);
    CHECK(metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer)) == 0);
    record = config_record(3, "t", "n", "v");
    CHECK(metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer)) == 0);
    record.type = (enum metadata_record_type)6;
    CHECK(metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer)) == 0);

    struct metadata_record records[32];
    u32 count = every_type(records);
    u32 size = metadata_encode(records, count, entry_buffer, sizeof(entry_buffer));
    REQUIRE(size > 0);
    for (u32 capacity = 0; capacity < size; capacity++) {
        CHECK(metadata_encode(records, count, entry_buffer_again, capacity) == 0);
    }
    CHECK(metadata_encode(records, count, entry_buffer_again, size) == size);
}

/* ===== The image ===== */

/* A copy of an image's content, partitions included, to prove a rejection changed nothing. */
struct image_copy {
    struct metadata_image image;
    struct metadata_partition partitions[METADATA_TOPICS_MAX][METADATA_PARTITIONS_MAX];
};

static void image_copy_take(struct image_copy *copy, const struct metadata_image *image)
{
    memcpy(&copy->image, image, sizeof(*image));
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) {
        memcpy(copy->partitions[i], image->topics[i].partitions, sizeof(copy->partitions[i]));
    }
}

static bool image_copy_same(const struct image_copy *copy, const struct metadata_image *image)
{
    if (memcmp(&copy->image, image, sizeof(*image)) != 0) return false;
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) {
        if (memcmp(copy->partitions[i], image->topics[i].partitions,
                   sizeof(copy->partitions[i])) != 0) {
            return false;
        }
    }
    return true;
}

static struct image_copy scratch_copy;

/* Applies a record that must be rejected, and checks that nothing at all changed. */
static bool rejected_untouched(struct metadata_image *image, i64 offset,
                               struct metadata_record record)
{
    image_copy_take(&scratch_copy, image);
    if (metadata_image_apply(image, offset, &record)) return false;
    return image_copy_same(&scratch_copy, image);
}

static bool apply_ok(struct metadata_image *image, i64 offset, struct metadata_record record)
{
    u64 digest = image->digest;
    if (!metadata_image_apply(image, offset, &record)) return false;
    return image->digest != digest;
}

static struct metadata_image image_a;
static struct metadata_image image_b;

TEST(brokers_register_fence_and_unregister)
{
    REQUIRE(metadata_image_init(&image_a));
    struct metadata_image *image = &image_a;
    CHECK(image->applied_offset == -1 && image->broker_count == 0 && image->digest == 0);
    static const i32 order[] = {5, 1, 9, 3, 7};
    for (u32 i = 0; i < ARRAY_LEN(order); i++) {
        CHECK(apply_ok(image, 10 + i, register_broker(order[i], "r")));
    }
    REQUIRE(image->broker_count == 5);
    for (u32 i = 1; i < image->broker_count; i++) {
        CHECK(image->brokers[i - 1].id < image->brokers[i].id);
    }
    const struct metadata_broker *five = metadata_broker_find(image, 5);
    REQUIRE(five != NULL);
    CHECK(five->epoch == 10); /* The offset, not the record's broker_epoch. */
    CHECK(five->fenced && !five->in_controlled_shutdown && five->port == 9097);
    CHECK(strcmp(five->host, "broker-5.example") == 0 && strcmp(five->rack, "r") == 0);
    CHECK(metadata_broker_find(image, 4) == NULL);

    CHECK(rejected_untouched(image, 20, broker_ref(METADATA_UNFENCE_BROKER, 5, 11)));
    CHECK(rejected_untouched(image, 20, broker_ref(METADATA_UNFENCE_BROKER, 4, 10)));
    CHECK(apply_ok(image, 20, broker_ref(METADATA_UNFENCE_BROKER, 5, 10)));
    CHECK(!metadata_broker_find(image, 5)->fenced);
    CHECK(apply_ok(image, 21, broker_ref(METADATA_FENCE_BROKER, 5, 10)));
    CHECK(metadata_broker_find(image, 5)->fenced);

    CHECK(apply_ok(image, 22, registration_change(5, 10, 0, 1)));
    CHECK(!metadata_broker_find(image, 5)->fenced);
    CHECK(metadata_broker_find(image, 5)->in_controlled_shutdown);
    CHECK(apply_ok(image, 23, registration_change(5, 10, 1, -1)));
    CHECK(metadata_broker_find(image, 5)->fenced);
    CHECK(metadata_broker_find(image, 5)->in_controlled_shutdown);
    CHECK(apply_ok(image, 24, registration_change(5, 10, -1, 0)));
    CHECK(!metadata_broker_find(image, 5)->in_controlled_shutdown);
    CHECK(rejected_untouched(image, 25, registration_change(5, 9, 0, 0)));

    /* A re-registration replaces the broker and its epoch; the old epoch is now stale. */
    struct metadata_record again = register_broker(5, "other");
    again.as.register_broker.fenced = false;
    CHECK(apply_ok(image, 30, again));
    CHECK(image->broker_count == 5);
    CHECK(metadata_broker_find(image, 5)->epoch == 30);
    CHECK(strcmp(metadata_broker_find(image, 5)->rack, "other") == 0);
    CHECK(rejected_untouched(image, 31, broker_ref(METADATA_UNREGISTER_BROKER, 5, 10)));
    CHECK(apply_ok(image, 31, broker_ref(METADATA_UNREGISTER_BROKER, 5, 30)));
    CHECK(metadata_broker_find(image, 5) == NULL && image->broker_count == 4);
    CHECK(rejected_untouched(image, 32, broker_ref(METADATA_UNREGISTER_BROKER, 5, 30)));

    /* Ids and ports a broker cannot have. */
    CHECK(rejected_untouched(image, 33, register_broker(-1, "r")));
    struct metadata_record bad_port = register_broker(2, "r");
    bad_port.as.register_broker.port = 70000;
    CHECK(rejected_untouched(image, 33, bad_port));

    /* A full table. */
    for (i32 id = 100; image->broker_count < METADATA_BROKERS_MAX; id++) {
        CHECK(apply_ok(image, 1000 + id, register_broker(id, "")));
    }
    CHECK(rejected_untouched(image, 5000, register_broker(99, "")));
    CHECK(apply_ok(image, 5000, register_broker(100, ""))); /* Replacing needs no room. */
    metadata_image_check(image);
    metadata_image_free(image);
}

TEST(topics_and_partitions)
{
    REQUIRE(metadata_image_init(&image_a));
    struct metadata_image *image = &image_a;
    static const i32 replicas[] = {1, 2, 3};
    i64 offset = 1;
    CHECK(apply_ok(image, offset++, topic_record("orders", 1)));
    CHECK(rejected_untouched(image, offset, topic_record("orders", 2)));   /* Name taken. */
    CHECK(rejected_untouched(image, offset, topic_record("payments", 1))); /* Id taken. */
    CHECK(rejected_untouched(image, offset, topic_record("", 3)));
    struct metadata_record zero_id = topic_record("zero", 0);
    memset(&zero_id.as.topic.topic_id, 0, sizeof(zero_id.as.topic.topic_id));
    CHECK(rejected_untouched(image, offset, zero_id));
    const struct metadata_topic *orders = metadata_topic_find(image, "orders", 6);
    REQUIRE(orders != NULL);
    CHECK(orders->partition_count == 0);
    struct metadata_uuid id = uuid_of(1);
    CHECK(metadata_topic_find_id(image, &id) == orders);
    CHECK(metadata_topic_find(image, "order", 5) == NULL);
    CHECK(metadata_topic_find(image, "ordersx", 7) == NULL);

    CHECK(rejected_untouched(image, offset, partition_record(1, 1, 3, replicas, 1)));
    CHECK(rejected_untouched(image, offset, partition_record(9, 0, 3, replicas, 1)));
    CHECK(rejected_untouched(image, offset, partition_record(1, 0, 3, replicas, 4)));
    CHECK(rejected_untouched(image, offset, partition_record(1, 0, 0, replicas, -1)));
    struct metadata_record bad = partition_record(1, 0, 3, replicas, 1);
    bad.as.partition.replicas.ids[2] = 1; /* Twice. */
    bad.as.partition.isr.ids[2] = 1;
    CHECK(rejected_untouched(image, offset, bad));
    bad = partition_record(1, 0, 3, replicas, 1);
    bad.as.partition.isr.ids[2] = 1; /* Twice in the ISR only. */
    CHECK(rejected_untouched(image, offset, bad));
    bad = partition_record(1, 0, 3, replicas, 1);
    bad.as.partition.isr.ids[0] = 8; /* Not a replica. */
    CHECK(rejected_untouched(image, offset, bad));
    bad = partition_record(1, 0, 3, replicas, 1);
    bad.as.partition.adding = ids_of(1, replicas);
    bad.as.partition.removing = ids_of(1, replicas); /* Both adding and removing. */
    CHECK(rejected_untouched(image, offset, bad));
    bad = partition_record(1, 0, 3, replicas, 1);
    bad.as.partition.leader_epoch = -1;
    CHECK(rejected_untouched(image, offset, bad));
    bad = partition_record(1, 0, 3, replicas, 1);
    bad.as.partition.replicas.ids[0] = -3;
    bad.as.partition.isr.count = 0;
    CHECK(rejected_untouched(image, offset, bad));

    CHECK(apply_ok(image, offset++, partition_record(1, 0, 3, replicas, 1)));
    CHECK(apply_ok(image, offset++, partition_record(1, 1, 3, replicas, -1)));
    REQUIRE(orders->partition_count == 2);
    CHECK(orders->partitions[0].leader == 1 && orders->partitions[1].leader == -1);
    CHECK(orders->partitions[0].isr.count == 3);
    CHECK(metadata_ids_contains(&orders->partitions[0].replicas, 3));
    CHECK(!metadata_ids_contains(&orders->partitions[0].replicas, 4));

    /* PartitionChange: the leader field bumps the leader epoch (even the same leader again),
     * every change bumps the partition epoch, the lists given replace. */
    CHECK(apply_ok(image, offset++, partition_change(1, 0, METADATA_LEADER_UNCHANGED)));
    CHECK(orders->partitions[0].leader == 1 && orders->partitions[0].leader_epoch == 0);
    CHECK(orders->partitions[0].partition_epoch == 1);
    CHECK(apply_ok(image, offset++, partition_change(1, 0, 1)));
    CHECK(orders->partitions[0].leader == 1 && orders->partitions[0].leader_epoch == 1);
    CHECK(orders->partitions[0].partition_epoch == 2);
    struct metadata_record change = partition_change(1, 0, 2);
    change.as.partition_change.isr_set = true;
    change.as.partition_change.isr = ids_of(1, replicas + 1);
    CHECK(apply_ok(image, offset++, change));
    CHECK(orders->partitions[0].leader == 2 && orders->partitions[0].leader_epoch == 2);
    CHECK(orders->partitions[0].partition_epoch == 3);
    CHECK(orders->partitions[0].isr.count == 1 && orders->partitions[0].isr.ids[0] == 2);
    CHECK(apply_ok(image, offset++, partition_change(1, 0, METADATA_NO_LEADER)));
    CHECK(orders->partitions[0].leader == -1 && orders->partitions[0].leader_epoch == 3);
    /* Reassignment: replicas grow to hold the joining one. */
    static const i32 four[] = {1, 2, 3, 4};
    change = partition_change(1, 1, METADATA_LEADER_UNCHANGED);
    change.as.partition_change.replicas_set = true;
    change.as.partition_change.replicas = ids_of(4, four);
    change.as.partition_change.adding_set = true;
    change.as.partition_change.adding = ids_of(1, four + 3);
    change.as.partition_change.removing_set = true;
    change.as.partition_change.removing = ids_of(1, four);
    CHECK(apply_ok(image, offset++, change));
    CHECK(orders->partitions[1].replicas.count == 4 && orders->partitions[1].adding.count == 1);

    CHECK(rejected_untouched(image, offset, partition_change(1, 2, 1)));  /* No such one. */
    CHECK(rejected_untouched(image, offset, partition_change(1, -1, 1)));
    CHECK(rejected_untouched(image, offset, partition_change(7, 0, 1)));  /* No such topic. */
    CHECK(rejected_untouched(image, offset, partition_change(1, 0, 9)));  /* Not a replica. */
    CHECK(rejected_untouched(image, offset, partition_change(1, 0, -5)));
    change = partition_change(1, 0, METADATA_LEADER_UNCHANGED);
    change.as.partition_change.isr_set = true;
    change.as.partition_change.isr = ids_of(1, four + 3); /* Not a replica. */
    CHECK(rejected_untouched(image, offset, change));
    change = partition_change(1, 1, METADATA_LEADER_UNCHANGED);
    change.as.partition_change.replicas_set = true;
    change.as.partition_change.replicas = ids_of(2, replicas); /* Leaves adding outside. */
    CHECK(rejected_untouched(image, offset, change));

    /* Partitions fill up; an epoch at its limit cannot be bumped. */
    for (i32 p = 2; p < (i32)METADATA_PARTITIONS_MAX; p++) {
        CHECK(apply_ok(image, offset++, partition_record(1, p, 1, replicas, 1)));
    }
    CHECK(rejected_untouched(image, offset,
                             partition_record(1, METADATA_PARTITIONS_MAX, 1, replicas, 1)));
    struct metadata_record last = partition_record(1, 0, 1, replicas, 1);
    CHECK(apply_ok(image, offset++, topic_record("epochs", 2)));
    last.as.partition.topic_id = uuid_of(2);
    last.as.partition.partition_epoch = INT32_MAX;
    CHECK(apply_ok(image, offset++, last));
    CHECK(rejected_untouched(image, offset, partition_change(2, 0, METADATA_LEADER_UNCHANGED)));

    /* A full topic table. */
    char name[16];
    for (u32 t = 3; image->topic_count < METADATA_TOPICS_MAX; t++) {
        snprintf(name, sizeof(name), "t%u", t);
        CHECK(apply_ok(image, offset++, topic_record(name, t)));
    }
    CHECK(rejected_untouched(image, offset, topic_record("one-more", 500)));
    metadata_image_check(image);
    metadata_image_free(image);
}

TEST(configs_topic_and_broker)
{
    REQUIRE(metadata_image_init(&image_a));
    struct metadata_image *image = &image_a;
    i64 offset = 1;
    CHECK(apply_ok(image, offset++, topic_record("logs", 1)));
    const struct metadata_topic *logs = metadata_topic_find(image, "logs", 4);
    REQUIRE(logs != NULL);
    static const char *names[] = {"retention.ms", "cleanup.policy", "segment.bytes",
                                  "min.insync.replicas"};
    for (u32 i = 0; i < ARRAY_LEN(names); i++) {
        CHECK(apply_ok(image, offset++,
                       config_record(METADATA_RESOURCE_TOPIC, "logs", names[i], "1")));
    }
    REQUIRE(logs->config_count == 4);
    for (u32 i = 1; i < logs->config_count; i++) {
        CHECK(strcmp(logs->configs[i - 1].name, logs->configs[i].name) < 0);
    }
    CHECK(apply_ok(image, offset++,
                   config_record(METADATA_RESOURCE_TOPIC, "logs", "cleanup.policy", "compact")));
    CHECK(logs->config_count == 4);
    CHECK(strcmp(metadata_topic_config(logs, "cleanup.policy"), "compact") == 0);
    CHECK(metadata_topic_config(logs, "flush.ms") == NULL);
    CHECK(apply_ok(image, offset++,
                   config_record(METADATA_RESOURCE_TOPIC, "logs", "retention.ms", NULL)));
    CHECK(logs->config_count == 3 && metadata_topic_config(logs, "retention.ms") == NULL);
    /* Deleting what is not there is accepted (and still counted in the digest). */
    CHECK(apply_ok(image, offset++,
                   config_record(METADATA_RESOURCE_TOPIC, "logs", "retention.ms", NULL)));
    CHECK(rejected_untouched(image, offset,
                             config_record(METADATA_RESOURCE_TOPIC, "nope", "a", "b")));
    CHECK(rejected_untouched(image, offset,
                             config_record(METADATA_RESOURCE_TOPIC, "logs", "", "b")));
    char name[32];
    for (u32 i = 0; logs->config_count < METADATA_CONFIGS_MAX; i++) {
        snprintf(name, sizeof(name), "x.%02u", i);
        CHECK(apply_ok(image, offset++,
                       config_record(METADATA_RESOURCE_TOPIC, "logs", name, "v")));
    }
    CHECK(rejected_untouched(image, offset,
                             config_record(METADATA_RESOURCE_TOPIC, "logs", "z.full", "v")));
    CHECK(apply_ok(image, offset++,
                   config_record(METADATA_RESOURCE_TOPIC, "logs", "x.00", "replaced")));

    /* Broker resources: the cluster default ("") and one broker's override. */
    CHECK(apply_ok(image, offset++, config_record(METADATA_RESOURCE_BROKER, "",
                                                  "unclean.leader.election.enable", "true")));
    CHECK(apply_ok(image, offset++, config_record(METADATA_RESOURCE_BROKER, "3",
                                                  "unclean.leader.election.enable", "false")));
    CHECK(apply_ok(image, offset++, config_record(METADATA_RESOURCE_BROKER, "12",
                                                  "log.retention.ms", "5")));
    CHECK(image->broker_config_count == 3);
    CHECK(strcmp(metadata_broker_config(image, "", "unclean.leader.election.enable"),
                 "true") == 0);
    CHECK(strcmp(metadata_broker_config(image, "3", "unclean.leader.election.enable"),
                 "false") == 0);
    CHECK(metadata_broker_config(image, "4", "unclean.leader.election.enable") == NULL);
    CHECK(rejected_untouched(image, offset,
                             config_record(METADATA_RESOURCE_BROKER, "03", "a", "b")));
    CHECK(rejected_untouched(image, offset,
                             config_record(METADATA_RESOURCE_BROKER, "-1", "a", "b")));
    CHECK(rejected_untouched(image, offset,
                             config_record(METADATA_RESOURCE_BROKER, "99999999999", "a", "b")));
    CHECK(apply_ok(image, offset++, config_record(METADATA_RESOURCE_BROKER, "3",
                                                  "unclean.leader.election.enable", NULL)));
    CHECK(metadata_broker_config(image, "3", "unclean.leader.election.enable") == NULL);
    CHECK(image->broker_config_count == 2);
    metadata_image_check(image);
    metadata_image_free(image);
}

TEST(topics_stay_sorted_and_keep_their_memory)
{
    REQUIRE(metadata_image_init(&image_a));
    struct metadata_image *image = &image_a;
    struct metadata_partition *slots[METADATA_TOPICS_MAX];
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) slots[i] = image->topics[i].partitions;
    struct prng prng = prng_stream(7, 2);
    static const i32 replicas[] = {0, 1};
    bool present[200] = {false};
    i64 offset = 1;
    char name[16];
    for (u32 step = 0; step < 3000; step++) {
        u32 t = (u32)prng_below(&prng, 200);
        snprintf(name, sizeof(name), "topic-%u", t * 7919u % 1000u);
        if (!present[t]) {
            struct metadata_record record = topic_record(name, t + 1);
            if (image->topic_count == METADATA_TOPICS_MAX) {
                CHECK(rejected_untouched(image, offset, record));
                continue;
            }
            CHECK(apply_ok(image, offset++, record));
            present[t] = true;
            u32 partitions = (u32)prng_below(&prng, 4);
            for (u32 p = 0; p < partitions; p++) {
                CHECK(apply_ok(image, offset++,
                               partition_record(t + 1, (i32)p, 2, replicas, (i32)p % 2)));
            }
        } else {
            CHECK(apply_ok(image, offset++, remove_topic(t + 1)));
            present[t] = false;
            CHECK(metadata_topic_find(image, name, (u32)strlen(name)) == NULL);
        }
        for (u32 i = 1; i < image->topic_count; i++) {
            CHECK(strcmp(image->topics[i - 1].name, image->topics[i].name) < 0);
        }
    }
    u32 count = 0;
    for (u32 t = 0; t < 200; t++) count += present[t];
    CHECK(count == image->topic_count);
    /* Every slot's memory is still one of the arrays init allocated, each exactly once. */
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) {
        u32 seen = 0;
        for (u32 j = 0; j < METADATA_TOPICS_MAX; j++) {
            seen += image->topics[j].partitions == slots[i];
        }
        CHECK(seen == 1);
    }
    CHECK(rejected_untouched(image, offset, remove_topic(999)));
    metadata_image_check(image);
    metadata_image_free(image);
}

TEST(producer_ids_and_no_op)
{
    REQUIRE(metadata_image_init(&image_a));
    struct metadata_image *image = &image_a;
    CHECK(apply_ok(image, 1, producer_ids(1000)));
    CHECK(image->next_producer_id == 1000);
    CHECK(apply_ok(image, 2, producer_ids(1000)));
    CHECK(rejected_untouched(image, 3, producer_ids(999)));
    CHECK(apply_ok(image, 3, producer_ids(2000)));
    CHECK(image->next_producer_id == 2000);
    CHECK(apply_ok(image, 4, no_op()));
    metadata_image_applied(image, 4);
    CHECK(image->applied_offset == 4);
    /* A record that cannot be encoded is refused whole. */
    struct metadata_record broken = register_broker(1, "r");
    memset(broken.as.register_broker.host, 'h', sizeof(broken.as.register_broker.host));
    CHECK(rejected_untouched(image, 5, broken));
    metadata_image_clear(image);
    CHECK(image->applied_offset == -1 && image->next_producer_id == 0 && image->digest == 0);
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) CHECK(image->topics[i].partitions != NULL);
    metadata_image_free(image);
}

TEST(digest_depends_on_records_order_and_offsets)
{
    REQUIRE(metadata_image_init(&image_a));
    REQUIRE(metadata_image_init(&image_b));
    struct metadata_record first = register_broker(1, "a");
    struct metadata_record second = register_broker(2, "b");
    CHECK(apply_ok(&image_a, 1, first) && apply_ok(&image_a, 2, second));
    CHECK(apply_ok(&image_b, 1, first) && apply_ok(&image_b, 2, second));
    CHECK(image_a.digest == image_b.digest);
    metadata_image_clear(&image_b);
    CHECK(apply_ok(&image_b, 1, second) && apply_ok(&image_b, 2, first));
    CHECK(image_a.digest != image_b.digest); /* Same records, other order. */
    metadata_image_clear(&image_a);
    metadata_image_clear(&image_b);
    CHECK(apply_ok(&image_a, 1, first) && apply_ok(&image_a, 1, second));
    CHECK(apply_ok(&image_b, 1, second) && apply_ok(&image_b, 1, first));
    CHECK(image_a.digest != image_b.digest); /* Other order inside one entry. */
    metadata_image_clear(&image_a);
    CHECK(apply_ok(&image_a, 1, first) && apply_ok(&image_a, 2, second));
    metadata_image_clear(&image_b);
    CHECK(apply_ok(&image_b, 1, first) && apply_ok(&image_b, 3, second));
    CHECK(image_a.digest != image_b.digest); /* Same records, other offsets. */
    metadata_image_clear(&image_b);
    CHECK(apply_ok(&image_b, 1, first) && apply_ok(&image_b, 2, second) &&
          apply_ok(&image_b, 3, no_op()));
    CHECK(image_a.digest != image_b.digest); /* A no-op counts too. */
    metadata_image_free(&image_a);
    metadata_image_free(&image_b);
}

/* ===== Snapshots ===== */

static u8 snapshot_first[SNAPSHOT_BUFFER_SIZE];
static u8 snapshot_second[SNAPSHOT_BUFFER_SIZE];

/* A record drawn to fit the image most of the time (and not to fit it sometimes). */
static struct metadata_record random_record(struct prng *prng, const struct metadata_image *image)
{
    i32 replicas[METADATA_REPLICAS_MAX];
    u32 kind = (u32)prng_below(prng, 14);
    const struct metadata_topic *topic = NULL;
    if (image->topic_count > 0) topic = &image->topics[prng_below(prng, image->topic_count)];
    const struct metadata_broker *broker = NULL;
    if (image->broker_count > 0) broker = &image->brokers[prng_below(prng, image->broker_count)];
    i64 epoch = broker != NULL ? broker->epoch : 0;
    i32 broker_id = broker != NULL ? broker->id : 0;
    if (prng_chance(prng, 1, 20)) epoch++; /* Stale now and then. */
    switch (kind) {
    case 0:
    case 1: {
        static const char *racks[] = {"", "r1", "r2"};
        return register_broker((i32)prng_below(prng, 12), racks[prng_below(prng, 3)]);
    }
    case 2: return broker_ref(METADATA_FENCE_BROKER, broker_id, epoch);
    case 3: return broker_ref(METADATA_UNFENCE_BROKER, broker_id, epoch);
    case 4:
        return registration_change(broker_id, epoch, (i8)((i32)prng_below(prng, 3) - 1),
                                   (i8)((i32)prng_below(prng, 3) - 1));
    case 5:
        if (prng_chance(prng, 1, 4)) {
            return broker_ref(METADATA_UNREGISTER_BROKER, broker_id, epoch);
        }
        return no_op();
    case 6: {
        char name[24];
        u32 seed = (u32)prng_below(prng, 80);
        snprintf(name, sizeof(name), "topic.%u", seed * 37u % 101u);
        return topic_record(name, seed + 1);
    }
    case 7:
    case 8: {
        u32 count = 1 + (u32)prng_below(prng, 4);
        for (u32 i = 0; i < count; i++) replicas[i] = (i32)(i * 3 + prng_below(prng, 3));
        struct metadata_record record = partition_record(
            (u32)prng_below(prng, 80) + 1, topic != NULL ? (i32)topic->partition_count : 0,
            count, replicas, prng_chance(prng, 1, 5) ? -1 : replicas[0]);
        if (topic != NULL) record.as.partition.topic_id = topic->id;
        record.as.partition.leader_epoch = (i32)prng_below(prng, 5);
        record.as.partition.partition_epoch = (i32)prng_below(prng, 5);
        return record;
    }
    case 9:
    case 10: {
        if (topic == NULL || topic->partition_count == 0) return no_op();
        i32 p = (i32)prng_below(prng, topic->partition_count);
        const struct metadata_partition *partition = &topic->partitions[p];
        i32 leader = METADATA_LEADER_UNCHANGED;
        if (prng_chance(prng, 1, 2)) {
            leader = partition->replicas.ids[prng_below(prng, partition->replicas.count)];
        }
        struct metadata_record record = partition_change(0, p, leader);
        record.as.partition_change.topic_id = topic->id;
        if (prng_chance(prng, 1, 2)) {
            record.as.partition_change.isr_set = true;
            struct metadata_ids isr = {.count = 0};
            for (u32 i = 0; i < partition->replicas.count; i++) {
                if (prng_chance(prng, 2, 3)) isr.ids[isr.count++] = partition->replicas.ids[i];
            }
            record.as.partition_change.isr = isr;
        }
        return record;
    }
    case 11: {
        static const char *names[] = {"retention.ms", "cleanup.policy", "segment.ms"};
        const char *value = prng_chance(prng, 1, 3) ? NULL : "42";
        if (prng_chance(prng, 1, 4)) {
            char resource[8];
            snprintf(resource, sizeof(resource), "%u", (unsigned)prng_below(prng, 3));
            return config_record(METADATA_RESOURCE_BROKER, prng_chance(prng, 1, 2) ? "" : resource,
                                 names[prng_below(prng, 3)], value);
        }
        return config_record(METADATA_RESOURCE_TOPIC, topic != NULL ? topic->name : "none",
                             names[prng_below(prng, 3)], value);
    }
    case 12:
        if (topic != NULL && prng_chance(prng, 1, 3)) {
            struct metadata_record record = remove_topic(0);
            record.as.remove_topic.topic_id = topic->id;
            return record;
        }
        return no_op();
    default:
        return producer_ids(image->next_producer_id + (i64)prng_below(prng, 100) - 5);
    }
}

static void build_example_image(struct metadata_image *image)
{
    static const i32 replicas[] = {1, 2, 3};
    i64 offset = 1;
    ASSERT(metadata_image_apply(image, offset++, &(struct metadata_record){0}));
    struct metadata_record record = register_broker(2, "rack-b");
    ASSERT(metadata_image_apply(image, offset++, &record));
    record = broker_ref(METADATA_UNFENCE_BROKER, 2, 2);
    ASSERT(metadata_image_apply(image, offset++, &record));
    record = topic_record("zeta", 5);
    ASSERT(metadata_image_apply(image, offset++, &record));
    record = topic_record("alpha", 6);
    ASSERT(metadata_image_apply(image, offset++, &record));
    for (i32 p = 0; p < 3; p++) {
        record = partition_record(6, p, 3, replicas, replicas[p]);
        ASSERT(metadata_image_apply(image, offset++, &record));
    }
    record = partition_change(6, 1, 3);
    record.as.partition_change.isr_set = true;
    record.as.partition_change.isr = ids_of(1, replicas + 2);
    ASSERT(metadata_image_apply(image, offset++, &record));
    record = config_record(METADATA_RESOURCE_TOPIC, "alpha", "retention.ms", "100");
    ASSERT(metadata_image_apply(image, offset++, &record));
    record = config_record(METADATA_RESOURCE_BROKER, "", "log.retention.ms", "200");
    ASSERT(metadata_image_apply(image, offset++, &record));
    record = producer_ids(5000);
    ASSERT(metadata_image_apply(image, offset, &record));
    metadata_image_applied(image, offset);
}

TEST(snapshot_round_trip)
{
    REQUIRE(metadata_image_init(&image_a));
    REQUIRE(metadata_image_init(&image_b));
    build_example_image(&image_a);
    u32 size = metadata_image_save(&image_a, snapshot_first, sizeof(snapshot_first));
    REQUIRE(size > 0);
    CHECK(size == metadata_image_snapshot_size(&image_a));
    CHECK(snapshot_first[0] == METADATA_ENTRY_MAGIC);
    CHECK(snapshot_first[1] == METADATA_SNAPSHOT_VERSION);
    for (u32 capacity = 0; capacity < size; capacity++) {
        CHECK(metadata_image_save(&image_a, snapshot_second, capacity) == 0);
    }
    CHECK(metadata_image_load(&image_b, snapshot_first, size));
    CHECK(image_b.digest == image_a.digest);
    CHECK(image_b.applied_offset == image_a.applied_offset);
    CHECK(image_b.next_producer_id == 5000);
    const struct metadata_broker *two = metadata_broker_find(&image_b, 2);
    REQUIRE(two != NULL);
    CHECK(two->epoch == 2 && !two->fenced && strcmp(two->rack, "rack-b") == 0);
    CHECK(metadata_broker_find(&image_b, 0)->epoch == 1);
    const struct metadata_topic *alpha = metadata_topic_find(&image_b, "alpha", 5);
    REQUIRE(alpha != NULL);
    CHECK(alpha->partition_count == 3);
    CHECK(alpha->partitions[1].leader == 3 && alpha->partitions[1].leader_epoch == 1);
    CHECK(alpha->partitions[1].partition_epoch == 1 && alpha->partitions[1].isr.count == 1);
    CHECK(strcmp(metadata_topic_config(alpha, "retention.ms"), "100") == 0);
    CHECK(strcmp(metadata_broker_config(&image_b, "", "log.retention.ms"), "200") == 0);
    u32 size_again = metadata_image_save(&image_b, snapshot_second, sizeof(snapshot_second));
    CHECK(size_again == size && memcmp(snapshot_first, snapshot_second, size) == 0);
    /* The loaded image goes on exactly as the original. */
    struct metadata_record record = partition_change(6, 0, METADATA_NO_LEADER);
    CHECK(metadata_image_apply(&image_a, 100, &record) && metadata_image_apply(&image_b, 100,
                                                                               &record));
    CHECK(image_a.digest == image_b.digest);
    /* An empty image too. */
    metadata_image_clear(&image_a);
    size = metadata_image_save(&image_a, snapshot_first, sizeof(snapshot_first));
    CHECK(size > 0 && metadata_image_load(&image_b, snapshot_first, size));
    CHECK(image_b.topic_count == 0 && image_b.broker_count == 0 && image_b.applied_offset == -1);
    metadata_image_free(&image_a);
    metadata_image_free(&image_b);
}

TEST(snapshot_of_a_random_history_equals_its_replay)
{
    REQUIRE(metadata_image_init(&image_a));
    REQUIRE(metadata_image_init(&image_b));
    struct prng prng = prng_stream(11, 3);
    u32 accepted = 0, rejected = 0, loads = 0;
    i64 offset = 0;
    for (u32 entry = 0; entry < 4000; entry++) {
        u32 records = 1 + (u32)prng_below(&prng, 3);
        for (u32 r = 0; r < records; r++) {
            struct metadata_record record = random_record(&prng, &image_a);
            bool in_a = metadata_image_apply(&image_a, offset, &record);
            bool in_b = metadata_image_apply(&image_b, offset, &record);
            CHECK(in_a == in_b);
            if (in_a) accepted++;
            else rejected++;
        }
        metadata_image_applied(&image_a, offset);
        metadata_image_applied(&image_b, offset);
        offset++;
        if (prng_chance(&prng, 1, 100)) {
            /* B, which replayed the same entries, saves what A saves; then B restarts from
             * A's snapshot and goes on with the same entries. */
            u32 size = metadata_image_save(&image_a, snapshot_first, sizeof(snapshot_first));
            REQUIRE(size > 0);
            CHECK(metadata_image_save(&image_b, snapshot_second, sizeof(snapshot_second)) ==
                  size);
            CHECK(memcmp(snapshot_first, snapshot_second, size) == 0);
            REQUIRE(metadata_image_load(&image_b, snapshot_first, size));
            loads++;
        }
    }
    metadata_image_check(&image_a);
    CHECK(image_a.digest == image_b.digest);
    u32 size_a = metadata_image_save(&image_a, snapshot_first, sizeof(snapshot_first));
    u32 size_b = metadata_image_save(&image_b, snapshot_second, sizeof(snapshot_second));
    CHECK(size_a > 0 && size_a == size_b && memcmp(snapshot_first, snapshot_second, size_a) == 0);
    CHECK(accepted > 4000 && rejected > 100 && loads > 10);
    CHECK(image_a.topic_count > 0 && image_a.broker_count > 0);
    metadata_image_free(&image_a);
    metadata_image_free(&image_b);
}

static bool image_is_cleared(const struct metadata_image *image)
{
    return image->broker_count == 0 && image->topic_count == 0 && image->applied_offset == -1 &&
           image->digest == 0 && image->next_producer_id == 0 && image->broker_config_count == 0;
}

TEST(load_rejects_damage_and_leaves_the_image_cleared)
{
    REQUIRE(metadata_image_init(&image_a));
    REQUIRE(metadata_image_init(&image_b));
    build_example_image(&image_a);
    u32 size = metadata_image_save(&image_a, snapshot_first, sizeof(snapshot_first));
    REQUIRE(size > 0);
    for (u32 length = 0; length < size; length++) {
        REQUIRE(metadata_image_load(&image_b, snapshot_first, size));
        u8 *copy = malloc(length == 0 ? 1 : length);
        REQUIRE(copy != NULL);
        memcpy(copy, snapshot_first, length);
        CHECK(!metadata_image_load(&image_b, length == 0 ? NULL : copy, length));
        CHECK(image_is_cleared(&image_b));
        free(copy);
    }
    for (u32 bit = 0; bit < size * 8; bit++) {
        memcpy(snapshot_second, snapshot_first, size);
        snapshot_second[bit / 8] ^= (u8)(1u << (bit % 8));
        CHECK(!metadata_image_load(&image_b, snapshot_second, size));
        CHECK(image_is_cleared(&image_b));
    }
    /* An entry is not a snapshot, nor is garbage. */
    struct metadata_record record = no_op();
    u32 entry_size = metadata_encode(&record, 1, entry_buffer, sizeof(entry_buffer));
    CHECK(!metadata_image_load(&image_b, entry_buffer, entry_size));
    struct prng prng = prng_stream(5, 4);
    for (u32 round = 0; round < 2000; round++) {
        u32 length = (u32)prng_below(&prng, 200);
        for (u32 i = 0; i < length; i++) snapshot_second[i] = (u8)prng_next(&prng);
        CHECK(!metadata_image_load(&image_b, snapshot_second, length));
    }
    /* Valid checksums over bad content: records that break the image are refused too. */
    memcpy(snapshot_second, snapshot_first, size);
    u32 body = size - 4;
    snapshot_second[2 + 8 + 8 + 8 + 3] ^= 1; /* The record count. */
    store_u32_be(snapshot_second + body, crc32c(snapshot_second, body));
    CHECK(!metadata_image_load(&image_b, snapshot_second, size));
    CHECK(image_is_cleared(&image_b));
    metadata_image_free(&image_a);
    metadata_image_free(&image_b);
}

static const struct test_case tests[] = {
    {"every_record_type_round_trips", every_record_type_round_trips},
    {"a_full_entry_round_trips", a_full_entry_round_trips},
    {"every_truncation_is_malformed", every_truncation_is_malformed},
    {"bit_flips_never_crash_and_what_decodes_is_canonical",
     bit_flips_never_crash_and_what_decodes_is_canonical},
    {"foreign_and_malformed_headers", foreign_and_malformed_headers},
    {"encode_rejects_invalid_records_and_small_buffers",
     encode_rejects_invalid_records_and_small_buffers},
    {"brokers_register_fence_and_unregister", brokers_register_fence_and_unregister},
    {"topics_and_partitions", topics_and_partitions},
    {"configs_topic_and_broker", configs_topic_and_broker},
    {"topics_stay_sorted_and_keep_their_memory", topics_stay_sorted_and_keep_their_memory},
    {"producer_ids_and_no_op", producer_ids_and_no_op},
    {"digest_depends_on_records_order_and_offsets", digest_depends_on_records_order_and_offsets},
    {"snapshot_round_trip", snapshot_round_trip},
    {"snapshot_of_a_random_history_equals_its_replay",
     snapshot_of_a_random_history_equals_its_replay},
    {"load_rejects_damage_and_leaves_the_image_cleared",
     load_rejects_damage_and_leaves_the_image_cleared},
};
TEST_MAIN(tests)
