/* metadata_image.c: the metadata image, how records change it, and its snapshots.
 *
 * apply validates a record against the whole image before it changes anything, so a rejected
 * record leaves every byte (digest included) as it was; after a change the invariants the
 * record could have touched are ASSERTed. Topic slots own their partition arrays for the life
 * of the image: inserting or removing a topic moves the slots' pointers around, never frees or
 * allocates. */
#include "metadata_codec.h"

#include <stdlib.h>
#include <string.h>

#include "../log/crc32c.h"
#include "../prng.h"

/* Snapshot header after magic and version: applied_offset, digest, next_producer_id (8 bytes
 * each) and the record count (4); a CRC32C of everything before it closes the snapshot. */
#define SNAPSHOT_HEADER_SIZE (2u + 8u + 8u + 8u + 4u)
#define SNAPSHOT_TRAILER_SIZE 4u
#define SNAPSHOT_RECORDS_MAX                                                                 \
    (METADATA_BROKERS_MAX +                                                                  \
     METADATA_TOPICS_MAX * (1u + METADATA_PARTITIONS_MAX + METADATA_CONFIGS_MAX) +            \
     METADATA_BROKER_CONFIGS_MAX)

/* ===== Small helpers ===== */

static bool uuid_equal(const struct metadata_uuid *a, const struct metadata_uuid *b)
{
    return memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

static bool uuid_is_zero(const struct metadata_uuid *uuid)
{
    static const struct metadata_uuid zero;
    return uuid_equal(uuid, &zero);
}

static u32 bounded_length(const char *text, u32 capacity)
{
    const char *end = memchr(text, '\0', capacity);
    ASSERT(end != NULL);
    return (u32)(end - text);
}

/* Byte order, shorter first on a common prefix: strcmp's order, also for unterminated names. */
static int name_compare(const char *a, u32 a_size, const char *b, u32 b_size)
{
    int order = memcmp(a, b, MIN(a_size, b_size));
    if (order != 0) return order;
    return a_size < b_size ? -1 : a_size > b_size ? 1 : 0;
}

bool metadata_ids_contains(const struct metadata_ids *ids, i32 id)
{
    ASSERT(ids->count <= METADATA_REPLICAS_MAX);
    for (u32 i = 0; i < ids->count; i++) {
        if (ids->ids[i] == id) return true;
    }
    return false;
}

/* Non-negative ids, none twice. */
static bool ids_well_formed(const struct metadata_ids *ids)
{
    if (ids->count > METADATA_REPLICAS_MAX) return false;
    for (u32 i = 0; i < ids->count; i++) {
        if (ids->ids[i] < 0) return false;
        for (u32 j = 0; j < i; j++) {
            if (ids->ids[j] == ids->ids[i]) return false;
        }
    }
    return true;
}

static bool ids_subset(const struct metadata_ids *part, const struct metadata_ids *whole)
{
    for (u32 i = 0; i < part->count; i++) {
        if (!metadata_ids_contains(whole, part->ids[i])) return false;
    }
    return true;
}

static bool ids_disjoint(const struct metadata_ids *a, const struct metadata_ids *b)
{
    for (u32 i = 0; i < a->count; i++) {
        if (metadata_ids_contains(b, a->ids[i])) return false;
    }
    return true;
}

/* The partition invariants: at least one replica; ISR, adding and removing are subsets of the
 * replicas (a reassignment's replicas hold both sides), adding and removing are disjoint; the
 * leader is none or a replica (an unclean election may pick one outside the ISR). */
static bool partition_valid(const struct metadata_partition *partition)
{
    return partition->replicas.count >= 1 && ids_well_formed(&partition->replicas) &&
           ids_well_formed(&partition->isr) && ids_well_formed(&partition->adding) &&
           ids_well_formed(&partition->removing) &&
           ids_subset(&partition->isr, &partition->replicas) &&
           ids_subset(&partition->adding, &partition->replicas) &&
           ids_subset(&partition->removing, &partition->replicas) &&
           ids_disjoint(&partition->adding, &partition->removing) &&
           (partition->leader == METADATA_NO_LEADER ||
            metadata_ids_contains(&partition->replicas, partition->leader)) &&
           partition->leader_epoch >= 0 && partition->partition_epoch >= 0;
}

/* ===== Lookups ===== */

/* The index of broker id, or where it would be inserted. */
static u32 broker_index(const struct metadata_image *image, i32 id, bool *found)
{
    u32 low = 0, high = image->broker_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (image->brokers[middle].id < id) low = middle + 1;
        else high = middle;
    }
    *found = low < image->broker_count && image->brokers[low].id == id;
    return low;
}

static u32 topic_index(const struct metadata_image *image, const char *name, u32 name_size,
                       bool *found)
{
    u32 low = 0, high = image->topic_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        const struct metadata_topic *topic = &image->topics[middle];
        if (name_compare(topic->name, bounded_length(topic->name, sizeof(topic->name)), name,
                         name_size) < 0) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    *found = false;
    if (low < image->topic_count) {
        const struct metadata_topic *topic = &image->topics[low];
        *found = name_compare(topic->name, bounded_length(topic->name, sizeof(topic->name)),
                              name, name_size) == 0;
    }
    return low;
}

/* The slot of the topic with this id, or -1. */
static i32 topic_index_by_id(const struct metadata_image *image, const struct metadata_uuid *id)
{
    for (u32 i = 0; i < image->topic_count; i++) {
        if (uuid_equal(&image->topics[i].id, id)) return (i32)i;
    }
    return -1;
}

static u32 config_index(const struct metadata_config *configs, u32 count, const char *name,
                        bool *found)
{
    u32 low = 0, high = count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (strcmp(configs[middle].name, name) < 0) low = middle + 1;
        else high = middle;
    }
    *found = low < count && strcmp(configs[low].name, name) == 0;
    return low;
}

static int broker_config_compare(const struct metadata_broker_config *entry,
                                 const char *resource_name, const char *name)
{
    int order = strcmp(entry->resource_name, resource_name);
    return order != 0 ? order : strcmp(entry->config.name, name);
}

static u32 broker_config_index(const struct metadata_image *image, const char *resource_name,
                               const char *name, bool *found)
{
    u32 low = 0, high = image->broker_config_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (broker_config_compare(&image->broker_configs[middle], resource_name, name) < 0) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    *found = low < image->broker_config_count &&
             broker_config_compare(&image->broker_configs[low], resource_name, name) == 0;
    return low;
}

const struct metadata_broker *metadata_broker_find(const struct metadata_image *image, i32 id)
{
    bool found;
    u32 index = broker_index(image, id, &found);
    return found ? &image->brokers[index] : NULL;
}

const struct metadata_topic *metadata_topic_find(const struct metadata_image *image,
                                                 const char *name, u32 name_size)
{
    ASSERT(name != NULL || name_size == 0);
    bool found;
    u32 index = topic_index(image, name, name_size, &found);
    return found ? &image->topics[index] : NULL;
}

const struct metadata_topic *metadata_topic_find_id(const struct metadata_image *image,
                                                    const struct metadata_uuid *id)
{
    i32 index = topic_index_by_id(image, id);
    return index < 0 ? NULL : &image->topics[index];
}

const char *metadata_topic_config(const struct metadata_topic *topic, const char *name)
{
    bool found;
    u32 index = config_index(topic->configs, topic->config_count, name, &found);
    return found ? topic->configs[index].value : NULL;
}

const char *metadata_broker_config(const struct metadata_image *image, const char *resource_name,
                                   const char *name)
{
    bool found;
    u32 index = broker_config_index(image, resource_name, name, &found);
    return found ? image->broker_configs[index].config.value : NULL;
}

/* ===== Invariants ===== */

static void check_configs(const struct metadata_config *configs, u32 count, u32 capacity)
{
    ASSERT(count <= capacity);
    for (u32 i = 0; i < count; i++) {
        ASSERT(configs[i].name[0] != '\0');
        ASSERT(memchr(configs[i].name, '\0', sizeof(configs[i].name)) != NULL);
        ASSERT(memchr(configs[i].value, '\0', sizeof(configs[i].value)) != NULL);
        if (i > 0) ASSERT(strcmp(configs[i - 1].name, configs[i].name) < 0);
    }
}

static void check_topic_partitions(const struct metadata_topic *topic)
{
    ASSERT(topic->partitions != NULL);
    ASSERT(topic->partition_count <= METADATA_PARTITIONS_MAX);
    for (u32 i = 0; i < topic->partition_count; i++) {
        ASSERT(partition_valid(&topic->partitions[i]));
    }
}

/* Everything except the partitions of each topic: cheap enough for every apply. */
static void check_tables(const struct metadata_image *image)
{
    ASSERT(image->broker_count <= METADATA_BROKERS_MAX);
    for (u32 i = 0; i < image->broker_count; i++) {
        const struct metadata_broker *broker = &image->brokers[i];
        ASSERT(broker->id >= 0);
        ASSERT(broker->epoch >= 0);
        if (i > 0) ASSERT(image->brokers[i - 1].id < broker->id);
    }
    ASSERT(image->topic_count <= METADATA_TOPICS_MAX);
    for (u32 i = 0; i < image->topic_count; i++) {
        const struct metadata_topic *topic = &image->topics[i];
        u32 length = bounded_length(topic->name, sizeof(topic->name));
        ASSERT(length > 0);
        ASSERT(!uuid_is_zero(&topic->id));
        ASSERT(topic->partitions != NULL);
        ASSERT(topic->partition_count <= METADATA_PARTITIONS_MAX);
        if (i > 0) {
            const struct metadata_topic *previous = &image->topics[i - 1];
            ASSERT(name_compare(previous->name, bounded_length(previous->name,
                                                               sizeof(previous->name)),
                                topic->name, length) < 0);
        }
        for (u32 j = 0; j < i; j++) ASSERT(!uuid_equal(&image->topics[j].id, &topic->id));
        check_configs(topic->configs, topic->config_count, METADATA_CONFIGS_MAX);
    }
    for (u32 i = image->topic_count; i < METADATA_TOPICS_MAX; i++) {
        ASSERT(image->topics[i].partitions != NULL); /* Spare slots keep their memory. */
    }
    ASSERT(image->broker_config_count <= METADATA_BROKER_CONFIGS_MAX);
    for (u32 i = 0; i < image->broker_config_count; i++) {
        const struct metadata_broker_config *entry = &image->broker_configs[i];
        ASSERT(memchr(entry->resource_name, '\0', sizeof(entry->resource_name)) != NULL);
        check_configs(&entry->config, 1, 1);
        if (i > 0) {
            ASSERT(broker_config_compare(&image->broker_configs[i - 1], entry->resource_name,
                                         entry->config.name) < 0);
        }
    }
    ASSERT(image->next_producer_id >= 0);
    ASSERT(image->applied_offset >= -1);
}

void metadata_image_check(const struct metadata_image *image)
{
    check_tables(image);
    for (u32 i = 0; i < image->topic_count; i++) check_topic_partitions(&image->topics[i]);
}

/* ===== Memory ===== */

bool metadata_image_init(struct metadata_image *image)
{
    memset(image, 0, sizeof(*image));
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) {
        image->topics[i].partitions = calloc(METADATA_PARTITIONS_MAX,
                                             sizeof(struct metadata_partition));
        if (image->topics[i].partitions == NULL) {
            metadata_image_free(image);
            return false;
        }
    }
    image->applied_offset = -1;
    return true;
}

void metadata_image_free(struct metadata_image *image)
{
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) {
        free(image->topics[i].partitions);
        image->topics[i].partitions = NULL;
    }
}

void metadata_image_clear(struct metadata_image *image)
{
    struct metadata_partition *partitions[METADATA_TOPICS_MAX];
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) partitions[i] = image->topics[i].partitions;
    memset(image, 0, sizeof(*image));
    for (u32 i = 0; i < METADATA_TOPICS_MAX; i++) image->topics[i].partitions = partitions[i];
    image->applied_offset = -1;
}

/* ===== Apply ===== */

static bool apply_register_broker(struct metadata_image *image,
                                  const struct metadata_register_broker *record, i64 epoch)
{
    if (record->broker_id < 0 || record->port < 0 || record->port > 65535 || epoch < 0) {
        return false;
    }
    bool found;
    u32 index = broker_index(image, record->broker_id, &found);
    if (!found) {
        if (image->broker_count == METADATA_BROKERS_MAX) return false;
        memmove(&image->brokers[index + 1], &image->brokers[index],
                (image->broker_count - index) * sizeof(image->brokers[0]));
        image->broker_count++;
    }
    struct metadata_broker *broker = &image->brokers[index];
    memset(broker, 0, sizeof(*broker));
    broker->id = record->broker_id;
    broker->epoch = epoch;
    broker->incarnation_id = record->incarnation_id;
    memcpy(broker->rack, record->rack, sizeof(broker->rack));
    memcpy(broker->host, record->host, sizeof(broker->host));
    broker->port = record->port;
    broker->fenced = record->fenced;
    broker->in_controlled_shutdown = record->in_controlled_shutdown;
    return true;
}

/* The registered broker whose epoch matches, or NULL: a record for an older registration of
 * a broker that has re-registered since is stale. */
static struct metadata_broker *broker_current(struct metadata_image *image, i32 id, i64 epoch)
{
    bool found;
    u32 index = broker_index(image, id, &found);
    if (!found || image->brokers[index].epoch != epoch) return NULL;
    return &image->brokers[index];
}

static bool apply_unregister_broker(struct metadata_image *image,
                                    const struct metadata_broker_ref *record)
{
    struct metadata_broker *broker = broker_current(image, record->broker_id,
                                                    record->broker_epoch);
    if (broker == NULL) return false;
    u32 index = (u32)(broker - image->brokers);
    memmove(&image->brokers[index], &image->brokers[index + 1],
            (image->broker_count - index - 1) * sizeof(image->brokers[0]));
    image->broker_count--;
    memset(&image->brokers[image->broker_count], 0, sizeof(image->brokers[0]));
    return true;
}

static bool apply_fencing(struct metadata_image *image, const struct metadata_broker_ref *record,
                          bool fenced)
{
    struct metadata_broker *broker = broker_current(image, record->broker_id,
                                                    record->broker_epoch);
    if (broker == NULL) return false;
    broker->fenced = fenced;
    return true;
}

static bool apply_registration_change(struct metadata_image *image,
                                      const struct metadata_broker_registration_change *record)
{
    struct metadata_broker *broker = broker_current(image, record->broker_id,
                                                    record->broker_epoch);
    if (broker == NULL) return false;
    if (record->fenced != -1) broker->fenced = record->fenced == 1;
    if (record->in_controlled_shutdown != -1) {
        broker->in_controlled_shutdown = record->in_controlled_shutdown == 1;
    }
    return true;
}

static bool apply_topic(struct metadata_image *image, const struct metadata_topic_record *record)
{
    u32 length = bounded_length(record->name, sizeof(record->name));
    if (length == 0 || uuid_is_zero(&record->topic_id)) return false;
    if (image->topic_count == METADATA_TOPICS_MAX) return false;
    if (topic_index_by_id(image, &record->topic_id) >= 0) return false;
    bool found;
    u32 index = topic_index(image, record->name, length, &found);
    if (found) return false;
    /* The spare slot's partition memory travels to the new topic's position. */
    struct metadata_partition *partitions = image->topics[image->topic_count].partitions;
    memmove(&image->topics[index + 1], &image->topics[index],
            (image->topic_count - index) * sizeof(image->topics[0]));
    image->topic_count++;
    struct metadata_topic *topic = &image->topics[index];
    memset(topic, 0, sizeof(*topic));
    memcpy(topic->name, record->name, sizeof(topic->name));
    topic->id = record->topic_id;
    topic->partitions = partitions;
    return true;
}

static bool apply_remove_topic(struct metadata_image *image,
                               const struct metadata_remove_topic *record)
{
    i32 found = topic_index_by_id(image, &record->topic_id);
    if (found < 0) return false;
    u32 index = (u32)found;
    struct metadata_partition *partitions = image->topics[index].partitions;
    memset(partitions, 0, METADATA_PARTITIONS_MAX * sizeof(*partitions));
    memmove(&image->topics[index], &image->topics[index + 1],
            (image->topic_count - index - 1) * sizeof(image->topics[0]));
    image->topic_count--;
    struct metadata_topic *spare = &image->topics[image->topic_count];
    memset(spare, 0, sizeof(*spare));
    spare->partitions = partitions;
    return true;
}

static bool apply_partition(struct metadata_image *image,
                            const struct metadata_partition_record *record,
                            struct metadata_topic **touched)
{
    i32 index = topic_index_by_id(image, &record->topic_id);
    if (index < 0) return false;
    struct metadata_topic *topic = &image->topics[index];
    /* Partitions only grow, one index after the other. */
    if (topic->partition_count == METADATA_PARTITIONS_MAX || record->partition_id < 0 ||
        (u32)record->partition_id != topic->partition_count) {
        return false;
    }
    struct metadata_partition partition = {
        .replicas = record->replicas,
        .isr = record->isr,
        .removing = record->removing,
        .adding = record->adding,
        .leader = record->leader,
        .leader_epoch = record->leader_epoch,
        .partition_epoch = record->partition_epoch,
    };
    if (!partition_valid(&partition)) return false;
    topic->partitions[topic->partition_count++] = partition;
    *touched = topic;
    return true;
}

static bool apply_partition_change(struct metadata_image *image,
                                   const struct metadata_partition_change *record,
                                   struct metadata_topic **touched)
{
    i32 index = topic_index_by_id(image, &record->topic_id);
    if (index < 0) return false;
    struct metadata_topic *topic = &image->topics[index];
    if (record->partition_id < 0 || (u32)record->partition_id >= topic->partition_count) {
        return false;
    }
    struct metadata_partition partition = topic->partitions[record->partition_id];
    if (record->leader != METADATA_LEADER_UNCHANGED) {
        if (partition.leader_epoch == INT32_MAX) return false;
        partition.leader = record->leader;
        partition.leader_epoch++;
    }
    if (partition.partition_epoch == INT32_MAX) return false;
    partition.partition_epoch++;
    if (record->isr_set) partition.isr = record->isr;
    if (record->replicas_set) partition.replicas = record->replicas;
    if (record->removing_set) partition.removing = record->removing;
    if (record->adding_set) partition.adding = record->adding;
    if (!partition_valid(&partition)) return false;
    topic->partitions[record->partition_id] = partition;
    *touched = topic;
    return true;
}

/* Sets (value non-NULL) or deletes an override in a sorted list; deleting an absent one is a
 * no-op, as in Kafka. False when the list is full. */
static bool config_list_update(struct metadata_config *configs, u32 *count, u32 capacity,
                               const char *name, const char *value)
{
    bool found;
    u32 index = config_index(configs, *count, name, &found);
    if (value == NULL) {
        if (!found) return true;
        memmove(&configs[index], &configs[index + 1], (*count - index - 1) * sizeof(configs[0]));
        (*count)--;
        memset(&configs[*count], 0, sizeof(configs[0]));
        return true;
    }
    if (!found) {
        if (*count == capacity) return false;
        memmove(&configs[index + 1], &configs[index], (*count - index) * sizeof(configs[0]));
        (*count)++;
        memset(&configs[index], 0, sizeof(configs[0]));
        memcpy(configs[index].name, name, strlen(name) + 1);
    }
    memset(configs[index].value, 0, sizeof(configs[index].value));
    memcpy(configs[index].value, value, strlen(value) + 1);
    return true;
}

/* "" or a broker id in canonical decimal (no sign, no leading zero). */
static bool broker_resource_valid(const char *name)
{
    u32 length = bounded_length(name, METADATA_TOPIC_NAME_MAX + 1);
    if (length == 0) return true;
    if (length >= METADATA_BROKER_RESOURCE_MAX || length > 10) return false;
    if (name[0] == '0' && length > 1) return false;
    i64 value = 0;
    for (u32 i = 0; i < length; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        value = value * 10 + (name[i] - '0');
    }
    return value <= INT32_MAX;
}

static bool apply_broker_config(struct metadata_image *image,
                                const struct metadata_config_record *record, const char *value)
{
    if (!broker_resource_valid(record->resource_name)) return false;
    bool found;
    u32 index = broker_config_index(image, record->resource_name, record->name, &found);
    struct metadata_broker_config *entries = image->broker_configs;
    if (value == NULL) {
        if (!found) return true;
        memmove(&entries[index], &entries[index + 1],
                (image->broker_config_count - index - 1) * sizeof(entries[0]));
        image->broker_config_count--;
        memset(&entries[image->broker_config_count], 0, sizeof(entries[0]));
        return true;
    }
    if (!found) {
        if (image->broker_config_count == METADATA_BROKER_CONFIGS_MAX) return false;
        memmove(&entries[index + 1], &entries[index],
                (image->broker_config_count - index) * sizeof(entries[0]));
        image->broker_config_count++;
        memset(&entries[index], 0, sizeof(entries[0]));
        memcpy(entries[index].resource_name, record->resource_name,
               strlen(record->resource_name) + 1);
        memcpy(entries[index].config.name, record->name, strlen(record->name) + 1);
    }
    memset(entries[index].config.value, 0, sizeof(entries[index].config.value));
    memcpy(entries[index].config.value, value, strlen(value) + 1);
    return true;
}

static bool apply_config(struct metadata_image *image, const struct metadata_config_record *record)
{
    if (record->name[0] == '\0') return false;
    const char *value = record->value_null ? NULL : record->value;
    if (record->resource_type == METADATA_RESOURCE_BROKER) {
        return apply_broker_config(image, record, value);
    }
    ASSERT(record->resource_type == METADATA_RESOURCE_TOPIC);
    u32 length = bounded_length(record->resource_name, sizeof(record->resource_name));
    bool found;
    u32 index = topic_index(image, record->resource_name, length, &found);
    if (!found) return false;
    struct metadata_topic *topic = &image->topics[index];
    return config_list_update(topic->configs, &topic->config_count, METADATA_CONFIGS_MAX,
                              record->name, value);
}

/* Applies a valid record; broker_epoch is what a RegisterBroker record sets (the entry's offset,
 * or the epoch a snapshot carries). touched names a topic whose partitions changed. */
static bool apply_record(struct metadata_image *image, const struct metadata_record *record,
                         i64 broker_epoch, struct metadata_topic **touched)
{
    *touched = NULL;
    switch (record->type) {
    case METADATA_REGISTER_BROKER:
        return apply_register_broker(image, &record->as.register_broker, broker_epoch);
    case METADATA_UNREGISTER_BROKER:
        return apply_unregister_broker(image, &record->as.unregister_broker);
    case METADATA_FENCE_BROKER:
        return apply_fencing(image, &record->as.fence_broker, true);
    case METADATA_UNFENCE_BROKER:
        return apply_fencing(image, &record->as.unfence_broker, false);
    case METADATA_BROKER_REGISTRATION_CHANGE:
        return apply_registration_change(image, &record->as.registration_change);
    case METADATA_TOPIC:
        return apply_topic(image, &record->as.topic);
    case METADATA_PARTITION:
        return apply_partition(image, &record->as.partition, touched);
    case METADATA_PARTITION_CHANGE:
        return apply_partition_change(image, &record->as.partition_change, touched);
    case METADATA_REMOVE_TOPIC:
        return apply_remove_topic(image, &record->as.remove_topic);
    case METADATA_CONFIG:
        return apply_config(image, &record->as.config);
    case METADATA_PRODUCER_IDS:
        if (record->as.producer_ids.next_producer_id < image->next_producer_id) return false;
        image->next_producer_id = record->as.producer_ids.next_producer_id;
        return true;
    case METADATA_NO_OP:
        return true;
    }
    return false;
}

/* A hash of the record's encoded bytes: two records hash alike only if they encode alike. */
static u64 record_hash(const struct metadata_record *record)
{
    u8 bytes[METADATA_RECORD_SIZE_MAX];
    struct proto_writer writer;
    proto_writer_init(&writer, bytes, sizeof(bytes));
    metadata_record_write(&writer, record);
    ASSERT(writer.error == PROTO_OK);
    u64 hash = prng_mix64(0x6a09e667f3bcc909ull ^ writer.position);
    for (u32 i = 0; i < writer.position; i += 8) {
        u8 chunk[8] = {0};
        memcpy(chunk, bytes + i, MIN(8u, writer.position - i));
        hash = prng_mix64(hash ^ load_u64_be(chunk));
    }
    return hash;
}

bool metadata_image_apply(struct metadata_image *image, i64 offset,
                          const struct metadata_record *record)
{
    ASSERT(offset >= 0 && offset > image->applied_offset);
    if (!metadata_record_valid(record)) return false;
    struct metadata_topic *touched;
    if (!apply_record(image, record, offset, &touched)) return false;
    image->digest = prng_mix64(image->digest ^
                               prng_mix64(record_hash(record) ^ prng_mix64((u64)offset)));
    check_tables(image);
    if (touched != NULL) check_topic_partitions(touched);
    return true;
}

void metadata_image_applied(struct metadata_image *image, i64 offset)
{
    ASSERT(offset > image->applied_offset);
    image->applied_offset = offset;
}

/* ===== Snapshots ===== */

static void snapshot_write(const struct metadata_image *image, struct proto_writer *writer)
{
    u32 record_count = image->broker_count + image->broker_config_count;
    for (u32 i = 0; i < image->topic_count; i++) {
        record_count += 1 + image->topics[i].partition_count + image->topics[i].config_count;
    }
    ASSERT(record_count <= SNAPSHOT_RECORDS_MAX);
    u8 magic[2] = {METADATA_ENTRY_MAGIC, METADATA_SNAPSHOT_VERSION};
    proto_write_raw(writer, magic, sizeof(magic));
    proto_write_i64(writer, image->applied_offset);
    proto_write_i64(writer, (i64)image->digest);
    proto_write_i64(writer, image->next_producer_id);
    proto_write_u32(writer, record_count);

    struct metadata_record record;
    for (u32 i = 0; i < image->broker_count; i++) {
        const struct metadata_broker *broker = &image->brokers[i];
        memset(&record, 0, sizeof(record));
        record.type = METADATA_REGISTER_BROKER;
        struct metadata_register_broker *r = &record.as.register_broker;
        r->broker_id = broker->id;
        r->broker_epoch = broker->epoch; /* Load restores it; apply would use the offset. */
        r->incarnation_id = broker->incarnation_id;
        memcpy(r->rack, broker->rack, sizeof(r->rack));
        memcpy(r->host, broker->host, sizeof(r->host));
        r->port = broker->port;
        r->fenced = broker->fenced;
        r->in_controlled_shutdown = broker->in_controlled_shutdown;
        metadata_record_write(writer, &record);
    }
    for (u32 i = 0; i < image->topic_count; i++) {
        const struct metadata_topic *topic = &image->topics[i];
        memset(&record, 0, sizeof(record));
        record.type = METADATA_TOPIC;
        memcpy(record.as.topic.name, topic->name, sizeof(topic->name));
        record.as.topic.topic_id = topic->id;
        metadata_record_write(writer, &record);
        for (u32 p = 0; p < topic->partition_count; p++) {
            const struct metadata_partition *partition = &topic->partitions[p];
            memset(&record, 0, sizeof(record));
            record.type = METADATA_PARTITION;
            struct metadata_partition_record *r = &record.as.partition;
            r->topic_id = topic->id;
            r->partition_id = (i32)p;
            r->replicas = partition->replicas;
            r->isr = partition->isr;
            r->removing = partition->removing;
            r->adding = partition->adding;
            r->leader = partition->leader;
            r->leader_epoch = partition->leader_epoch;
            r->partition_epoch = partition->partition_epoch;
            metadata_record_write(writer, &record);
        }
        for (u32 c = 0; c < topic->config_count; c++) {
            memset(&record, 0, sizeof(record));
            record.type = METADATA_CONFIG;
            struct metadata_config_record *r = &record.as.config;
            r->resource_type = METADATA_RESOURCE_TOPIC;
            memcpy(r->resource_name, topic->name, sizeof(topic->name));
            memcpy(r->name, topic->configs[c].name, sizeof(r->name));
            memcpy(r->value, topic->configs[c].value, sizeof(r->value));
            metadata_record_write(writer, &record);
        }
    }
    for (u32 i = 0; i < image->broker_config_count; i++) {
        const struct metadata_broker_config *entry = &image->broker_configs[i];
        memset(&record, 0, sizeof(record));
        record.type = METADATA_CONFIG;
        struct metadata_config_record *r = &record.as.config;
        r->resource_type = METADATA_RESOURCE_BROKER;
        memcpy(r->resource_name, entry->resource_name, sizeof(entry->resource_name));
        memcpy(r->name, entry->config.name, sizeof(r->name));
        memcpy(r->value, entry->config.value, sizeof(r->value));
        metadata_record_write(writer, &record);
    }
}

u32 metadata_image_snapshot_size(const struct metadata_image *image)
{
    struct proto_writer writer;
    proto_writer_init_counter(&writer);
    snapshot_write(image, &writer);
    ASSERT(writer.error == PROTO_OK);
    return writer.position + SNAPSHOT_TRAILER_SIZE;
}

u32 metadata_image_save(const struct metadata_image *image, u8 *buffer, u32 capacity)
{
    ASSERT(buffer != NULL || capacity == 0);
    if (capacity < SNAPSHOT_TRAILER_SIZE) return 0;
    struct proto_writer writer;
    proto_writer_init(&writer, buffer, capacity - SNAPSHOT_TRAILER_SIZE);
    snapshot_write(image, &writer);
    if (writer.error != PROTO_OK) return 0;
    store_u32_be(buffer + writer.position, crc32c(buffer, writer.position));
    return writer.position + SNAPSHOT_TRAILER_SIZE;
}

/* The records a snapshot may hold, and what they must look like there. */
static bool snapshot_record_allowed(const struct metadata_record *record)
{
    switch (record->type) {
    case METADATA_REGISTER_BROKER:
        return record->as.register_broker.broker_epoch >= 0;
    case METADATA_TOPIC:
    case METADATA_PARTITION:
    case METADATA_CONFIG:
        return true;
    default:
        return false;
    }
}

static bool snapshot_read(struct metadata_image *image, const u8 *data, u32 size)
{
    if (size < SNAPSHOT_HEADER_SIZE + SNAPSHOT_TRAILER_SIZE) return false;
    if (data[0] != METADATA_ENTRY_MAGIC || data[1] != METADATA_SNAPSHOT_VERSION) return false;
    u32 body_size = size - SNAPSHOT_TRAILER_SIZE;
    if (crc32c(data, body_size) != load_u32_be(data + body_size)) return false;
    struct proto_reader reader;
    proto_reader_init(&reader, data + 2, body_size - 2);
    i64 applied_offset = proto_read_i64(&reader);
    u64 digest = (u64)proto_read_i64(&reader);
    i64 next_producer_id = proto_read_i64(&reader);
    u32 record_count = proto_read_u32(&reader);
    if (reader.error != PROTO_OK || applied_offset < -1 || next_producer_id < 0 ||
        record_count > SNAPSHOT_RECORDS_MAX) {
        return false;
    }
    struct metadata_record record;
    for (u32 i = 0; i < record_count; i++) {
        if (!metadata_record_read(&reader, &record)) return false;
        if (!snapshot_record_allowed(&record)) return false;
        i64 broker_epoch = record.type == METADATA_REGISTER_BROKER
                               ? record.as.register_broker.broker_epoch : 0;
        struct metadata_topic *touched;
        if (!apply_record(image, &record, broker_epoch, &touched)) return false;
    }
    if (proto_reader_remaining(&reader) != 0) return false;
    image->applied_offset = applied_offset;
    image->digest = digest;
    image->next_producer_id = next_producer_id;
    return true;
}

bool metadata_image_load(struct metadata_image *image, const u8 *data, u32 size)
{
    ASSERT(data != NULL || size == 0);
    metadata_image_clear(image);
    if (!snapshot_read(image, data, size)) {
        metadata_image_clear(image);
        return false;
    }
    metadata_image_check(image);
    return true;
}
