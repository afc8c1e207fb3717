/* broker_admin.c: the admin APIs of a single node: DeleteTopics (async: it may wait), and
 * CreatePartitions and DescribeCluster (sync handlers, answered inside on_frame).
 *
 * DeleteTopics frees a topic's logs once they are idle: no request in service names the topic
 * (parked fetches that do are ended at once) and no log operation is in flight (a log still
 * opening, an append). Until then the request polls every 10 ms, up to its TimeoutMs, then
 * answers the retriable REQUEST_TIMED_OUT for the names still busy. It rewrites the topics
 * file without the topic, and then removes the files of its
 * partition directories in the background, one file after another (list "<topic>-<p>", remove each
 * name). Until that is done the topic's slot stays reserved (`deleting`) and creating a topic
 * of the same name answers TOPIC_ALREADY_EXISTS, as Kafka does for a topic marked for deletion.
 * The emptied directories stay (the io interface removes files, not directories). If the
 * process dies before the files are gone, they stay too, and a later topic of the same name
 * would recover them; the controller issue replaces this with Kafka's rename-to-"-delete".
 *
 * CreatePartitions only increases a topic's partition count (the logs array grows, moving the
 * existing logs, see broker_topic_grow). DescribeCluster names this node, its
 * advertised client endpoint, and itself as the controller.
 *
 * Invariants: at most one topic's files are being removed at once (delete_topic); a deleting
 * topic has no logs. Tested by tests/unit/test_broker.c and tests/integration/kafka_python.sh
 * (confluent-kafka-python's AdminClient). */
#include "broker_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when no request in service names the topic and none of its logs has work in flight. */
static bool broker_topic_idle(const struct broker *broker, u32 index)
{
    const struct broker_topic *topic = &broker->topics[index];
    ASSERT(topic->used);
    for (u32 s = 0; s < BROKER_SLOTS_MAX; s++) {
        const struct broker_slot *slot = &broker->slots[s];
        if (!slot->used) continue;
        for (u32 i = 0; i < slot->part_count; i++) {
            if (slot->parts[i].topic == index) return false;
        }
    }
    for (u32 p = 0; p < topic->partition_count; p++) {
        if (topic->states[p] == BROKER_PARTITION_OPENING) return false;
        const struct partition_log *log = &topic->logs[p];
        if (log->io_in_flight || log->request_count > 0 || log->in_call) return false;
    }
    return true;
}

/* ===== Removing a deleted topic's files ===== */

static u64 broker_delete_data(void) { return BROKER_FILE_TAG | BROKER_FILE_DELETE; }

/* Lists the next partition directory of the topic being deleted, or finishes the topic and
 * starts the next deleted one. */
static void broker_delete_next(struct broker *broker)
{
    while (broker->delete_topic != BROKER_TOPIC_NONE) {
        struct broker_topic *topic = &broker->topics[broker->delete_topic];
        ASSERT(topic->deleting);
        if (broker->delete_partition < topic->partition_count) {
            char path[IO_PATH_MAX];
            snprintf(path, sizeof(path), "%s-%u", topic->name, broker->delete_partition);
            broker->delete_size = 0;
            broker->delete_position = 0;
            enum io_result result = io_file_list(broker->io, path, broker->delete_names,
                                                 BROKER_DELETE_NAMES_SIZE, broker_delete_data());
            if (result == IO_OK) return;
            io_log(broker->io, IO_LOG_WARN, "broker: cannot list %s: %s", path,
                   io_result_name(result));
            broker->delete_partition++;
            continue;
        }
        io_log(broker->io, IO_LOG_INFO, "broker: topic %s deleted", topic->name);
        topic->deleting = false;
        topic->partition_count = 0;
        topic->name[0] = '\0';
        broker->delete_topic = BROKER_TOPIC_NONE;
        for (u32 i = 0; i < BROKER_TOPICS_MAX; i++) {
            if (broker->topics[i].deleting) {
                broker->delete_topic = i;
                broker->delete_partition = 0;
                break;
            }
        }
    }
}

/* Removes the next listed file of the current directory; false when none is left. */
static bool broker_delete_remove_next(struct broker *broker)
{
    const struct broker_topic *topic = &broker->topics[broker->delete_topic];
    while (broker->delete_position < broker->delete_size) {
        const char *name = (const char *)broker->delete_names + broker->delete_position;
        size_t length = strnlen(name, broker->delete_size - broker->delete_position);
        broker->delete_position += (u32)length + 1;
        if (length == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        char path[IO_PATH_MAX];
        int written = snprintf(path, sizeof(path), "%s-%u/%s", topic->name,
                               broker->delete_partition, name);
        if (written <= 0 || (size_t)written >= sizeof(path)) continue;
        enum io_result result = io_file_remove(broker->io, path, broker_delete_data());
        if (result == IO_OK) return true;
        io_log(broker->io, IO_LOG_WARN, "broker: cannot remove %s: %s", path,
               io_result_name(result));
    }
    return false;
}

void broker_delete_on_file(struct broker *broker, const struct io_completion *completion)
{
    ASSERT(broker->delete_topic != BROKER_TOPIC_NONE);
    if (completion->op == IO_FILE_LIST) {
        /* LIMIT: more names than the buffer holds; the listed ones go (a partition of over a
         * thousand segments keeps the rest). */
        if (completion->result == IO_OK || completion->result == IO_ERR_LIMIT) {
            broker->delete_size = MIN(completion->size, BROKER_DELETE_NAMES_SIZE);
            broker->delete_position = 0;
        }
    } else if (completion->result != IO_OK) {
        io_log(broker->io, IO_LOG_WARN, "broker: removing a deleted topic's file: %s",
               io_result_name(completion->result));
    }
    if (broker_delete_remove_next(broker)) return;
    broker->delete_partition++;
    broker_delete_next(broker);
}

/* Frees the topic's logs, rewrites the topics file and starts removing its files. */
static void broker_topic_delete(struct broker *broker, u32 index)
{
    struct broker_topic *topic = &broker->topics[index];
    for (u32 p = 0; p < topic->partition_count; p++) partition_log_deinit(&topic->logs[p]);
    free(topic->logs);
    free(topic->states);
    topic->logs = NULL;
    topic->states = NULL;
    topic->used = false;
    topic->deleting = true;
    ASSERT(broker->topic_count > 0);
    broker->topic_count--;
    broker_topics_save(broker);
    if (broker->delete_topic == BROKER_TOPIC_NONE) {
        broker->delete_topic = index;
        broker->delete_partition = 0;
        broker_delete_next(broker);
    }
}

/* Ends the long polls of parked fetches that name the topic (they answer with what they
 * have), so that it can become idle. */
static void broker_delete_wake_fetches(struct broker *broker, u32 index)
{
    for (u32 s = 0; s < BROKER_SLOTS_MAX; s++) {
        struct broker_slot *slot = &broker->slots[s];
        if (!slot->used || !slot->parked) continue;
        for (u32 i = 0; i < slot->part_count; i++) {
            if (slot->parts[i].topic != index) continue;
            broker_fetch_on_timer(broker, slot);
            break;
        }
    }
}

/* One name: KAFKA_ERROR_NONE once deleted, an error, or -1 while its logs are busy. */
static i32 broker_delete_one(struct broker *broker, struct proto_string name)
{
    if (broker->stopping) return KAFKA_ERROR_REQUEST_TIMED_OUT;
    if (broker->file_state == BROKER_TOPICS_LOADING) return -1;
    i32 index = broker_topic_find(broker, name);
    if (index < 0) return KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    if (!broker_topic_idle(broker, (u32)index)) broker_delete_wake_fetches(broker, (u32)index);
    if (!broker_topic_idle(broker, (u32)index)) return -1;
    broker_topic_delete(broker, (u32)index);
    return KAFKA_ERROR_NONE;
}

/* Tries every name not yet settled (slot->parts[i] stands for TopicNames[i]); answers when
 * all are settled, else polls again in 10 ms until TimeoutMs has passed (then the busy ones
 * answer REQUEST_TIMED_OUT, retriable). */
static void broker_delete_topics_attempt(struct broker *broker, struct broker_slot *slot)
{
    const struct kafka_delete_topics_request *request = &slot->request.DeleteTopics;
    bool expired = io_now_ns(broker->io) >= slot->deadline_ns;
    bool settled = true;
    for (u32 i = 0; i < slot->part_count; i++) {
        struct broker_part *part = &slot->parts[i];
        if (part->done) continue;
        i32 error = broker_delete_one(broker, request->TopicNames.items[i]);
        if (error < 0 && expired) error = KAFKA_ERROR_REQUEST_TIMED_OUT;
        part->done = error >= 0;
        part->error = (i16)error;
        settled = settled && part->done;
    }
    u32 timer = broker->timer_base + (u32)(slot - broker->slots);
    if (!settled) {
        io_timer_set(broker->io, timer, io_now_ns(broker->io) + 10u * 1000u * 1000u);
        return;
    }
    struct kafka_delete_topics_response_deletable_topic_result *results =
        proto_arena_alloc(&slot->arena, (u64)MAX(slot->part_count, 1u) * sizeof(*results));
    ASSERT(results != NULL); /* At most BROKER_PARTS_MAX names: the arena holds them. */
    for (u32 i = 0; i < slot->part_count; i++) {
        kafka_delete_topics_response_deletable_topic_result_init(&results[i]);
        results[i].Name = request->TopicNames.items[i];
        results[i].ErrorCode = slot->parts[i].error;
    }
    union kafka_response response;
    kafka_delete_topics_response_init(&response.DeleteTopics);
    response.DeleteTopics.Responses.items = results;
    response.DeleteTopics.Responses.count = (i32)slot->part_count;
    broker_slot_finish(broker, slot, &response);
}

bool broker_start_delete_topics(struct broker *broker, struct broker_slot *slot)
{
    ASSERT(slot->header.RequestApiVersion <= 5); /* v6 (topics by id) is not advertised. */
    const struct kafka_delete_topics_request *request = &slot->request.DeleteTopics;
    u32 count = (u32)MAX(request->TopicNames.count, 0);
    if (count > BROKER_PARTS_MAX) return false;
    for (u32 i = 0; i < count; i++) {
        if (request->TopicNames.items[i].size < 0) return false; /* Not nullable before v6. */
        slot->parts[i] = (struct broker_part){.topic = BROKER_TOPIC_NONE};
    }
    slot->part_count = count;
    i64 timeout_ms = MIN(MAX((i64)request->TimeoutMs, 0), 60000);
    slot->deadline_ns = io_now_ns(broker->io) + (u64)timeout_ms * 1000u * 1000u;
    broker_delete_topics_attempt(broker, slot);
    return true;
}

void broker_delete_topics_on_timer(struct broker *broker, struct broker_slot *slot)
{
    ASSERT(slot->used && slot->header.RequestApiKey == KAFKA_API_DELETE_TOPICS);
    broker_delete_topics_attempt(broker, slot);
}

/* ===== CreatePartitions ===== */

/* Grows the topic's logs to count partitions and starts opening the new ones. The existing
 * logs move even with operations in flight: a log holds no pointer into itself that io keeps
 * (its io buffers are heap memory; completions find it by io tag), and requests in service
 * name partitions by index. */
static bool broker_topic_grow(struct broker *broker, u32 index, u32 count)
{
    struct broker_topic *topic = &broker->topics[index];
    ASSERT(count > topic->partition_count && count <= BROKER_PARTITIONS_MAX);
    struct partition_log *logs = calloc(count, sizeof(*logs));
    enum broker_partition_state *states = calloc(count, sizeof(*states));
    if (logs == NULL || states == NULL) {
        free(logs);
        free(states);
        return false;
    }
    u32 old = topic->partition_count;
    memcpy(logs, topic->logs, old * sizeof(*logs));
    memcpy(states, topic->states, old * sizeof(*states));
    free(topic->logs);
    free(topic->states);
    topic->logs = logs;
    topic->states = states;
    topic->partition_count = count;
    for (u32 p = old; p < count; p++) broker_partition_start(broker, index, p);
    io_log(broker->io, IO_LOG_INFO, "broker: topic %s now has %u partitions", topic->name,
           count);
    return true;
}

static i16 broker_create_partitions_one(struct broker *broker,
                                        const struct kafka_create_partitions_request_topic *asked,
                                        bool validate_only, struct proto_string *message)
{
    if (broker->stopping || broker->file_state == BROKER_TOPICS_LOADING) {
        return KAFKA_ERROR_REQUEST_TIMED_OUT;
    }
    i32 index = broker_topic_find(broker, asked->Name);
    if (index < 0) return KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
    const struct broker_topic *topic = &broker->topics[index];
    if (asked->Assignments.count > 0) {
        *message = proto_string_of("manual replica assignments are not supported yet");
        return KAFKA_ERROR_INVALID_REQUEST;
    }
    if (asked->Count <= (i32)topic->partition_count) {
        *message = proto_string_of("the partition count can only be increased");
        return KAFKA_ERROR_INVALID_PARTITIONS;
    }
    if ((u32)asked->Count > BROKER_PARTITIONS_MAX) {
        *message = proto_string_of("at most 64 partitions per topic");
        return KAFKA_ERROR_INVALID_PARTITIONS;
    }
    if (validate_only) return KAFKA_ERROR_NONE;
    if (!broker_topic_grow(broker, (u32)index, (u32)asked->Count)) {
        return KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
    }
    broker_topics_save(broker);
    return KAFKA_ERROR_NONE;
}

bool broker_handle_create_partitions(struct broker *broker, io_conn conn,
                                     const struct proto_request_header *header,
                                     struct proto_reader *body)
{
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_create_partitions_request request;
    if (kafka_create_partitions_request_decode(body, header->RequestApiVersion, &request,
                                               &decode) != PROTO_OK) {
        return false;
    }
    u32 count = (u32)MAX(request.Topics.count, 0);
    struct kafka_create_partitions_response_topic_result *results =
        proto_arena_alloc(&arena, (u64)MAX(count, 1u) * sizeof(*results));
    if (results == NULL) return false;
    for (u32 i = 0; i < count; i++) {
        const struct kafka_create_partitions_request_topic *asked = &request.Topics.items[i];
        struct kafka_create_partitions_response_topic_result *result = &results[i];
        kafka_create_partitions_response_topic_result_init(result);
        result->Name = asked->Name;
        struct proto_string message = PROTO_STRING_NULL;
        result->ErrorCode =
            broker_create_partitions_one(broker, asked, request.ValidateOnly, &message);
        result->ErrorMessage = message;
    }
    union kafka_response response;
    kafka_create_partitions_response_init(&response.CreatePartitions);
    response.CreatePartitions.Results.items = results;
    response.CreatePartitions.Results.count = (i32)count;
    broker_send_response(broker, conn, header, &response);
    return true;
}

/* ===== DescribeCluster ===== */

bool broker_handle_describe_cluster(struct broker *broker, io_conn conn,
                                    const struct proto_request_header *header,
                                    struct proto_reader *body)
{
    struct proto_arena decode, arena;
    broker_scratch_arenas(broker, &decode, &arena);
    struct kafka_describe_cluster_request request;
    if (kafka_describe_cluster_request_decode(body, header->RequestApiVersion, &request,
                                              &decode) != PROTO_OK) {
        return false;
    }
    char host[IO_PATH_MAX];
    struct kafka_describe_cluster_response_broker self;
    kafka_describe_cluster_response_broker_init(&self);
    self.BrokerId = (i32)broker->config.node_id;
    broker_advertised(broker, host, sizeof(host), &self.Port);
    self.Host = proto_string_of(host);
    union kafka_response response;
    kafka_describe_cluster_response_init(&response.DescribeCluster);
    struct kafka_describe_cluster_response *out = &response.DescribeCluster;
    out->ClusterId = proto_string_of(BROKER_CLUSTER_ID);
    if (request.EndpointType != 1) { /* 2: controllers, which a client never reaches here. */
        out->ErrorCode = KAFKA_ERROR_UNSUPPORTED_ENDPOINT_TYPE;
        out->ErrorMessage = proto_string_of("this listener serves the broker endpoints");
        out->EndpointType = request.EndpointType;
    } else {
        out->ControllerId = (i32)broker->config.node_id;
        out->Brokers.items = &self;
        out->Brokers.count = 1;
    }
    broker_send_response(broker, conn, header, &response);
    return true;
}
