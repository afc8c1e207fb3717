/* broker_configs.c: DescribeConfigs, and the topic-level configs
 * a topic may override.
 *
 * broker_topic_configs lists the topic configs the partition log knows (Kafka's names), each
 * with its broker-level synonym, its type and where the log keeps it. A topic's effective value
 * is its override if set (source TOPIC_CONFIG), else the broker's value: from the properties
 * file when it differs from Kafka's default (STATIC_BROKER_CONFIG), else Kafka's default
 * (DEFAULT_CONFIG). DescribeConfigs of a broker (resource type 4, named by its node id, or ""
 * for the cluster default) lists the broker-level settings, read-only (this broker has no
 * dynamic broker configs yet).
 *
 * Overrides live in the metadata log as ConfigRecords: CreateTopics and IncrementalAlterConfigs
 * are forwarded to the active controller (broker_link.c), which validates and records them;
 * when the image changes, broker_topics.c hands each topic's overrides to
 * broker_topic_apply_overrides, which applies them to the open logs at once. cleanup.policy
 * reaches a log that was opened without compaction only when it next opens (the cleaner's
 * memory is allocated at open). min.insync.replicas (Kafka's name at both levels, 1..INT_MAX)
 * is no log config: Produce with acks=-1 reads it (broker_replica_min_insync).
 *
 * Tested by tests/unit/test_broker.c and tests/integration/kafka_python.sh. */
#include "broker_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum broker_config_type { /* Kafka's DescribeConfigs ConfigType. */
    BROKER_TYPE_BOOLEAN = 1,
    BROKER_TYPE_STRING = 2,
    BROKER_TYPE_INT = 3,
    BROKER_TYPE_LONG = 5,
    BROKER_TYPE_LIST = 7,
};

enum broker_config_source { /* Kafka's DescribeConfigs ConfigSource. */
    BROKER_SOURCE_TOPIC = 1,
    BROKER_SOURCE_STATIC_BROKER = 4,
    BROKER_SOURCE_DEFAULT = 5,
};

#define BROKER_RESOURCE_TOPIC 2
#define BROKER_RESOURCE_BROKER 4

struct broker_config_info {
    const char *name;
    const char *broker_name; /* Its broker-level synonym. */
    enum broker_config_type type;
    i64 min;
};

static const struct broker_config_info broker_topic_configs[BROKER_TOPIC_CONFIGS] = {
    [BROKER_CONFIG_CLEANUP_POLICY] = {"cleanup.policy", "log.cleanup.policy", BROKER_TYPE_LIST, 1},
    [BROKER_CONFIG_DELETE_RETENTION_MS] = {"delete.retention.ms",
                                           "log.cleaner.delete.retention.ms", BROKER_TYPE_LONG, 0},
    [BROKER_CONFIG_FLUSH_MESSAGES] = {"flush.messages", "log.flush.interval.messages",
                                      BROKER_TYPE_LONG, 1},
    [BROKER_CONFIG_FLUSH_MS] = {"flush.ms", "log.flush.interval.ms", BROKER_TYPE_LONG, 0},
    [BROKER_CONFIG_MAX_MESSAGE_BYTES] = {"max.message.bytes", "message.max.bytes",
                                         BROKER_TYPE_INT, 0},
    [BROKER_CONFIG_RETENTION_BYTES] = {"retention.bytes", "log.retention.bytes",
                                       BROKER_TYPE_LONG, -1},
    [BROKER_CONFIG_RETENTION_MS] = {"retention.ms", "log.retention.ms", BROKER_TYPE_LONG, -1},
    [BROKER_CONFIG_SEGMENT_BYTES] = {"segment.bytes", "log.segment.bytes", BROKER_TYPE_INT, 14},
    [BROKER_CONFIG_SEGMENT_MS] = {"segment.ms", "log.roll.ms", BROKER_TYPE_LONG, 1},
    [BROKER_CONFIG_MIN_INSYNC_REPLICAS] = {"min.insync.replicas", "min.insync.replicas",
                                           BROKER_TYPE_INT, 1},
};

static i64 broker_log_config_get(const struct log_config *config, u32 id)
{
    switch (id) {
    case BROKER_CONFIG_CLEANUP_POLICY: return config->cleanup_policy;
    case BROKER_CONFIG_DELETE_RETENTION_MS: return config->delete_retention_ms;
    case BROKER_CONFIG_FLUSH_MESSAGES: return (i64)MIN(config->flush_messages, (u64)INT64_MAX);
    case BROKER_CONFIG_FLUSH_MS: return (i64)MIN(config->flush_ms, (u64)INT64_MAX);
    case BROKER_CONFIG_MAX_MESSAGE_BYTES: return config->max_message_bytes;
    case BROKER_CONFIG_RETENTION_BYTES: return config->retention_bytes;
    case BROKER_CONFIG_RETENTION_MS: return config->retention_ms;
    case BROKER_CONFIG_SEGMENT_BYTES: return (i64)config->segment_bytes;
    default: ASSERT(id == BROKER_CONFIG_SEGMENT_MS); return config->segment_ms;
    }
}

static void broker_log_config_set(struct log_config *config, u32 id, i64 value)
{
    switch (id) {
    case BROKER_CONFIG_CLEANUP_POLICY: config->cleanup_policy = (u32)value; break;
    case BROKER_CONFIG_DELETE_RETENTION_MS: config->delete_retention_ms = value; break;
    case BROKER_CONFIG_FLUSH_MESSAGES: config->flush_messages = (u64)value; break;
    case BROKER_CONFIG_FLUSH_MS: config->flush_ms = (u64)value; break;
    case BROKER_CONFIG_MAX_MESSAGE_BYTES: config->max_message_bytes = (u32)value; break;
    case BROKER_CONFIG_RETENTION_BYTES: config->retention_bytes = value; break;
    case BROKER_CONFIG_RETENTION_MS: config->retention_ms = value; break;
    case BROKER_CONFIG_SEGMENT_BYTES: config->segment_bytes = (u64)value; break;
    default: ASSERT(id == BROKER_CONFIG_SEGMENT_MS); config->segment_ms = value; break;
    }
}

/* The broker-level log config (before topic overrides). */
static void broker_base_log_config(const struct broker *broker, struct log_config *config)
{
    log_config_defaults(config);
    config->segment_bytes = broker->config.log_segment_bytes;
    config->flush_messages = broker->config.log_flush_interval_messages;
    config->producer_id_expiration_ms = (i64)broker->config.producer_id_expiration_ms;
}

void broker_topic_log_config(const struct broker *broker, const struct broker_topic *topic,
                             struct log_config *config)
{
    broker_base_log_config(broker, config);
    for (u32 id = 0; id < BROKER_TOPIC_CONFIGS; id++) {
        if (id == BROKER_CONFIG_MIN_INSYNC_REPLICAS) continue; /* Read where it is used. */
        if (topic->overrides_set & (1u << id)) {
            broker_log_config_set(config, id, topic->overrides[id]);
        }
    }
}

const char *broker_topic_config_name(u32 id)
{
    ASSERT(id < BROKER_TOPIC_CONFIGS);
    return broker_topic_configs[id].name;
}

i32 broker_topic_config_find(const char *name, u32 size)
{
    for (u32 id = 0; id < BROKER_TOPIC_CONFIGS; id++) {
        const char *known = broker_topic_configs[id].name;
        if (strlen(known) == size && memcmp(known, name, size) == 0) return (i32)id;
    }
    return -1;
}

/* Parses a value of config id; false when it is not one. */
bool broker_topic_config_parse(u32 id, const char *text, u32 size, i64 *value)
{
    char buffer[64];
    if (size == 0 || size >= sizeof(buffer)) return false;
    memcpy(buffer, text, size);
    buffer[size] = '\0';
    if (id == BROKER_CONFIG_CLEANUP_POLICY) {
        u32 bits = 0;
        char *state = NULL;
        for (char *word = strtok_r(buffer, ",", &state); word != NULL;
             word = strtok_r(NULL, ",", &state)) {
            if (strcmp(word, "delete") == 0) {
                bits |= LOG_CLEANUP_DELETE;
            } else if (strcmp(word, "compact") == 0) {
                bits |= LOG_CLEANUP_COMPACT;
            } else {
                return false;
            }
        }
        *value = bits;
        return bits != 0;
    }
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll(buffer, &end, 10);
    if (errno != 0 || end == buffer || *end != '\0') return false;
    if (parsed < broker_topic_configs[id].min) return false;
    if (broker_topic_configs[id].type == BROKER_TYPE_INT && parsed > INT32_MAX) return false;
    *value = parsed;
    return true;
}

/* Formats a value of config id into text (at least 32 bytes). */
void broker_topic_config_format(u32 id, i64 value, char *text, u32 size)
{
    ASSERT(size >= 32);
    if (id == BROKER_CONFIG_CLEANUP_POLICY) {
        snprintf(text, size, "%s%s%s", (value & LOG_CLEANUP_COMPACT) ? "compact" : "",
                 value == (LOG_CLEANUP_COMPACT | LOG_CLEANUP_DELETE) ? "," : "",
                 (value & LOG_CLEANUP_DELETE) ? "delete" : "");
        return;
    }
    snprintf(text, size, "%" PRId64, value);
}

/* The overrides an image topic carries (ConfigRecords); names this broker does not know as
 * log configs (the controller accepts only known ones) and bad values are skipped. */
void broker_topic_overrides(const struct metadata_topic *topic, u32 *set, i64 *overrides)
{
    *set = 0;
    for (u32 i = 0; i < topic->config_count; i++) {
        const struct metadata_config *config = &topic->configs[i];
        i32 id = broker_topic_config_find(config->name, (u32)strlen(config->name));
        if (id < 0) continue;
        if (!broker_topic_config_parse((u32)id, config->value, (u32)strlen(config->value),
                                       &overrides[id])) {
            continue;
        }
        *set |= 1u << id;
    }
}

/* ===== DescribeConfigs ===== */

struct broker_describe {
    struct proto_arena *arena;
    i16 version;
    bool synonyms;
    const struct kafka_describe_configs_request_resource *asked;
    struct kafka_describe_configs_response_resource_result *items;
    u32 count;
    bool full; /* The arena ran out: answered with a retriable error. */
};

static bool broker_describe_wanted(const struct broker_describe *d, const char *name)
{
    if (d->asked->ConfigurationKeys.count < 0) return true; /* Null: all of them. */
    for (i32 i = 0; i < d->asked->ConfigurationKeys.count; i++) {
        if (proto_string_equal_cstr(d->asked->ConfigurationKeys.items[i], name)) return true;
    }
    return false;
}

static struct proto_string broker_arena_text(struct proto_arena *arena, const char *text)
{
    u32 size = (u32)strlen(text);
    char *copy = proto_arena_alloc(arena, size + 1u);
    if (copy == NULL) return PROTO_STRING_NULL;
    memcpy(copy, text, size + 1u);
    return (struct proto_string){copy, (i32)size};
}

/* Adds one config; synonym (may be NULL) is the broker-level one behind a topic config. */
static void broker_describe_add(struct broker_describe *d, const char *name, const char *value,
                                enum broker_config_source source, enum broker_config_type type,
                                bool read_only, const char *synonym_name,
                                enum broker_config_source synonym_source,
                                const char *synonym_value)
{
    if (!broker_describe_wanted(d, name)) return;
    struct kafka_describe_configs_response_resource_result *out = &d->items[d->count];
    kafka_describe_configs_response_resource_result_init(out);
    out->Name = proto_string_of(name);
    out->Value = broker_arena_text(d->arena, value);
    out->ReadOnly = read_only;
    out->IsDefault = d->version == 0 && source == BROKER_SOURCE_DEFAULT; /* v0 only. */
    out->ConfigSource = (i8)source;
    out->ConfigType = (i8)type;
    if (d->synonyms && d->version >= 1) {
        struct kafka_describe_configs_response_synonym *synonyms =
            proto_arena_alloc(d->arena, 2 * sizeof(*synonyms));
        if (synonyms == NULL) d->full = true;
        u32 count = 0;
        if (synonyms != NULL && source == BROKER_SOURCE_TOPIC) {
            synonyms[count++] = (struct kafka_describe_configs_response_synonym){
                out->Name, out->Value, (i8)source};
        }
        if (synonyms != NULL && synonym_name != NULL) {
            synonyms[count++] = (struct kafka_describe_configs_response_synonym){
                proto_string_of(synonym_name), broker_arena_text(d->arena, synonym_value),
                (i8)synonym_source};
        }
        out->Synonyms.items = synonyms;
        out->Synonyms.count = (i32)count;
    }
    if (out->Value.size < 0) d->full = true;
    d->count++;
}

/* The broker-level value of topic config id, its text and its source. */
static enum broker_config_source broker_config_base(const struct broker *broker, u32 id,
                                                    char *text, u32 size)
{
    if (id == BROKER_CONFIG_MIN_INSYNC_REPLICAS) { /* Not a log config (broker_replication.c). */
        i64 value = broker->config.min_insync_replicas;
        broker_topic_config_format(id, value, text, size);
        return value == 1 ? BROKER_SOURCE_DEFAULT : BROKER_SOURCE_STATIC_BROKER;
    }
    struct log_config base, kafka;
    broker_base_log_config(broker, &base);
    log_config_defaults(&kafka);
    i64 value = broker_log_config_get(&base, id);
    broker_topic_config_format(id, value, text, size);
    return value == broker_log_config_get(&kafka, id) ? BROKER_SOURCE_DEFAULT
                                                       : BROKER_SOURCE_STATIC_BROKER;
}

static void broker_describe_topic(const struct broker *broker, struct broker_describe *d,
                                  const struct broker_topic *topic)
{
    for (u32 id = 0; id < BROKER_TOPIC_CONFIGS; id++) {
        char base[32], value[32];
        enum broker_config_source base_source = broker_config_base(broker, id, base, 32);
        enum broker_config_source source = base_source;
        snprintf(value, sizeof(value), "%s", base);
        if (topic->overrides_set & (1u << id)) {
            source = BROKER_SOURCE_TOPIC;
            broker_topic_config_format(id, topic->overrides[id], value, sizeof(value));
        }
        const struct broker_config_info *info = &broker_topic_configs[id];
        broker_describe_add(d, info->name, value, source, info->type, false,
                            info->broker_name, base_source, base);
    }
}

static void broker_describe_broker(const struct broker *broker, struct broker_describe *d)
{
    for (u32 id = 0; id < BROKER_TOPIC_CONFIGS; id++) {
        char base[32];
        enum broker_config_source source = broker_config_base(broker, id, base, 32);
        const struct broker_config_info *info = &broker_topic_configs[id];
        broker_describe_add(d, info->broker_name, base, source, info->type, true,
                            info->broker_name, source, base);
    }
    char text[32];
    snprintf(text, sizeof(text), "%u", broker->config.num_partitions);
    broker_describe_add(d, "num.partitions", text,
                        broker->config.num_partitions == 1 ? BROKER_SOURCE_DEFAULT
                                                           : BROKER_SOURCE_STATIC_BROKER,
                        BROKER_TYPE_INT, true, "num.partitions", BROKER_SOURCE_STATIC_BROKER,
                        text);
    bool create = broker->config.auto_create_topics_enable;
    broker_describe_add(d, "auto.create.topics.enable", create ? "true" : "false",
                        create ? BROKER_SOURCE_DEFAULT : BROKER_SOURCE_STATIC_BROKER,
                        BROKER_TYPE_BOOLEAN, true, NULL, BROKER_SOURCE_DEFAULT, NULL);
    snprintf(text, sizeof(text), "%u", broker->config.node_id);
    broker_describe_add(d, "node.id", text, BROKER_SOURCE_STATIC_BROKER, BROKER_TYPE_INT, true,
                        NULL, BROKER_SOURCE_DEFAULT, NULL);
}

/* True when name is this broker's id ("" asks for the cluster-wide defaults). */
static bool broker_resource_is_self(const struct broker *broker, struct proto_string name)
{
    char self[16];
    snprintf(self, sizeof(self), "%u", broker->config.node_id);
    return name.size == 0 || proto_string_equal_cstr(name, self);
}

static void broker_describe_resource(struct broker *broker, struct broker_describe *d,
                                     struct kafka_describe_configs_response_result *result)
{
    const struct kafka_describe_configs_request_resource *asked = d->asked;
    kafka_describe_configs_response_result_init(result);
    result->ResourceType = asked->ResourceType;
    result->ResourceName = asked->ResourceName;
    d->items = proto_arena_alloc(d->arena, (BROKER_TOPIC_CONFIGS + 3u) * sizeof(*d->items));
    d->count = 0;
    d->full = d->items == NULL;
    if (d->full) {
        result->ErrorCode = KAFKA_ERROR_REQUEST_TIMED_OUT;
        return;
    }
    if (asked->ResourceType == BROKER_RESOURCE_TOPIC) {
        i32 index = broker_topic_find(broker, asked->ResourceName);
        if (index < 0) {
            result->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            broker_describe_topic(broker, d, &broker->topics[index]);
        }
    } else if (asked->ResourceType == BROKER_RESOURCE_BROKER &&
               broker_resource_is_self(broker, asked->ResourceName)) {
        broker_describe_broker(broker, d);
    } else {
        result->ErrorCode = KAFKA_ERROR_INVALID_REQUEST;
        result->ErrorMessage = proto_string_of("topics and this broker are described here");
    }
    if (d->full) { /* Many resources in one request: retriable, with no configs. */
        result->ErrorCode = KAFKA_ERROR_REQUEST_TIMED_OUT;
        d->count = 0;
    }
    result->Configs.items = d->items;
    result->Configs.count = (i32)d->count;
}

bool broker_handle_describe_configs(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body)
{
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_describe_configs_request request;
    if (kafka_describe_configs_request_decode(body, header->RequestApiVersion, &request,
                                              &decode) != PROTO_OK) {
        return false;
    }
    u32 count = (u32)MAX(request.Resources.count, 0);
    struct kafka_describe_configs_response_result *results =
        proto_arena_alloc(&arena, (u64)MAX(count, 1u) * sizeof(*results));
    if (results == NULL) return false;
    struct broker_describe d = {.arena = &arena, .version = header->RequestApiVersion,
                                .synonyms = request.IncludeSynonyms};
    for (u32 i = 0; i < count; i++) {
        d.asked = &request.Resources.items[i];
        broker_describe_resource(broker, &d, &results[i]);
    }
    union kafka_response response;
    kafka_describe_configs_response_init(&response.DescribeConfigs);
    response.DescribeConfigs.Results.items = results;
    response.DescribeConfigs.Results.count = (i32)count;
    broker_send_response(broker, conn, header, &response);
    return true;
}

/* ===== Overrides changed in the metadata image ===== */

/* The new overrides reach the open logs (see the top of the file for cleanup.policy). */
void broker_topic_apply_overrides(struct broker *broker, u32 index, u32 set, const i64 *overrides)
{
    struct broker_topic *topic = &broker->topics[index];
    ASSERT(topic->used);
    topic->overrides_set = set;
    memcpy(topic->overrides, overrides, sizeof(topic->overrides));
    struct log_config config;
    broker_topic_log_config(broker, topic, &config);
    for (u32 p = 0; p < topic->partition_count; p++) {
        if (topic->states[p] == BROKER_PARTITION_NOT_HOSTED) continue;
        struct partition_log *log = &topic->logs[p];
        for (u32 id = 0; id < BROKER_TOPIC_CONFIGS; id++) {
            if (id == BROKER_CONFIG_MIN_INSYNC_REPLICAS) continue; /* Not the log's. */
            i64 value = broker_log_config_get(&config, id);
            if (id == BROKER_CONFIG_CLEANUP_POLICY && (value & LOG_CLEANUP_COMPACT) &&
                log->cleaner_map == NULL) {
                continue; /* Compaction needs the cleaner's memory: from the next open. */
            }
            broker_log_config_set(&log->config, id, value);
        }
    }
}
