/* broker_topics.c: the broker's topics, their partition logs, and the durable topics file.
 *
 * A topic is a name, a random 16-byte id and partition_count partition logs (impl/log), all
 * allocated when the topic is created (at most BROKER_TOPICS_MAX topics of at most
 * BROKER_PARTITIONS_MAX partitions). A partition serves requests once its log has opened
 * (recovered); until then Metadata says LEADER_NOT_AVAILABLE for it.
 *
 * Topic metadata on a single node lives in the text file `cairn-topics` in the data directory,
 * one line per topic: "<name> <partitions> <32 hex digits of the id>" and then its config
 * overrides as "config=value" words (broker_configs.c). It is read at start-up
 * (the partition logs it names are then opened and recovered) and rewritten after each creation
 * through `cairn-topics.tmp`: write, sync, close, rename (atomic and durable). A creation
 * during a rewrite marks the file dirty and starts another rewrite after it. The controller
 * issue moves topic metadata into the KRaft metadata log; this file is the stand-in until then.
 * Invariants: at most one topics-file operation in flight; a deleted topic's slot is reused
 * only once its files are gone (broker_admin.c).
 *
 * Tested by tests/unit/test_broker.c (creation, the file across a restart of the broker) and
 * tests/integration/kafka_kcat.sh. */
#include "broker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum broker_file_step {
    BROKER_STEP_LOAD_OPEN = 1,
    BROKER_STEP_LOAD_READ,
    BROKER_STEP_SAVE_OPEN,
    BROKER_STEP_SAVE_WRITE,
    BROKER_STEP_SAVE_SYNC,
    BROKER_STEP_SAVE_RENAME,
};

static u64 broker_file_data(enum broker_file_step step)
{
    return BROKER_FILE_TAG | BROKER_FILE_TOPICS | (u64)step;
}

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
    return entry->states[partition] == BROKER_PARTITION_OPEN;
}


/* Initializes and starts opening the log of partition p of topic index. */
void broker_partition_start(struct broker *broker, u32 index, u32 p)
{
    struct broker_topic *topic = &broker->topics[index];
    ASSERT(topic->used && p < topic->partition_count);
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
    if (topic->logs == NULL || topic->states == NULL) {
        free(topic->logs);
        free(topic->states);
        topic->logs = NULL;
        topic->states = NULL;
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

i16 broker_topic_create(struct broker *broker, struct proto_string name, i32 partitions,
                        bool persist, u32 overrides_set, const i64 *overrides)
{
    if (!broker_topic_name_valid(name)) return KAFKA_ERROR_INVALID_TOPIC_EXCEPTION;
    if (broker_topic_find(broker, name) >= 0) return KAFKA_ERROR_TOPIC_ALREADY_EXISTS;
    if (partitions < 1 || (u32)partitions > BROKER_PARTITIONS_MAX) {
        return KAFKA_ERROR_INVALID_PARTITIONS;
    }
    if (persist && broker->file_state == BROKER_TOPICS_LOADING) {
        return KAFKA_ERROR_LEADER_NOT_AVAILABLE; /* Retriable: the file is still being read. */
    }
    /* Kafka's answer while a deleted topic of that name is still being removed: its files
     * share the directory names the new topic would use. */
    if (broker_topic_deleting(broker, name)) return KAFKA_ERROR_TOPIC_ALREADY_EXISTS;
    u32 index = broker_topic_free_index(broker);
    if (index == BROKER_TOPICS_MAX) return KAFKA_ERROR_POLICY_VIOLATION;
    struct proto_uuid id;
    u64 high = io_random_u64(broker->io), low = io_random_u64(broker->io);
    store_u64_be(id.bytes, high);
    store_u64_be(id.bytes + 8, low | 1); /* Never the all-zero (null) id. */
    if (!broker_topic_init(broker, index, name, (u32)partitions, id, overrides_set,
                           overrides)) {
        return KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
    }
    if (persist) broker_topics_save(broker);
    return KAFKA_ERROR_NONE;
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
        }
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

/* ===== The topics file ===== */

void broker_topics_load(struct broker *broker)
{
    broker->file_state = BROKER_TOPICS_LOADING;
    enum io_result result = io_file_open(broker->io, BROKER_TOPICS_FILE, IO_OPEN_CREATE,
                                         broker_file_data(BROKER_STEP_LOAD_OPEN));
    if (result != IO_OK) {
        io_log(broker->io, IO_LOG_ERROR, "broker: cannot open %s: %s", BROKER_TOPICS_FILE,
               io_result_name(result));
        broker->file_state = BROKER_TOPICS_IDLE;
    }
}

static u8 broker_hex_value(char c)
{
    if (c >= '0' && c <= '9') return (u8)(c - '0');
    if (c >= 'a' && c <= 'f') return (u8)(c - 'a' + 10);
    return 0xff;
}

/* The "config=value" words after the id: topic config overrides. */
static bool broker_topics_parse_overrides(char *words, u32 *set, i64 *overrides)
{
    char *state = NULL;
    for (char *word = strtok_r(words, " ", &state); word != NULL;
         word = strtok_r(NULL, " ", &state)) {
        char *equals = strchr(word, '=');
        if (equals == NULL) return false;
        i32 id = broker_topic_config_find(word, (u32)(equals - word));
        if (id < 0 || !broker_topic_config_parse((u32)id, equals + 1, (u32)strlen(equals + 1),
                                                 &overrides[id])) {
            return false;
        }
        *set |= 1u << id;
    }
    return true;
}

/* One line "<name> <partitions> <id hex> [config=value ...]"; a malformed line is logged and
 * skipped. */
static void broker_topics_parse_line(struct broker *broker, char *line)
{
    char name[BROKER_TOPIC_NAME_MAX + 1];
    char hex[33];
    unsigned partitions = 0;
    struct proto_uuid id;
    int consumed = 0;
    bool ok = sscanf(line, "%249s %u %32s%n", name, &partitions, hex, &consumed) == 3 &&
              strlen(hex) == 32;
    u32 overrides_set = 0;
    i64 overrides[BROKER_TOPIC_CONFIGS] = {0};
    ok = ok && broker_topics_parse_overrides(line + consumed, &overrides_set, overrides);
    for (u32 i = 0; ok && i < 16; i++) {
        u8 high = broker_hex_value(hex[2 * i]), low = broker_hex_value(hex[2 * i + 1]);
        ok = high != 0xff && low != 0xff;
        id.bytes[i] = (u8)(high << 4 | low);
    }
    struct proto_string view = proto_string_of(name);
    ok = ok && broker_topic_name_valid(view) && broker_topic_find(broker, view) < 0 &&
         partitions >= 1 && partitions <= BROKER_PARTITIONS_MAX;
    u32 index = ok ? broker_topic_free_index(broker) : BROKER_TOPICS_MAX;
    if (!ok || index == BROKER_TOPICS_MAX ||
        !broker_topic_init(broker, index, view, partitions, id, overrides_set, overrides)) {
        io_log(broker->io, IO_LOG_ERROR, "broker: %s: bad line skipped", BROKER_TOPICS_FILE);
    }
}

static void broker_topics_parse(struct broker *broker, u32 size)
{
    ASSERT(size < BROKER_TOPICS_FILE_SIZE_MAX);
    char *text = (char *)broker->file_buffer;
    text[size] = '\0';
    char *cursor = text;
    for (u32 line = 0; line < BROKER_TOPICS_MAX && *cursor != '\0'; line++) {
        char *end = strchr(cursor, '\n');
        if (end == NULL) break; /* A torn last line (never synced whole): ignored. */
        *end = '\0';
        broker_topics_parse_line(broker, cursor);
        cursor = end + 1;
    }
}

static u32 broker_topics_format(struct broker *broker)
{
    u32 size = 0;
    for (u32 i = 0; i < BROKER_TOPICS_MAX; i++) {
        const struct broker_topic *topic = &broker->topics[i];
        if (!topic->used) continue;
        char hex[33];
        for (u32 b = 0; b < 16; b++) snprintf(hex + 2 * b, 3, "%02x", topic->id.bytes[b]);
        char *text = (char *)broker->file_buffer;
        int written = snprintf(text + size, BROKER_TOPICS_FILE_SIZE_MAX - size, "%s %u %s",
                               topic->name, topic->partition_count, hex);
        ASSERT(written > 0 && size + (u32)written < BROKER_TOPICS_FILE_SIZE_MAX);
        size += (u32)written;
        for (u32 c = 0; c < BROKER_TOPIC_CONFIGS; c++) {
            if (!(topic->overrides_set & (1u << c))) continue;
            char value[32];
            broker_topic_config_format(c, topic->overrides[c], value, sizeof(value));
            written = snprintf(text + size, BROKER_TOPICS_FILE_SIZE_MAX - size, " %s=%s",
                               broker_topic_config_name(c), value);
            ASSERT(written > 0 && size + (u32)written < BROKER_TOPICS_FILE_SIZE_MAX);
            size += (u32)written;
        }
        ASSERT(size + 1 < BROKER_TOPICS_FILE_SIZE_MAX);
        text[size++] = '\n';
    }
    return size;
}

void broker_topics_save(struct broker *broker)
{
    if (broker->file_state != BROKER_TOPICS_IDLE) {
        broker->file_dirty = true;
        return;
    }
    broker->file_dirty = false;
    broker->file_size = broker_topics_format(broker);
    broker->file_state = BROKER_TOPICS_WRITING;
    enum io_result result =
        io_file_open(broker->io, BROKER_TOPICS_FILE_TEMPORARY, IO_OPEN_CREATE | IO_OPEN_TRUNCATE,
                     broker_file_data(BROKER_STEP_SAVE_OPEN));
    if (result != IO_OK) {
        io_log(broker->io, IO_LOG_ERROR, "broker: cannot write %s: %s", BROKER_TOPICS_FILE,
               io_result_name(result));
        broker->file_state = BROKER_TOPICS_IDLE;
    }
}

/* Issues the next step of a load or a save; returns the io result of issuing it. */
static enum io_result broker_topics_step(struct broker *broker,
                                         const struct io_completion *completion)
{
    u32 step = (u32)(completion->user_data & 0xffu);
    switch (step) {
    case BROKER_STEP_LOAD_OPEN:
        broker->file = completion->file;
        if (completion->file_size == 0) return IO_ERR_NOT_FOUND; /* No topics yet. */
        if (completion->file_size >= BROKER_TOPICS_FILE_SIZE_MAX) return IO_ERR_INVALID;
        return io_file_read(broker->io, broker->file, 0, broker->file_buffer,
                            (u32)completion->file_size, broker_file_data(BROKER_STEP_LOAD_READ));
    case BROKER_STEP_LOAD_READ:
        broker_topics_parse(broker, completion->size);
        return IO_ERR_NOT_FOUND; /* Done. */
    case BROKER_STEP_SAVE_OPEN:
        broker->file = completion->file;
        if (broker->file_size == 0) { /* Every topic deleted: the truncated file is it. */
            return io_file_sync(broker->io, broker->file, broker_file_data(BROKER_STEP_SAVE_SYNC));
        }
        return io_file_write(broker->io, broker->file, 0, broker->file_buffer, broker->file_size,
                             broker_file_data(BROKER_STEP_SAVE_WRITE));
    case BROKER_STEP_SAVE_WRITE:
        return io_file_sync(broker->io, broker->file, broker_file_data(BROKER_STEP_SAVE_SYNC));
    case BROKER_STEP_SAVE_SYNC:
        io_file_close(broker->io, broker->file);
        broker->file = 0;
        return io_file_rename(broker->io, BROKER_TOPICS_FILE_TEMPORARY, BROKER_TOPICS_FILE,
                              broker_file_data(BROKER_STEP_SAVE_RENAME));
    default:
        ASSERT(step == BROKER_STEP_SAVE_RENAME);
        return IO_ERR_NOT_FOUND; /* Done. */
    }
}

void broker_topics_on_file(struct broker *broker, const struct io_completion *completion)
{
    ASSERT(broker->file_state != BROKER_TOPICS_IDLE);
    enum io_result result = completion->result;
    if (result == IO_OK) result = broker_topics_step(broker, completion);
    if (result == IO_OK) return; /* The next step is in flight. */
    if (result != IO_ERR_NOT_FOUND) {
        io_log(broker->io, IO_LOG_ERROR, "broker: %s: %s", BROKER_TOPICS_FILE,
               io_result_name(result));
    }
    if (broker->file != 0) io_file_close(broker->io, broker->file);
    broker->file = 0;
    broker->file_state = BROKER_TOPICS_IDLE;
    if (broker->file_dirty) broker_topics_save(broker);
}
