/* broker_admin.c: deleting a topic's logs and files, and DescribeCluster.
 *
 * Topics are created, grown and deleted by the active controller (CreateTopics, CreatePartitions
 * and DeleteTopics are forwarded to it, broker_link.c); this broker follows the metadata image
 * (broker_topics.c). A topic gone from the image is deleted here once its logs are idle: no
 * request in service names the topic (parked fetches that do are ended at once) and no log
 * operation is in flight; until then the reconciliation retries every 10 ms. Its logs are freed
 * and the files of its partition directories removed in the background, one file after another
 * (list "<topic>-<p>", remove each name, then the emptied directory). Until that is done the
 * topic's slot stays reserved
 * (`deleting`), and a new topic of the same name waits before opening its logs (they would
 * share directory names). If the process dies before the files are gone, they stay, and a
 * later topic of the same name would recover them (Kafka renames to "-delete" first).
 *
 * DescribeCluster lists the unfenced brokers of the image and names the active controller.
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
        if (!broker_partition_idle(broker, index, p)) return false;
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
        /* A new topic of the same name may be waiting for this one to go. */
        broker->reconcile_pending = true;
        broker_link_wake(broker, 0);
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

/* The current partition directory, emptied: removes it; false when that cannot be issued. */
static bool broker_delete_remove_directory(struct broker *broker)
{
    const struct broker_topic *topic = &broker->topics[broker->delete_topic];
    char path[IO_PATH_MAX];
    snprintf(path, sizeof(path), "%s-%u", topic->name, broker->delete_partition);
    enum io_result result = io_dir_remove(broker->io, path, broker_delete_data());
    if (result == IO_OK) return true;
    io_log(broker->io, IO_LOG_WARN, "broker: cannot remove %s: %s", path, io_result_name(result));
    return false;
}

void broker_delete_on_file(struct broker *broker, const struct io_completion *completion)
{
    ASSERT(broker->delete_topic != BROKER_TOPIC_NONE);
    if (completion->op == IO_DIR_REMOVE) {
        /* NOT_FOUND: the partition never had a directory here. NOT_EMPTY: names the listing
         * could not hold, or that could not be removed, stay with it. */
        if (completion->result != IO_OK && completion->result != IO_ERR_NOT_FOUND) {
            io_log(broker->io, IO_LOG_WARN, "broker: a deleted partition's directory stays: %s",
                   io_result_name(completion->result));
        }
        broker->delete_partition++;
        broker_delete_next(broker);
        return;
    }
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
    if (broker_delete_remove_directory(broker)) return;
    broker->delete_partition++;
    broker_delete_next(broker);
}

/* Frees the topic's logs and starts removing its files. */
static void broker_topic_delete(struct broker *broker, u32 index)
{
    struct broker_topic *topic = &broker->topics[index];
    for (u32 p = 0; p < topic->partition_count; p++) {
        if (topic->states[p] != BROKER_PARTITION_NOT_HOSTED) partition_log_deinit(&topic->logs[p]);
    }
    free(topic->logs);
    free(topic->states);
    free(topic->replicas);
    topic->replicas = NULL;
    topic->logs = NULL;
    topic->states = NULL;
    topic->used = false;
    topic->deleting = true;
    ASSERT(broker->topic_count > 0);
    broker->topic_count--;
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

bool broker_topic_delete_when_idle(struct broker *broker, u32 index)
{
    ASSERT(index < BROKER_TOPICS_MAX && broker->topics[index].used);
    if (!broker_topic_idle(broker, index)) broker_delete_wake_fetches(broker, index);
    if (!broker_topic_idle(broker, index)) return false;
    io_log(broker->io, IO_LOG_INFO, "broker: topic %s left the metadata; deleting its logs",
           broker->topics[index].name);
    broker_topic_delete(broker, index);
    return true;
}

/* ===== DescribeCluster ===== */

/* The unfenced brokers of the image with their advertised endpoints and racks. */
static struct kafka_describe_cluster_response_broker *
broker_alive_brokers(struct broker *broker, struct proto_arena *arena, u32 *count)
{
    const struct metadata_image *image = broker->image;
    u32 total = image == NULL ? 0 : image->broker_count;
    struct kafka_describe_cluster_response_broker *brokers =
        proto_arena_alloc(arena, (u64)MAX(total, 1u) * sizeof(*brokers));
    if (brokers == NULL) return NULL;
    *count = 0;
    for (u32 i = 0; i < total; i++) {
        const struct metadata_broker *entry = &image->brokers[i];
        if (entry->fenced) continue;
        struct kafka_describe_cluster_response_broker *out = &brokers[(*count)++];
        kafka_describe_cluster_response_broker_init(out);
        out->BrokerId = entry->id;
        out->Host = proto_string_of(entry->host);
        out->Port = entry->port;
        out->Rack = entry->rack[0] != '\0' ? proto_string_of(entry->rack) : PROTO_STRING_NULL;
    }
    return brokers;
}

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
    union kafka_response response;
    kafka_describe_cluster_response_init(&response.DescribeCluster);
    struct kafka_describe_cluster_response *out = &response.DescribeCluster;
    out->ClusterId = proto_string_of(BROKER_CLUSTER_ID);
    if (request.EndpointType != 1) { /* 2: controllers, which a client never reaches here. */
        out->ErrorCode = KAFKA_ERROR_UNSUPPORTED_ENDPOINT_TYPE;
        out->ErrorMessage = proto_string_of("this listener serves the broker endpoints");
        out->EndpointType = request.EndpointType;
    } else {
        out->ControllerId = broker->controller_id;
        u32 count = 0;
        struct kafka_describe_cluster_response_broker *brokers = broker_alive_brokers(
            broker, &arena, &count);
        if (brokers == NULL) return false;
        out->Brokers.items = brokers;
        out->Brokers.count = (i32)count;
    }
    broker_send_response(broker, conn, header, &response);
    return true;
}
