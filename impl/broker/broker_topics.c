/* broker_topics.c: the broker's topics and their partition logs, kept in step with the
 * metadata image.
 *
 * Topics, their partitions, replicas, leaders and configs are decided by the active controller
 * and arrive as committed metadata records (impl/metadata); the node applies them to its image
 * and calls broker_on_metadata, which reconciles this table with the image: a topic new to the
 * image gets a slot and opens the logs of the partitions this broker is a replica of (the
 * others are NOT_HOSTED), a grown topic opens its new partitions, changed overrides reach the
 * open logs, and a topic gone from the image (deleted, or replaced by another of the same name
 * with a new id) is deleted here once its logs are idle (broker_admin.c removes its files).
 * After a restart the image is empty until the metadata log is replayed; logs open as their
 * topics reappear. A partition serves Produce/Fetch only when its log is open AND the image
 * names this broker its leader.
 * Invariants: a used slot's id is in the image or the slot awaits deletion; a deleted topic's
 * slot is reused only once its files are gone (broker_admin.c).
 *
 * Tested by tests/unit/test_broker.c and every integration test (kcat, Python, kafkajs, the
 * 3-node cluster). */
#include "broker_internal.h"

#include "../../model/history.h" /* HISTORY_REPLICA_OPENED. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

i32 broker_topic_find(const struct broker *broker, struct proto_string name)
{
    if (name.size <= 0) return -1;
    for (u32 i = 0; i < BROKER_TOPICS_MAX; i++) {
        const struct broker_topic *topic = &broker->topics[i];
        if (topic->used && proto_string_equal_cstr(name, topic->name)) return (i32)i;
    }
    return -1;
}

/* Kafka's rule: 1..249 characters of [a-zA-Z0-9._-], and not "." or "..". */
bool broker_topic_name_valid(struct proto_string name)
{
    if (name.size <= 0 || (u32)name.size > BROKER_TOPIC_NAME_MAX) return false;
    if (proto_string_equal_cstr(name, ".") || proto_string_equal_cstr(name, "..")) return false;
    for (i32 i = 0; i < name.size; i++) {
        char c = name.data[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool broker_topic_deleting(const struct broker *broker, struct proto_string name)
{
    for (u32 i = 0; i < BROKER_TOPICS_MAX; i++) {
        const struct broker_topic *topic = &broker->topics[i];
        if (topic->deleting && proto_string_equal_cstr(name, topic->name)) return true;
    }
    return false;
}

bool broker_partition_ready(const struct broker *broker, u32 topic, i32 partition)
{
    ASSERT(topic < BROKER_TOPICS_MAX);
    const struct broker_topic *entry = &broker->topics[topic];
    ASSERT(entry->used);
    if (partition < 0 || (u32)partition >= entry->partition_count) return false;
    if (entry->states[partition] != BROKER_PARTITION_OPEN) return false;
    const struct metadata_partition *metadata = broker_partition_metadata(broker, topic, partition);
    return metadata != NULL && metadata->leader == (i32)broker->config.node_id;
}

i32 broker_leader_epoch(const struct broker *broker, u32 index, i32 partition)
{
    const struct metadata_partition *metadata = broker_partition_metadata(broker, index, partition);
    return metadata == NULL ? 0 : MAX(metadata->leader_epoch, 0);
}

const struct metadata_partition *broker_partition_metadata(const struct broker *broker,
                                                           u32 index, i32 partition)
{
    ASSERT(index < BROKER_TOPICS_MAX);
    if (broker->image == NULL || partition < 0) return NULL;
    const struct broker_topic *topic = &broker->topics[index];
    struct metadata_uuid id;
    memcpy(id.bytes, topic->id.bytes, sizeof(id.bytes));
    const struct metadata_topic *entry = metadata_topic_find_id(broker->image, &id);
    if (entry == NULL || (u32)partition >= entry->partition_count) return NULL;
    return &entry->partitions[partition];
}


/* Initializes and starts opening the log of partition p of topic index. */
void broker_partition_start(struct broker *broker, u32 index, u32 p)
{
    struct broker_topic *topic = &broker->topics[index];
    ASSERT(topic->used && p < topic->partition_count);
    const struct metadata_partition *metadata = broker_partition_metadata(broker, index, (i32)p);
    if (metadata == NULL ||
        !metadata_ids_contains(&metadata->replicas, (i32)broker->config.node_id)) {
        topic->states[p] = BROKER_PARTITION_NOT_HOSTED;
        return;
    }
    struct log_config log_config;
    broker_topic_log_config(broker, topic, &log_config);
    struct partition_log_params params = {
        .topic = topic->name, .partition = (i32)p, .root = "", .config = log_config,
        .io_tag = BROKER_LOG_TAG | index << 8 | p, .on_event = broker_on_log_event,
        .owner = broker, .scratch = NULL, .scratch_size = 0};
    topic->states[p] = BROKER_PARTITION_OPENING;
    bool ok = partition_log_init(&topic->logs[p], broker->io, &params);
    ASSERT(ok); /* Memory at creation: a failure here is not recoverable. */
    enum log_result result = partition_log_open(
        &topic->logs[p], broker_event_data(BROKER_EVENT_OPEN, 0, index << 8 | p));
    if (result != LOG_OK) topic->states[p] = BROKER_PARTITION_FAILED;
}

/* ===== Offline logs ===== */

bool broker_partition_offline(const struct broker *broker, u32 topic, u32 partition)
{
    const struct broker_topic *entry = &broker->topics[topic];
    ASSERT(entry->used && partition < entry->partition_count);
    enum broker_partition_state state = entry->states[partition];
    return state == BROKER_PARTITION_FAILED ||
           (state == BROKER_PARTITION_OPEN && entry->logs[partition].state == LOG_STATE_FAILED);
}

/* True when nothing is in flight on the partition's log. Requests in service may still name
 * the partition (a consumer's long poll always does); they wait on no event of this log, and a
 * file range one of them still has to send fails that send, which closes its connection (the
 * client retries, as after any broken connection). */
bool broker_partition_idle(const struct broker *broker, u32 topic, u32 partition)
{
    const struct partition_log *log = &broker->topics[topic].logs[partition];
    return !log->io_in_flight && log->request_count == 0 && !log->in_call;
}

/* An I/O error took these logs offline (partition_log.h): open them again, which runs the
 * recovery scan (a torn or corrupt tail is cut, indexes rebuilt), as Kafka's operator would
 * restart a broker whose log directory failed. Until then the partition answers
 * KAFKA_STORAGE_ERROR; afterwards its role is set from the image again. */
void broker_partitions_restart_offline(struct broker *broker)
{
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        struct broker_topic *topic = &broker->topics[t];
        if (!topic->used || topic->deleting) continue;
        for (u32 p = 0; p < topic->partition_count; p++) {
            if (!broker_partition_offline(broker, t, p) || !broker_partition_idle(broker, t, p)) {
                continue;
            }
            io_log(broker->io, IO_LOG_WARN, "broker: %s-%u is offline; opening it again",
                   topic->name, p);
            partition_log_deinit(&topic->logs[p]);
            /* The role starts over when the log is open again; the high watermark is kept (a
             * recovery that cut below it shows as the high watermark going back). */
            topic->replicas[p].role = BROKER_REPLICA_NONE;
            broker_partition_start(broker, t, p);
        }
    }
}

/* A free topic slot (neither used nor still removing a deleted topic's files), or
 * BROKER_TOPICS_MAX. */
static u32 broker_topic_free_index(const struct broker *broker)
{
    u32 index = 0;
    while (index < BROKER_TOPICS_MAX &&
           (broker->topics[index].used || broker->topics[index].deleting)) {
        index++;
    }
    return index;
}

/* Allocates and opens the logs of a new topic in slot index. */
static bool broker_topic_init(struct broker *broker, u32 index, struct proto_string name,
                              u32 partitions, struct proto_uuid id, u32 overrides_set,
                              const i64 *overrides)
{
    struct broker_topic *topic = &broker->topics[index];
    ASSERT(!topic->used);
    topic->overrides_set = overrides_set;
    memcpy(topic->overrides, overrides, sizeof(topic->overrides));
    ASSERT(partitions >= 1 && partitions <= BROKER_PARTITIONS_MAX);
    topic->logs = calloc(partitions, sizeof(*topic->logs));
    topic->states = calloc(partitions, sizeof(*topic->states));
    topic->replicas = calloc(partitions, sizeof(*topic->replicas));
    if (topic->logs == NULL || topic->states == NULL || topic->replicas == NULL) {
        free(topic->logs);
        free(topic->states);
        free(topic->replicas);
        topic->logs = NULL;
        topic->states = NULL;
        topic->replicas = NULL;
        return false;
    }
    topic->used = true;
    memcpy(topic->name, name.data, (size_t)name.size);
    topic->name[name.size] = '\0';
    topic->id = id;
    topic->partition_count = partitions;
    broker->topic_count++;
    for (u32 p = 0; p < partitions; p++) broker_partition_start(broker, index, p);
    io_log(broker->io, IO_LOG_INFO, "broker: topic %s with %u partitions", topic->name,
           partitions);
    return true;
}

void broker_on_log_event(void *owner, const struct log_event *event)
{
    struct broker *broker = owner;
    enum broker_event_kind kind = (enum broker_event_kind)(event->user_data >> 48);
    u32 slot = (u32)(event->user_data >> 32) & 0xffffu;
    u32 index = (u32)event->user_data;
    if (kind == BROKER_EVENT_CLOSE) {
        ASSERT(event->kind == LOG_EVENT_CLOSED);
        if (event->result != LOG_OK) {
            io_log(broker->io, IO_LOG_WARN, "broker: a log did not close cleanly: %s",
                   log_result_name(event->result));
        }
        return;
    }
    if (kind == BROKER_EVENT_OPEN) {
        ASSERT(event->kind == LOG_EVENT_OPENED);
        u32 topic = index >> 8, partition = index & 0xffu;
        ASSERT(topic < BROKER_TOPICS_MAX && broker->topics[topic].used);
        ASSERT(partition < broker->topics[topic].partition_count);
        bool ok = event->result == LOG_OK;
        if (broker->topics[topic].states[partition] == BROKER_PARTITION_CLOSED) return;
        broker->topics[topic].states[partition] =
            ok ? BROKER_PARTITION_OPEN : BROKER_PARTITION_FAILED;
        if (!ok) {
            io_log(broker->io, IO_LOG_ERROR, "broker: %s-%u did not open: %s",
                   broker->topics[topic].name, partition, log_result_name(event->result));
        } else {
            const struct partition_log *log = &broker->topics[topic].logs[partition];
            struct io_observation opened = {
                .kind = HISTORY_REPLICA_OPENED,
                .a = history_topic_hash(broker->topics[topic].id.bytes), .b = partition,
                .c = (u64)partition_log_end_offset(log),
                .d = (u64)partition_log_start_offset(log)};
            io_observe(broker->io, &opened);
        }
        broker_replica_reconcile(broker, topic, partition);
        broker_fetcher_reconcile(broker);
        broker_groups_reconcile(broker); /* A __consumer_offsets log led here loads. */
        return;
    }
    if (kind == BROKER_EVENT_REPLICA) {
        broker_fetcher_on_log_event(broker, index >> 8, index & 0xffu, event);
        return;
    }
    if (kind == BROKER_EVENT_GROUP_APPEND || kind == BROKER_EVENT_GROUP_READ) {
        broker_groups_on_log_event(broker, kind, index, event);
        return;
    }
    ASSERT(slot < BROKER_SLOTS_MAX);
    broker_data_on_event(broker, &broker->slots[slot], kind, index, event);
}

/* A graceful stop: every open log flushes, checkpoints and records a clean shutdown (the next
 * open then skips the recovery scan). Requests from now on find the partitions unavailable. */
void broker_topics_close(struct broker *broker)
{
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        struct broker_topic *topic = &broker->topics[t];
        if (!topic->used) continue;
        for (u32 p = 0; p < topic->partition_count; p++) {
            bool was_open = topic->states[p] == BROKER_PARTITION_OPEN;
            topic->states[p] = BROKER_PARTITION_CLOSED;
            if (!was_open) continue;
            enum log_result result = partition_log_close(
                &topic->logs[p], broker_event_data(BROKER_EVENT_CLOSE, 0, t << 8 | p));
            COVER(result != LOG_OK);
        }
    }
}

/* Grows the topic's logs to count partitions and starts opening the new ones. The existing
 * logs move even with operations in flight: a log holds no pointer into itself that io keeps
 * (its io buffers are heap memory; completions find it by io tag), and requests in service
 * name partitions by index. */
bool broker_topic_grow(struct broker *broker, u32 index, u32 count)
{
    struct broker_topic *topic = &broker->topics[index];
    ASSERT(count > topic->partition_count && count <= BROKER_PARTITIONS_MAX);
    struct partition_log *logs = calloc(count, sizeof(*logs));
    enum broker_partition_state *states = calloc(count, sizeof(*states));
    struct broker_replica *replicas = calloc(count, sizeof(*replicas));
    if (logs == NULL || states == NULL || replicas == NULL) {
        free(logs);
        free(states);
        free(replicas);
        return false;
    }
    u32 old = topic->partition_count;
    memcpy(logs, topic->logs, old * sizeof(*logs));
    memcpy(states, topic->states, old * sizeof(*states));
    memcpy(replicas, topic->replicas, old * sizeof(*replicas));
    free(topic->logs);
    free(topic->states);
    free(topic->replicas);
    topic->logs = logs;
    topic->states = states;
    topic->replicas = replicas;
    topic->partition_count = count;
    for (u32 p = old; p < count; p++) broker_partition_start(broker, index, p);
    io_log(broker->io, IO_LOG_INFO, "broker: topic %s now has %u partitions", topic->name,
           count);
    return true;
}

/* ===== Reconciling with the metadata image ===== */

static struct metadata_uuid broker_metadata_id(struct proto_uuid id)
{
    struct metadata_uuid out;
    memcpy(out.bytes, id.bytes, sizeof(out.bytes));
    return out;
}

static i32 broker_topic_find_id(const struct broker *broker, const struct metadata_uuid *id)
{
    for (u32 i = 0; i < BROKER_TOPICS_MAX; i++) {
        const struct broker_topic *topic = &broker->topics[i];
        if (topic->used && memcmp(topic->id.bytes, id->bytes, sizeof(id->bytes)) == 0) {
            return (i32)i;
        }
    }
    return -1;
}

static bool broker_overrides_equal(const struct broker_topic *topic, u32 set,
                                   const i64 *overrides)
{
    if (topic->overrides_set != set) return false;
    for (u32 id = 0; id < BROKER_TOPIC_CONFIGS; id++) {
        if ((set & (1u << id)) && topic->overrides[id] != overrides[id]) return false;
    }
    return true;
}

/* A topic new to this broker: a slot, and the logs of the partitions it hosts. */
static void broker_topic_appear(struct broker *broker, const struct metadata_topic *entry,
                                u32 set, const i64 *overrides)
{
    struct proto_string name = proto_string_of(entry->name);
    /* An older topic of the same name (deleted, or about to be) leaves first: their logs
     * would share directory names. Its deletion ends with another reconciliation. */
    if (broker_topic_find(broker, name) >= 0 || broker_topic_deleting(broker, name)) return;
    u32 index = broker_topic_free_index(broker);
    struct proto_uuid id;
    memcpy(id.bytes, entry->id.bytes, sizeof(id.bytes));
    if (index == BROKER_TOPICS_MAX ||
        !broker_topic_init(broker, index, name, entry->partition_count, id, set, overrides)) {
        io_log(broker->io, IO_LOG_ERROR, "broker: no room for topic %s", entry->name);
    }
}

static bool broker_on_metadata_reconcile(struct broker *broker)
{
    bool settled = true;
    const struct metadata_image *image = broker->image;
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        const struct broker_topic *topic = &broker->topics[t];
        if (!topic->used) continue;
        struct metadata_uuid id = broker_metadata_id(topic->id);
        if (metadata_topic_find_id(image, &id) != NULL) continue;
        if (!broker_topic_delete_when_idle(broker, t)) settled = false;
    }
    for (u32 i = 0; i < image->topic_count; i++) {
        const struct metadata_topic *entry = &image->topics[i];
        if (entry->partition_count == 0) continue;
        u32 set = 0;
        i64 overrides[BROKER_TOPIC_CONFIGS] = {0};
        broker_topic_overrides(entry, &set, overrides);
        i32 index = broker_topic_find_id(broker, &entry->id);
        if (index < 0) {
            broker_topic_appear(broker, entry, set, overrides);
            continue;
        }
        struct broker_topic *topic = &broker->topics[index];
        if (entry->partition_count > topic->partition_count &&
            !broker_topic_grow(broker, (u32)index, entry->partition_count)) {
            settled = false;
        }
        if (!broker_overrides_equal(topic, set, overrides)) {
            broker_topic_apply_overrides(broker, (u32)index, set, overrides);
        }
        /* A partition reassigned to this broker opens its log (one reassigned away keeps it
         * until the topic goes: replication will hand it over). */
        for (u32 p = 0; p < topic->partition_count; p++) {
            if (topic->states[p] != BROKER_PARTITION_NOT_HOSTED) continue;
            const struct metadata_partition *partition = &entry->partitions[p];
            if (metadata_ids_contains(&partition->replicas, (i32)broker->config.node_id)) {
                broker_partition_start(broker, (u32)index, p);
            }
        }
    }
    return settled;
}

void broker_on_metadata(struct broker *broker)
{
    if (broker->image == NULL || broker->stopping) return;
    broker->reconcile_pending = !broker_on_metadata_reconcile(broker);
    if (broker->reconcile_pending) broker_link_wake(broker, 10u * 1000u * 1000u);
    /* Roles follow the image: leaders, followers, and the fetchers that serve the latter. */
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        struct broker_topic *topic = &broker->topics[t];
        if (!topic->used) continue;
        for (u32 p = 0; p < topic->partition_count; p++) broker_replica_reconcile(broker, t, p);
    }
    broker_fetcher_reconcile(broker);
    broker_groups_reconcile(broker); /* Groups load and unload with leadership. */
    /* Parked fetches of partitions whose leadership moved end now rather than at max wait. */
    for (u32 s = 0; s < BROKER_SLOTS_MAX; s++) {
        struct broker_slot *slot = &broker->slots[s];
        if (!slot->used || !slot->parked) continue;
        for (u32 i = 0; i < slot->part_count; i++) {
            const struct broker_part *part = &slot->parts[i];
            if (part->topic == BROKER_TOPIC_NONE || part->error != KAFKA_ERROR_NONE) continue;
            if (broker_partition_ready(broker, part->topic, part->partition)) continue;
            broker_fetch_on_timer(broker, slot);
            break;
        }
    }
}
