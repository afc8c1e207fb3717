/* kafka_client.c: the simulated Kafka producer and consumer (see kafka_client.h).
 *
 * One request is in flight at a time on the one connection (correlation ids count upwards; an
 * answer with another id is ignored). Timers: 0 = next operation (producer) or fetch retry
 * (consumer), 1 = request deadline, 2 = reconnect.
 * Producer outcomes, each operation reported SEND once, then exactly one of ACKED (the offset
 * the broker assigned), FAILED (definitely not appended: never sent before the deadline, or a
 * non-retriable error) or UNKNOWN (sent, and the answer never came, or acks=0). An answer
 * that means "not appended, try again" (leader not available, unknown partition while the
 * broker opens its logs) retries the same value after a backoff.
 * Consumer: positions per partition; on every new connection and on OFFSET_OUT_OF_RANGE it
 * asks for the earliest offsets and reads again from there (REREAD), so after a broker restart
 * its reads describe the log the broker recovered. Records are decoded with record_batch.h;
 * a partial batch at the end of a Fetch answer is left for the next Fetch.
 * Tested by the simulator's kafka scenarios (scenarios/kafka-*.scn, judged by
 * model/kafka_checkers.c). */
#include "kafka_client.h"

#include "../../model/history.h"
#include "../log/record_batch.h"
#include "../protocol/errors_generated.h"
#include "../protocol/header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kafka_client_timer { KC_TIMER_NEXT, KC_TIMER_DEADLINE, KC_TIMER_RECONNECT };
enum kafka_client_request {
    KC_NONE,
    KC_CREATE_TOPICS,
    KC_METADATA,
    KC_PRODUCE,
    KC_LIST_OFFSETS,
    KC_FETCH,
};

#define KC_FRAME_MAX (1024u * 1024u)
#define KC_SEND_MAX (8u * 1024u)
#define KC_ARENA_SIZE (64u * 1024u)
#define KC_VALUE_MAX 1024u
#define KC_BACKOFF_NS (100 * NS_PER_MS)
#define KC_VERSION_CREATE_TOPICS 7
#define KC_VERSION_METADATA 12
#define KC_VERSION_PRODUCE 9
#define KC_VERSION_LIST_OFFSETS 7
#define KC_VERSION_FETCH 12

struct kafka_client {
    struct kafka_client_config config;
    struct io *io;
    io_conn conn;
    bool connected;
    bool ready; /* The connection's set-up request (CreateTopics / ListOffsets) succeeded. */
    enum kafka_client_request pending; /* In flight, awaiting its answer. */
    i32 correlation_id;
    /* Producer. */
    u64 operation_next;
    bool active;
    bool sent;
    u64 operation_id;
    u32 partition;
    u64 checksum;
    u8 key[32];
    u32 key_size;
    u8 value[KC_VALUE_MAX];
    /* Consumer. */
    i64 position[KAFKA_CLIENT_PARTITIONS_MAX];
    u8 send_buffer[KC_SEND_MAX];
    u8 batch[KC_VALUE_MAX + 256];
    u8 arena_memory[KC_ARENA_SIZE];
};

u64 kafka_client_checksum(const u8 *bytes, u32 size)
{
    u64 hash = 0xcbf29ce484222325ull;
    for (u32 i = 0; i < size; i++) {
        hash ^= bytes[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

struct kafka_client *kafka_client_create(const struct kafka_client_config *config, struct io *io)
{
    ASSERT(config->partition_count > 0 && config->partition_count <= KAFKA_CLIENT_PARTITIONS_MAX);
    ASSERT(config->value_size >= 24 && config->value_size <= KC_VALUE_MAX);
    ASSERT(config->acks == -1 || config->acks == 0 || config->acks == 1);
    struct kafka_client *client = calloc(1, sizeof(*client));
    if (client == NULL) return NULL;
    client->config = *config;
    client->io = io;
    client->operation_next = 1;
    return client;
}

void kafka_client_destroy(struct kafka_client *client) { free(client); }

static void kc_observe(struct kafka_client *client, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    struct io_observation observation = {.kind = kind, .a = a, .b = b, .c = c, .d = d};
    io_observe(client->io, &observation);
}

static struct proto_string kc_string(const char *text)
{
    struct proto_string string = {.data = text, .size = (i32)strlen(text)};
    return string;
}

/* Encodes and sends one request; false when it could not be sent (the caller retries later). */
static bool kc_send(struct kafka_client *client, enum kafka_client_request kind, i16 api_key,
                    i16 version, const union kafka_request *body)
{
    ASSERT(client->pending == KC_NONE);
    if (!client->connected) return false;
    client->correlation_id = (client->correlation_id + 1) & 0x7fffffff;
    struct proto_request_header header = {.RequestApiKey = api_key, .RequestApiVersion = version,
                                          .CorrelationId = client->correlation_id,
                                          .ClientId = kc_string("cairn-sim")};
    struct proto_writer writer;
    proto_writer_init(&writer, client->send_buffer, sizeof(client->send_buffer));
    enum proto_error error = proto_request_frame_encode(&writer, &header, body);
    ASSERT(error == PROTO_OK); /* Our own requests always fit and are representable. */
    if (io_send(client->io, client->conn, writer.buffer, writer.position) != IO_OK) return false;
    client->pending = kind;
    io_timer_set(client->io, KC_TIMER_DEADLINE,
                 io_now_ns(client->io) + client->config.request_timeout_ns);
    return true;
}

static void kc_disconnect(struct kafka_client *client)
{
    if (client->conn != 0) io_close(client->io, client->conn);
    client->conn = 0;
    client->connected = false;
    client->ready = false;
    client->pending = KC_NONE;
    io_timer_cancel(client->io, KC_TIMER_DEADLINE);
    u64 jitter = io_random_below(client->io, KC_BACKOFF_NS);
    io_timer_set(client->io, KC_TIMER_RECONNECT, io_now_ns(client->io) + KC_BACKOFF_NS + jitter);
}

static void kc_connect(struct kafka_client *client)
{
    ASSERT(client->conn == 0);
    client->conn = io_connect(client->io, client->config.endpoint, 0, KC_FRAME_MAX);
    client->connected = false;
    if (client->conn == 0) {
        io_log(client->io, IO_LOG_WARN, "kafka client: bad endpoint %s", client->config.endpoint);
        kc_disconnect(client);
    }
}

/* ===== Producer ===== */

static void producer_operation_end(struct kafka_client *client, u32 kind, u64 c)
{
    ASSERT(client->active);
    kc_observe(client, kind, client->operation_id, client->partition, c,
               kind == HISTORY_KAFKA_ACKED ? client->checksum : 0);
    client->active = false;
    client->sent = false;
    io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + client->config.interval_ns);
}

static void producer_send(struct kafka_client *client)
{
    if (!client->active || client->sent || !client->ready || client->pending != KC_NONE) return;
    struct batch_builder builder;
    batch_builder_init(&builder, client->batch, sizeof(client->batch), 0,
                       (i64)(io_wall_ns(client->io) / NS_PER_MS));
    batch_builder_add(&builder, builder.header.BaseTimestamp, client->key, (i32)client->key_size,
                      client->value, (i32)client->config.value_size, NULL, 0);
    u64 batch_size = batch_builder_finish(&builder);
    ASSERT(batch_size > 0);
    struct kafka_produce_request_partition_produce_data partition;
    kafka_produce_request_partition_produce_data_init(&partition);
    partition.Index = (i32)client->partition;
    partition.Records.data = client->batch;
    partition.Records.size = (i32)batch_size;
    struct kafka_produce_request_topic_produce_data topic;
    kafka_produce_request_topic_produce_data_init(&topic);
    topic.Name = kc_string(client->config.topic);
    topic.PartitionData.items = &partition;
    topic.PartitionData.count = 1;
    union kafka_request body;
    kafka_produce_request_init(&body.Produce);
    body.Produce.Acks = client->config.acks;
    body.Produce.TimeoutMs = (i32)(client->config.request_timeout_ns / NS_PER_MS);
    body.Produce.TopicData.items = &topic;
    body.Produce.TopicData.count = 1;
    if (!kc_send(client, KC_PRODUCE, KAFKA_API_PRODUCE, KC_VERSION_PRODUCE, &body)) return;
    client->sent = true;
    if (client->config.acks == 0) { /* No answer will come: the outcome stays unknown. */
        client->pending = KC_NONE;
        io_timer_cancel(client->io, KC_TIMER_DEADLINE);
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, 0);
    }
}

static void producer_operation_start(struct kafka_client *client)
{
    ASSERT(!client->active);
    u64 now = io_now_ns(client->io);
    if (client->config.stop_ns != 0 && now >= client->config.stop_ns) return;
    client->operation_id = client->operation_next++;
    client->partition = (u32)(client->operation_id % client->config.partition_count);
    int written = snprintf((char *)client->key, sizeof(client->key), "k%u-%llu",
                           client->config.client_id, (unsigned long long)client->operation_id);
    ASSERT(written > 0 && (u32)written < sizeof(client->key));
    client->key_size = (u32)written;
    for (u32 i = 0; i < client->config.value_size; i++) {
        client->value[i] = (u8)('a' + (client->operation_id + i) % 26);
    }
    written = snprintf((char *)client->value, client->config.value_size, "v%u-%llu-",
                       client->config.client_id, (unsigned long long)client->operation_id);
    ASSERT(written > 0 && (u32)written < client->config.value_size);
    client->value[written] = '.';
    client->checksum = kafka_client_checksum(client->value, client->config.value_size);
    client->active = true;
    client->sent = false;
    kc_observe(client, HISTORY_KAFKA_SEND, client->operation_id, client->partition,
               client->checksum, 0);
    /* The operation's own deadline: unsent by then, it definitely failed. */
    io_timer_set(client->io, KC_TIMER_DEADLINE, now + client->config.request_timeout_ns);
    producer_send(client);
}

static void producer_create_topic(struct kafka_client *client)
{
    struct kafka_create_topics_request_creatable_topic topic;
    kafka_create_topics_request_creatable_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    topic.NumPartitions = (i32)client->config.partition_count;
    topic.ReplicationFactor = 1;
    union kafka_request body;
    kafka_create_topics_request_init(&body.CreateTopics);
    body.CreateTopics.Topics.items = &topic;
    body.CreateTopics.Topics.count = 1;
    body.CreateTopics.timeoutMs = (i32)(client->config.request_timeout_ns / NS_PER_MS);
    if (!kc_send(client, KC_CREATE_TOPICS, KAFKA_API_CREATE_TOPICS, KC_VERSION_CREATE_TOPICS,
                 &body)) {
        kc_disconnect(client);
    }
}

static void producer_on_create_topics(struct kafka_client *client,
                                      const struct kafka_create_topics_response *response)
{
    i16 error = response->Topics.count == 1 ? response->Topics.items[0].ErrorCode
                                            : (i16)KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
    if (error != KAFKA_ERROR_NONE && error != KAFKA_ERROR_TOPIC_ALREADY_EXISTS) {
        io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + KC_BACKOFF_NS);
        return;
    }
    struct kafka_metadata_request_topic topic;
    kafka_metadata_request_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    union kafka_request body;
    kafka_metadata_request_init(&body.Metadata);
    body.Metadata.Topics.items = &topic;
    body.Metadata.Topics.count = 1;
    body.Metadata.AllowAutoTopicCreation = false;
    if (!kc_send(client, KC_METADATA, KAFKA_API_METADATA, KC_VERSION_METADATA, &body)) {
        kc_disconnect(client);
    }
}

/* Every partition must have a leader among the listed brokers (one broker today: this one). */
static bool producer_leaders_known(const struct kafka_client *client,
                                   const struct kafka_metadata_response *response)
{
    if (response->Topics.count != 1 || response->Topics.items[0].ErrorCode != KAFKA_ERROR_NONE) {
        return false;
    }
    const struct kafka_metadata_response_topic *topic = &response->Topics.items[0];
    if (topic->Partitions.count != (i32)client->config.partition_count) return false;
    for (i32 i = 0; i < topic->Partitions.count; i++) {
        const struct kafka_metadata_response_partition *partition = &topic->Partitions.items[i];
        bool listed = false;
        for (i32 b = 0; b < response->Brokers.count; b++) {
            listed = listed || response->Brokers.items[b].NodeId == partition->LeaderId;
        }
        if (partition->ErrorCode != KAFKA_ERROR_NONE || !listed) return false;
    }
    return true;
}

static void producer_on_metadata(struct kafka_client *client,
                                 const struct kafka_metadata_response *response)
{
    if (!producer_leaders_known(client, response)) {
        io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + KC_BACKOFF_NS);
        return;
    }
    client->ready = true;
    if (client->active) {
        producer_send(client);
    } else {
        io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + client->config.interval_ns);
    }
}

static void producer_on_produce(struct kafka_client *client,
                                const struct kafka_produce_response *response)
{
    if (!client->active || !client->sent) return;
    bool found = response->Responses.count == 1 &&
                 response->Responses.items[0].PartitionResponses.count == 1;
    if (!found) {
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, KAFKA_ERROR_UNKNOWN_SERVER_ERROR);
        return;
    }
    const struct kafka_produce_response_partition_produce *partition =
        &response->Responses.items[0].PartitionResponses.items[0];
    i16 error = partition->ErrorCode;
    if (error == KAFKA_ERROR_NONE) {
        producer_operation_end(client, HISTORY_KAFKA_ACKED, (u64)partition->BaseOffset);
    } else if (error == KAFKA_ERROR_LEADER_NOT_AVAILABLE ||
               error == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER ||
               error == KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION) {
        client->sent = false; /* Not appended: the same value again after a backoff. */
        io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + KC_BACKOFF_NS);
    } else if (kafka_error_retriable(error)) {
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, (u64)(u16)error);
    } else {
        producer_operation_end(client, HISTORY_KAFKA_FAILED, (u64)(u16)error);
    }
}

static void producer_on_next(struct kafka_client *client)
{
    if (!client->ready) {
        if (client->connected && client->pending == KC_NONE) producer_create_topic(client);
        return;
    }
    if (client->active) {
        producer_send(client);
    } else {
        producer_operation_start(client);
    }
}

static void producer_on_deadline(struct kafka_client *client)
{
    if (client->active) {
        producer_operation_end(client, client->sent ? HISTORY_KAFKA_UNKNOWN : HISTORY_KAFKA_FAILED,
                               KAFKA_ERROR_REQUEST_TIMED_OUT);
    }
    if (client->pending != KC_NONE) kc_disconnect(client);
}

/* ===== Consumer ===== */

static void consumer_list_offsets(struct kafka_client *client)
{
    struct kafka_list_offsets_request_partition partitions[KAFKA_CLIENT_PARTITIONS_MAX];
    for (u32 p = 0; p < client->config.partition_count; p++) {
        kafka_list_offsets_request_partition_init(&partitions[p]);
        partitions[p].PartitionIndex = (i32)p;
        partitions[p].Timestamp = -2; /* Earliest. */
    }
    struct kafka_list_offsets_request_topic topic;
    kafka_list_offsets_request_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    topic.Partitions.items = partitions;
    topic.Partitions.count = (i32)client->config.partition_count;
    union kafka_request body;
    kafka_list_offsets_request_init(&body.ListOffsets);
    body.ListOffsets.ReplicaId = -1;
    body.ListOffsets.Topics.items = &topic;
    body.ListOffsets.Topics.count = 1;
    if (!kc_send(client, KC_LIST_OFFSETS, KAFKA_API_LIST_OFFSETS, KC_VERSION_LIST_OFFSETS,
                 &body)) {
        kc_disconnect(client);
    }
}

static void consumer_fetch(struct kafka_client *client)
{
    struct kafka_fetch_request_partition partitions[KAFKA_CLIENT_PARTITIONS_MAX];
    for (u32 p = 0; p < client->config.partition_count; p++) {
        kafka_fetch_request_partition_init(&partitions[p]);
        partitions[p].Partition = (i32)p;
        partitions[p].FetchOffset = client->position[p];
        partitions[p].PartitionMaxBytes = 64 * 1024;
    }
    struct kafka_fetch_request_topic topic;
    kafka_fetch_request_topic_init(&topic);
    topic.Topic = kc_string(client->config.topic);
    topic.Partitions.items = partitions;
    topic.Partitions.count = (i32)client->config.partition_count;
    union kafka_request body;
    kafka_fetch_request_init(&body.Fetch);
    body.Fetch.ReplicaId = -1;
    body.Fetch.MaxWaitMs = 100;
    body.Fetch.MinBytes = 1;
    body.Fetch.MaxBytes = 512 * 1024;
    body.Fetch.SessionId = 0;
    body.Fetch.SessionEpoch = -1;
    body.Fetch.Topics.items = &topic;
    body.Fetch.Topics.count = 1;
    if (!kc_send(client, KC_FETCH, KAFKA_API_FETCH, KC_VERSION_FETCH, &body)) {
        kc_disconnect(client);
    }
}

static void consumer_on_list_offsets(struct kafka_client *client,
                                     const struct kafka_list_offsets_response *response)
{
    bool ok = response->Topics.count == 1 &&
              response->Topics.items[0].Partitions.count == (i32)client->config.partition_count;
    for (i32 i = 0; ok && i < response->Topics.items[0].Partitions.count; i++) {
        const struct kafka_list_offsets_response_partition *partition =
            &response->Topics.items[0].Partitions.items[i];
        ok = partition->ErrorCode == KAFKA_ERROR_NONE && partition->Offset >= 0 &&
             partition->PartitionIndex == i;
    }
    if (!ok) { /* The topic may not exist yet, or the broker is opening its logs. */
        io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + KC_BACKOFF_NS);
        return;
    }
    for (u32 p = 0; p < client->config.partition_count; p++) {
        client->position[p] = response->Topics.items[0].Partitions.items[p].Offset;
        kc_observe(client, HISTORY_KAFKA_REREAD, p, (u64)client->position[p], 0, 0);
    }
    client->ready = true;
    consumer_fetch(client);
}

/* Reports the records of one partition's Records bytes at or after the position. */
static void consumer_records(struct kafka_client *client, u32 p, const u8 *bytes, u64 size)
{
    u64 at = 0;
    while (at < size) {
        struct record_batch_header header;
        if (batch_validate(bytes + at, size - at, &header) != BATCH_OK) return; /* Partial. */
        u64 batch_size = (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
        bool plain = (header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) == 0 &&
                     (header.Attributes & RECORD_ATTRIBUTE_CONTROL) == 0;
        struct record_iterator iterator;
        record_iterator_init(&iterator, bytes + at + RECORD_BATCH_HEADER_SIZE,
                             batch_size - RECORD_BATCH_HEADER_SIZE, (u32)header.RecordCount);
        bool more = plain;
        while (more) {
            struct record_view record;
            if (record_iterator_next(&iterator, &record, &more) != BATCH_OK || !more) break;
            i64 offset = header.BaseOffset + record.OffsetDelta;
            if (offset < client->position[p] || record.ValueLength < 0) continue;
            u64 checksum = kafka_client_checksum(record.Value, (u32)record.ValueLength);
            kc_observe(client, HISTORY_KAFKA_READ, p, (u64)offset, checksum, 0);
        }
        i64 next = header.BaseOffset + header.LastOffsetDelta + 1;
        if (next > client->position[p]) client->position[p] = next;
        at += batch_size;
    }
}

static void consumer_on_fetch(struct kafka_client *client,
                              const struct kafka_fetch_response *response)
{
    bool reset = false;
    bool failed = response->ErrorCode != KAFKA_ERROR_NONE;
    for (i32 t = 0; t < response->Responses.count; t++) {
        const struct kafka_fetch_response_fetchable_topic *topic = &response->Responses.items[t];
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            const struct kafka_fetch_response_partition_data *data = &topic->Partitions.items[i];
            i32 p = data->PartitionIndex;
            if (p < 0 || (u32)p >= client->config.partition_count) continue;
            if (data->ErrorCode == KAFKA_ERROR_OFFSET_OUT_OF_RANGE) reset = true;
            if (data->ErrorCode != KAFKA_ERROR_NONE) failed = true;
            if (data->ErrorCode != KAFKA_ERROR_NONE || data->Records.size <= 0) continue;
            consumer_records(client, (u32)p, data->Records.data, (u64)data->Records.size);
        }
    }
    if (reset) {
        consumer_list_offsets(client);
    } else if (failed) { /* The broker is opening its logs, or the topic is not there yet. */
        io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + KC_BACKOFF_NS);
    } else {
        consumer_fetch(client);
    }
}

/* ===== Events ===== */

static void kc_on_start(void *process)
{
    struct kafka_client *client = process;
    kc_connect(client);
}

static void kc_on_timer(void *process, u32 timer_id)
{
    struct kafka_client *client = process;
    bool producer = client->config.role == KAFKA_CLIENT_PRODUCER;
    if (timer_id == KC_TIMER_RECONNECT) {
        if (client->conn == 0) kc_connect(client);
    } else if (timer_id == KC_TIMER_DEADLINE) {
        if (producer) {
            producer_on_deadline(client);
        } else if (client->pending != KC_NONE) {
            kc_disconnect(client);
        }
    } else if (timer_id == KC_TIMER_NEXT) {
        if (producer) {
            producer_on_next(client);
        } else if (client->connected && client->pending == KC_NONE) {
            if (client->ready) {
                consumer_fetch(client);
            } else {
                consumer_list_offsets(client);
            }
        }
    }
}

static void kc_on_conn(void *process, io_conn conn, enum io_conn_event event,
                       enum io_close_reason reason, u64 tag)
{
    struct kafka_client *client = process;
    (void)reason;
    (void)tag;
    if (conn != client->conn) return;
    if (event == IO_CONN_CONNECTED) {
        client->connected = true;
        kc_observe(client, HISTORY_KAFKA_CONNECTED,
                   client->config.role == KAFKA_CLIENT_PRODUCER ? 0 : 1, 0, 0, 0);
        if (client->config.role == KAFKA_CLIENT_PRODUCER) {
            producer_create_topic(client);
        } else {
            consumer_list_offsets(client);
        }
        return;
    }
    if (event != IO_CONN_CLOSED) return;
    client->conn = 0;
    if (client->active && client->sent) {
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, KAFKA_ERROR_NETWORK_EXCEPTION);
    }
    kc_disconnect(client);
}

static void kc_dispatch(struct kafka_client *client, enum kafka_client_request kind,
                        const union kafka_response *response)
{
    switch (kind) {
    case KC_CREATE_TOPICS: producer_on_create_topics(client, &response->CreateTopics); break;
    case KC_METADATA: producer_on_metadata(client, &response->Metadata); break;
    case KC_PRODUCE: producer_on_produce(client, &response->Produce); break;
    case KC_LIST_OFFSETS: consumer_on_list_offsets(client, &response->ListOffsets); break;
    case KC_FETCH: consumer_on_fetch(client, &response->Fetch); break;
    case KC_NONE: ASSERT(false); break;
    }
}

static void kc_on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    struct kafka_client *client = process;
    if (conn != client->conn || client->pending == KC_NONE) return;
    static const i16 keys[] = {0, KAFKA_API_CREATE_TOPICS, KAFKA_API_METADATA,
                               KAFKA_API_PRODUCE, KAFKA_API_LIST_OFFSETS, KAFKA_API_FETCH};
    static const i16 versions[] = {0, KC_VERSION_CREATE_TOPICS, KC_VERSION_METADATA,
                                   KC_VERSION_PRODUCE, KC_VERSION_LIST_OFFSETS, KC_VERSION_FETCH};
    enum kafka_client_request kind = client->pending;
    struct proto_reader reader;
    proto_reader_init(&reader, frame, size);
    i32 correlation_id = 0;
    struct proto_arena arena;
    proto_arena_init(&arena, client->arena_memory, sizeof(client->arena_memory));
    union kafka_response response;
    bool ok = proto_response_header_decode(&reader, keys[kind], versions[kind],
                                           &correlation_id) == PROTO_OK &&
              kafka_response_decode(&reader, keys[kind], versions[kind], &response, &arena) ==
                  PROTO_OK;
    if (!ok || correlation_id != client->correlation_id) {
        io_log(client->io, IO_LOG_WARN, "kafka client: malformed or unexpected answer; closing");
        if (client->active && client->sent) {
            producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, KAFKA_ERROR_CORRUPT_MESSAGE);
        }
        kc_disconnect(client);
        return;
    }
    client->pending = KC_NONE;
    if (client->config.role == KAFKA_CLIENT_CONSUMER || !client->active) {
        io_timer_cancel(client->io, KC_TIMER_DEADLINE);
    }
    kc_dispatch(client, kind, &response);
}

static void kc_on_file(void *process, const struct io_completion *completion)
{
    (void)process;
    (void)completion;
}

static void kc_on_stop(void *process) { (void)process; }

const struct io_handler_vtable kafka_client_handler = {
    .on_start = kc_on_start,
    .on_timer = kc_on_timer,
    .on_conn = kc_on_conn,
    .on_frame = kc_on_frame,
    .on_file = kc_on_file,
    .on_stop = kc_on_stop,
};
