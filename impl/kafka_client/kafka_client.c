/* kafka_client.c: the simulated Kafka producer and consumer (see kafka_client.h); the group
 * consumer's membership is in kafka_client_group.c, reading through the consumer here.
 *
 * Links: one slot per broker endpoint the client knows (the bootstrap list, then the brokers
 * Metadata names), each with at most one connection and one request in flight (correlation
 * ids count upwards per client; an answer with another id closes the link). A link that fails
 * (refused, reset, timed out, a malformed answer) waits a jittered backoff before it connects
 * again, and the client asks for Metadata again: leaders may have moved.
 * Metadata: asked of any idle connected link in turn (a bootstrap one when none is connected);
 * it maps each partition to the link of its leader (-1: no leader, or a leader not among the
 * listed brokers, which are the unfenced ones). A partition without a leader is asked about
 * again after a backoff.
 * The group consumer's coordinator gets a link of its own (to the same endpoint as a leader's,
 * maybe), so a JoinGroup parked for a rebalance holds up no Fetch. Timers: see
 * kafka_client_internal.h.
 *
 * Producer: one request in flight at all (so send order is operation order). Each operation is
 * reported SEND once, then exactly one of ACKED (the offset the leader assigned), FAILED
 * (definitely not appended: never sent by its deadline, or a non-retriable error) or UNKNOWN
 * (sent, and the answer never came, or acks=0). An answer that means "not appended here"
 * (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION) refreshes the
 * metadata and retries the same value after a backoff, possibly to another broker.
 * A retrying producer (retry_unknown or idempotent) also resends, byte for byte, a batch whose
 * attempt timed out, lost its connection or got a retriable error, until delivery_timeout_ns
 * after its first send (RETRIED, c = the error: REQUEST_TIMED_OUT for a timeout,
 * NETWORK_EXCEPTION for a lost connection); an idempotent one gets a producer id first
 * (InitProducerId) and numbers its batches per partition, and a refused sequence or epoch gets
 * it a new id (KIP-360), unless an earlier attempt of the refused batch may be in a log: that
 * batch is resent unchanged instead. Without either flag nothing of this runs, so older runs
 * replay exactly.
 * Consumer: per partition a position and the connection it is valid on; a partition whose
 * leader's connection is not that one is listed again (ListOffsets earliest, REREAD) before
 * it is fetched, so after a broker restart its reads describe the log the broker recovered.
 * Each idle leader link fetches the partitions it leads (long poll 100 ms); records are
 * decoded with record_batch.h, and a partial batch at the end of an answer is left for the
 * next Fetch. A group consumer reads only what its group assigned it, from the position the
 * group member established (kafka_client_group.c), and keeps that position when a partition's
 * leader moves, as Kafka's consumers do.
 * Tested by the simulator's kafka scenarios (scenarios/kafka-*.scn, judged by
 * model/kafka_checkers.c and model/controller_checkers.c). */
#include "kafka_client_internal.h"

#include "../log/record_batch.h"
#include "../protocol/errors_generated.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    ASSERT(config->bootstrap_count > 0 && config->bootstrap_count <= KAFKA_CLIENT_BOOTSTRAP_MAX);
    ASSERT(config->replication_factor >= 1);
    ASSERT(!config->idempotent || config->acks == -1); /* As Kafka's producers require. */
    if (config->role == KAFKA_CLIENT_GROUP_CONSUMER) {
        ASSERT(config->group[0] != '\0');
        ASSERT(config->heartbeat_interval_ns > 0 && config->commit_interval_ns > 0);
        ASSERT(config->session_timeout_ns > 0 && config->rebalance_timeout_ns > 0);
    }
    struct kafka_client *client = calloc(1, sizeof(*client));
    if (client == NULL) return NULL;
    client->config = *config;
    client->io = io;
    client->operation_next = 1;
    client->producer_id = -1;
    client->producer_epoch = -1;
    for (u32 p = 0; p < KAFKA_CLIENT_PARTITIONS_MAX; p++) client->leader_link[p] = -1;
    kc_group_init(client);
    return client;
}

void kafka_client_destroy(struct kafka_client *client) { free(client); }

static bool kc_producer(const struct kafka_client *client)
{
    return client->config.role == KAFKA_CLIENT_PRODUCER;
}

void kc_observe(struct kafka_client *client, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    struct io_observation observation = {.kind = kind, .a = a, .b = b, .c = c, .d = d};
    io_observe(client->io, &observation);
}

struct proto_string kc_string(const char *text)
{
    struct proto_string string = {.data = text, .size = (i32)strlen(text)};
    return string;
}

/* ===== Links ===== */

/* Runs the pump again at at_ns (the earliest of the wake-ups asked for). */
void kc_wake(struct kafka_client *client, u64 at_ns)
{
    if (client->pump_at_ns != 0 && client->pump_at_ns <= at_ns) return;
    client->pump_at_ns = at_ns;
    io_timer_set(client->io, KC_TIMER_PUMP, at_ns);
}

static bool kc_group_consumer(const struct kafka_client *client)
{
    return client->config.role == KAFKA_CLIENT_GROUP_CONSUMER;
}

u32 kc_all_partitions(const struct kafka_client *client)
{
    return (u32)((1ull << client->config.partition_count) - 1);
}

static bool kc_link_referenced(const struct kafka_client *client, u32 index)
{
    if (client->group.coordinator_link == (i32)index) return true;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (client->leader_link[p] == (i32)index) return true;
    }
    return false;
}

i32 kc_link_of(struct kafka_client *client, const char *endpoint, bool coordinator)
{
    for (u32 i = 0; i < client->link_count; i++) {
        const struct kc_link *link = &client->links[i];
        if (link->coordinator == coordinator && strcmp(link->endpoint, endpoint) == 0) {
            return (i32)i;
        }
    }
    u32 index = client->link_count;
    if (index == KC_LINKS_MAX) { /* Reuse an idle slot no partition points at. */
        for (index = 0; index < KC_LINKS_MAX; index++) {
            const struct kc_link *link = &client->links[index];
            if (link->conn == 0 && !kc_link_referenced(client, index)) break;
        }
        if (index == KC_LINKS_MAX) return -1;
    } else {
        client->link_count++;
    }
    struct kc_link *link = &client->links[index];
    memset(link, 0, sizeof(*link));
    snprintf(link->endpoint, sizeof(link->endpoint), "%s", endpoint);
    link->broker_id = -1;
    link->coordinator = coordinator;
    return (i32)index;
}

bool kc_any_pending(const struct kafka_client *client, enum kafka_client_request kind)
{
    for (u32 i = 0; i < client->link_count; i++) {
        const enum kafka_client_request pending = client->links[i].pending;
        if (kind == KC_NONE ? pending != KC_NONE : pending == kind) return true;
    }
    return false;
}

static bool kc_link_idle(const struct kafka_client *client, u32 index)
{
    const struct kc_link *link = &client->links[index];
    return link->connected && link->pending == KC_NONE &&
           io_now_ns(client->io) >= link->not_before_ns;
}

/* Asks for Metadata again, delay_ns from now (or sooner, if already asked for sooner: asking
 * again must not postpone a refresh). */
static void kc_want_metadata(struct kafka_client *client, u64 delay_ns)
{
    u64 at = io_now_ns(client->io) + delay_ns;
    if (!client->metadata_wanted || at < client->metadata_not_before_ns) {
        client->metadata_not_before_ns = at;
    }
    client->metadata_wanted = true;
    kc_wake(client, client->metadata_not_before_ns);
}

void kc_link_backoff(struct kafka_client *client, u32 index)
{
    u64 jitter = io_random_below(client->io, KC_BACKOFF_NS);
    client->links[index].not_before_ns = io_now_ns(client->io) + KC_BACKOFF_NS + jitter;
    kc_wake(client, client->links[index].not_before_ns);
}

void kc_connect(struct kafka_client *client, u32 index)
{
    struct kc_link *link = &client->links[index];
    ASSERT(link->conn == 0);
    link->conn = io_connect(client->io, link->endpoint, index, KC_FRAME_MAX);
    link->connected = false;
    link->session = ++client->session_next;
    if (link->conn == 0) {
        io_log(client->io, IO_LOG_WARN, "kafka client: bad endpoint %s", link->endpoint);
        kc_link_backoff(client, index);
    }
}

bool kc_send(struct kafka_client *client, u32 index, enum kafka_client_request kind, i16 api_key,
             i16 version, const union kafka_request *body)
{
    struct kc_link *link = &client->links[index];
    ASSERT(link->pending == KC_NONE);
    if (!link->connected) return false;
    client->correlation_next = (client->correlation_next + 1) & 0x7fffffff;
    struct proto_request_header header = {.RequestApiKey = api_key, .RequestApiVersion = version,
                                          .CorrelationId = client->correlation_next,
                                          .ClientId = kc_string("cairn-sim")};
    struct proto_writer writer;
    proto_writer_init(&writer, client->send_buffer, sizeof(client->send_buffer));
    enum proto_error error = proto_request_frame_encode(&writer, &header, body);
    ASSERT(error == PROTO_OK); /* Our own requests always fit and are representable. */
    if (io_send(client->io, link->conn, writer.buffer, writer.position) != IO_OK) return false;
    link->pending = kind;
    link->correlation_id = client->correlation_next;
    io_timer_set(client->io, KC_TIMER_LINK + index,
                 io_now_ns(client->io) + client->config.request_timeout_ns);
    return true;
}

static void producer_retry(struct kafka_client *client, i16 error);

/* The link failed (closed, refused, timed out, spoke nonsense): what was in flight on it is
 * lost, it backs off, and the leaders it stood for are asked about again. */
void kc_link_lost(struct kafka_client *client, u32 index, i16 error)
{
    struct kc_link *link = &client->links[index];
    enum kafka_client_request pending = link->pending;
    if (pending == KC_PRODUCE && client->active && client->sent) {
        producer_retry(client, error);
    }
    if (link->conn != 0) io_close(client->io, link->conn);
    link->conn = 0;
    link->connected = false;
    link->pending = KC_NONE;
    link->partitions = 0;
    io_timer_cancel(client->io, KC_TIMER_LINK + index);
    kc_link_backoff(client, index);
    if (kc_group_consumer(client)) kc_group_link_lost(client, index, pending, error);
    if (!link->coordinator) kc_want_metadata(client, 0);
}

i32 kc_setup_link(struct kafka_client *client)
{
    for (u32 k = 0; k < client->link_count; k++) {
        u32 index = (client->metadata_next + k) % client->link_count;
        if (client->links[index].coordinator || !kc_link_idle(client, index)) continue;
        client->metadata_next = index + 1;
        return (i32)index;
    }
    for (u32 i = 0; i < client->link_count; i++) {
        const struct kc_link *link = &client->links[i];
        if (!link->coordinator && link->conn != 0 && !link->connected) {
            return -1; /* One is connecting. */
        }
    }
    u64 earliest = UINT64_MAX;
    for (u32 k = 0; k < client->config.bootstrap_count; k++) {
        u32 b = (client->bootstrap_next + k) % client->config.bootstrap_count;
        i32 index = kc_link_of(client, client->config.bootstrap[b], false);
        if (index < 0) continue;
        const struct kc_link *link = &client->links[index];
        if (link->conn != 0) continue;
        if (io_now_ns(client->io) < link->not_before_ns) {
            earliest = MIN(earliest, link->not_before_ns);
            continue;
        }
        client->bootstrap_next = b + 1;
        kc_connect(client, (u32)index);
        return -1;
    }
    if (earliest != UINT64_MAX) kc_wake(client, earliest);
    return -1;
}

/* ===== Metadata and topic creation ===== */

static void kc_send_create_topics(struct kafka_client *client, u32 index)
{
    struct kafka_create_topics_request_creatable_topic topic;
    kafka_create_topics_request_creatable_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    topic.NumPartitions = (i32)client->config.partition_count;
    topic.ReplicationFactor = client->config.replication_factor;
    union kafka_request body;
    kafka_create_topics_request_init(&body.CreateTopics);
    body.CreateTopics.Topics.items = &topic;
    body.CreateTopics.Topics.count = 1;
    body.CreateTopics.timeoutMs = (i32)(client->config.request_timeout_ns / NS_PER_MS);
    if (!kc_send(client, index, KC_CREATE_TOPICS, KAFKA_API_CREATE_TOPICS,
                 KC_VERSION_CREATE_TOPICS, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
    }
}

static void kc_send_metadata(struct kafka_client *client, u32 index)
{
    struct kafka_metadata_request_topic topic;
    kafka_metadata_request_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    union kafka_request body;
    kafka_metadata_request_init(&body.Metadata);
    body.Metadata.Topics.items = &topic;
    body.Metadata.Topics.count = 1;
    body.Metadata.AllowAutoTopicCreation = false;
    if (!kc_send(client, index, KC_METADATA, KAFKA_API_METADATA, KC_VERSION_METADATA, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
    }
}

/* Topic creation first (producers), then Metadata whenever it is wanted. True when a request
 * is in flight or went out now, or nothing else can be sent before one does; a refresh that
 * waits for its backoff does not hold back requests to leaders already known. */
static bool kc_pump_setup(struct kafka_client *client)
{
    bool create = kc_producer(client) && !client->topic_created;
    if (!create && !client->metadata_wanted) return false;
    if (kc_any_pending(client, KC_CREATE_TOPICS) || kc_any_pending(client, KC_METADATA)) {
        return true;
    }
    if (io_now_ns(client->io) < client->metadata_not_before_ns) {
        kc_wake(client, client->metadata_not_before_ns);
        return create || !client->metadata_seen;
    }
    i32 index = kc_setup_link(client);
    if (index < 0) return true;
    if (create) kc_send_create_topics(client, (u32)index);
    else kc_send_metadata(client, (u32)index);
    return true;
}

static void kc_on_create_topics(struct kafka_client *client,
                                const struct kafka_create_topics_response *response)
{
    i16 error = response->Topics.count == 1 ? response->Topics.items[0].ErrorCode
                                            : (i16)KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
    if (error != KAFKA_ERROR_NONE && error != KAFKA_ERROR_TOPIC_ALREADY_EXISTS) {
        client->metadata_not_before_ns = io_now_ns(client->io) + KC_BACKOFF_NS;
        kc_wake(client, client->metadata_not_before_ns);
        return;
    }
    client->topic_created = true;
    kc_want_metadata(client, 0);
}

static void kc_on_metadata(struct kafka_client *client,
                           const struct kafka_metadata_response *response)
{
    const struct kafka_metadata_response_topic *topic =
        response->Topics.count == 1 ? &response->Topics.items[0] : NULL;
    if (topic == NULL || topic->ErrorCode != KAFKA_ERROR_NONE ||
        topic->Partitions.count != (i32)client->config.partition_count) {
        kc_want_metadata(client, KC_BACKOFF_NS); /* Not created yet, or still growing. */
        return;
    }
    /* The listed brokers are the unfenced ones; a leader elsewhere is no leader to us. */
    i32 broker_link[KC_LINKS_MAX];
    i32 broker_ids[KC_LINKS_MAX];
    u32 broker_count = 0;
    for (i32 b = 0; b < response->Brokers.count && broker_count < KC_LINKS_MAX; b++) {
        const struct kafka_metadata_response_broker *broker = &response->Brokers.items[b];
        char endpoint[CONFIG_ENDPOINT_MAX];
        int written = snprintf(endpoint, sizeof(endpoint), "%.*s:%d",
                               (int)MAX(broker->Host.size, 0), broker->Host.data, broker->Port);
        if (written <= 0 || (u32)written >= sizeof(endpoint)) continue;
        i32 index = kc_link_of(client, endpoint, false);
        if (index < 0) continue;
        client->links[index].broker_id = broker->NodeId;
        broker_ids[broker_count] = broker->NodeId;
        broker_link[broker_count++] = index;
    }
    bool leaderless = false;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        client->leader_link[p] = -1;
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            const struct kafka_metadata_response_partition *partition =
                &topic->Partitions.items[i];
            if (partition->PartitionIndex != (i32)p) continue;
            if (partition->ErrorCode != KAFKA_ERROR_NONE || partition->LeaderId < 0) break;
            for (u32 b = 0; b < broker_count; b++) {
                if (broker_ids[b] == partition->LeaderId) client->leader_link[p] = broker_link[b];
            }
        }
        leaderless = leaderless || client->leader_link[p] < 0;
    }
    client->metadata_wanted = false;
    if (leaderless) kc_want_metadata(client, KC_BACKOFF_NS);
    if (!client->metadata_seen) {
        client->metadata_seen = true;
        if (kc_producer(client) && !client->active) {
            io_timer_set(client->io, KC_TIMER_NEXT,
                         io_now_ns(client->io) + client->config.interval_ns);
        }
    }
}

/* ===== Producer ===== */

/* Retries resend a batch whose outcome is unknown (retries > 0 in Kafka's producers). */
static bool producer_retries(const struct kafka_client *client)
{
    return client->config.idempotent || client->config.retry_unknown;
}

static u64 producer_delivery_deadline(const struct kafka_client *client)
{
    u64 timeout = client->config.delivery_timeout_ns != 0 ? client->config.delivery_timeout_ns
                                                          : client->config.request_timeout_ns;
    return client->first_sent_ns + timeout;
}

static void producer_operation_end(struct kafka_client *client, u32 kind, u64 c)
{
    ASSERT(client->active);
    /* A batch that never left the client used no sequence: the next one takes it, so the
     * leader sees no gap. */
    if (client->config.idempotent && !client->attempted && client->batch_size != 0 &&
        client->batch_producer_id == client->producer_id) {
        client->next_sequence[client->partition] = client->batch_sequence;
    }
    kc_observe(client, kind, client->operation_id, client->partition, c,
               kind == HISTORY_KAFKA_ACKED ? client->checksum : 0);
    client->active = false;
    client->sent = false;
    client->batch_size = 0;
    io_timer_cancel(client->io, KC_TIMER_DEADLINE);
    io_timer_set(client->io, KC_TIMER_NEXT, io_now_ns(client->io) + client->config.interval_ns);
}

/* Builds the operation's batch; an idempotent producer's carries its producer id, epoch and
 * the partition's next sequence. */
static void producer_build(struct kafka_client *client)
{
    struct batch_builder builder;
    batch_builder_init(&builder, client->batch, sizeof(client->batch), 0,
                       (i64)(io_wall_ns(client->io) / NS_PER_MS));
    if (client->config.idempotent) {
        ASSERT(client->producer_id >= 0 && client->producer_epoch >= 0);
        i32 sequence = client->next_sequence[client->partition];
        ASSERT(sequence >= 0);
        batch_builder_producer(&builder, client->producer_id, client->producer_epoch, sequence,
                               false);
        /* Kafka's sequences wrap from INT32_MAX to 0. */
        client->next_sequence[client->partition] = sequence == INT32_MAX ? 0 : sequence + 1;
        client->batch_producer_id = client->producer_id;
        client->batch_sequence = sequence;
    }
    batch_builder_add(&builder, builder.header.BaseTimestamp, client->key, (i32)client->key_size,
                      client->value, (i32)client->config.value_size, NULL, 0);
    client->batch_size = batch_builder_finish(&builder);
    ASSERT(client->batch_size > 0);
}

static void producer_send(struct kafka_client *client, u32 index)
{
    /* Without retries every attempt is built anew, as this producer always did; a retrying
     * one resends the very batch, unless a new producer id made its sequence meaningless. */
    bool stale = client->config.idempotent && client->batch_producer_id != client->producer_id;
    if (!producer_retries(client) || client->batch_size == 0 || stale) producer_build(client);
    struct kafka_produce_request_partition_produce_data partition;
    kafka_produce_request_partition_produce_data_init(&partition);
    partition.Index = (i32)client->partition;
    partition.Records.data = client->batch;
    partition.Records.size = (i32)client->batch_size;
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
    if (!kc_send(client, index, KC_PRODUCE, KAFKA_API_PRODUCE, KC_VERSION_PRODUCE, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION); /* Nothing left: unsent. */
        return;
    }
    client->sent = true;
    if (!client->attempted) {
        client->attempted = true;
        client->first_sent_ns = io_now_ns(client->io);
        /* delivery.timeout.ms runs from here: until then an unknown outcome is retried. */
        if (producer_retries(client)) {
            io_timer_set(client->io, KC_TIMER_DEADLINE, producer_delivery_deadline(client));
        }
    }
    if (client->config.acks == 0) { /* No answer will come: the outcome stays unknown. */
        client->links[index].pending = KC_NONE;
        io_timer_cancel(client->io, KC_TIMER_LINK + index);
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, 0);
    }
}

/* InitProducerId (no transactional id) on any idle link, after the backoff of a refusal. */
static void producer_init_id(struct kafka_client *client)
{
    if (io_now_ns(client->io) < client->producer_id_not_before_ns) {
        kc_wake(client, client->producer_id_not_before_ns);
        return;
    }
    i32 index = kc_setup_link(client);
    if (index < 0) return;
    union kafka_request body;
    kafka_init_producer_id_request_init(&body.InitProducerId);
    body.InitProducerId.TransactionalId = (struct proto_string){.data = NULL, .size = -1};
    body.InitProducerId.TransactionTimeoutMs = 60000; /* transaction.timeout.ms, unused here. */
    if (!kc_send(client, (u32)index, KC_INIT_PRODUCER_ID, KAFKA_API_INIT_PRODUCER_ID,
                 KC_VERSION_INIT_PRODUCER_ID, &body)) {
        kc_link_lost(client, (u32)index, KAFKA_ERROR_NETWORK_EXCEPTION);
    }
}

static void producer_on_init_producer_id(struct kafka_client *client,
                                         const struct kafka_init_producer_id_response *response)
{
    if (!client->config.idempotent || client->producer_id >= 0) return;
    i16 error = response->ErrorCode;
    if (error == KAFKA_ERROR_NONE && (response->ProducerId < 0 || response->ProducerEpoch < 0)) {
        error = KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
    }
    if (error != KAFKA_ERROR_NONE) {
        /* COORDINATOR_LOAD_IN_PROGRESS while the broker waits for a block of ids; anything
         * else is asked again too (there is nothing to send without an id). */
        if (!kafka_error_retriable(error)) {
            io_log(client->io, IO_LOG_WARN, "kafka producer: InitProducerId refused: %s",
                   kafka_error_name(error));
        }
        client->producer_id_not_before_ns = io_now_ns(client->io) + KC_BACKOFF_NS;
        kc_wake(client, client->producer_id_not_before_ns);
        return;
    }
    client->producer_id = response->ProducerId;
    client->producer_epoch = response->ProducerEpoch;
    memset(client->next_sequence, 0, sizeof(client->next_sequence));
    kc_observe(client, HISTORY_KAFKA_PRODUCER_ID, (u64)client->producer_id,
               (u64)client->producer_epoch, 0, 0);
}

static void producer_pump(struct kafka_client *client)
{
    if (kc_any_pending(client, KC_NONE)) return; /* One request at a time. */
    if (kc_pump_setup(client)) return;
    if (client->config.idempotent && client->producer_id < 0) {
        producer_init_id(client);
        return;
    }
    if (!client->active || client->sent) return;
    if (io_now_ns(client->io) < client->resend_not_before_ns) {
        kc_wake(client, client->resend_not_before_ns);
        return;
    }
    i32 index = client->leader_link[client->partition];
    if (index < 0) {
        kc_want_metadata(client, KC_BACKOFF_NS);
        return;
    }
    struct kc_link *link = &client->links[index];
    if (link->conn == 0) {
        if (io_now_ns(client->io) >= link->not_before_ns) kc_connect(client, (u32)index);
        else kc_wake(client, link->not_before_ns);
        return;
    }
    if (!link->connected) return; /* Connecting. */
    if (io_now_ns(client->io) < link->not_before_ns) {
        kc_wake(client, link->not_before_ns);
        return;
    }
    producer_send(client, (u32)index);
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
    client->attempted = false;
    client->unresolved = false;
    client->first_sent_ns = 0;
    client->batch_size = 0;
    /* The checkers need to know which acknowledgements came from the leader alone, and
     * which values the leaders deduplicate (every batch of an idempotent producer carries
     * its producer id: none is sent before InitProducerId answered). */
    u64 bits = client->config.acks == 1 ? HISTORY_KAFKA_ACKS_LEADER : 0;
    if (client->config.idempotent) bits |= HISTORY_KAFKA_IDEMPOTENT;
    kc_observe(client, HISTORY_KAFKA_SEND, client->operation_id, client->partition,
               client->checksum, bits);
    /* The operation's own deadline: unsent by then, it definitely failed. */
    io_timer_set(client->io, KC_TIMER_DEADLINE, now + client->config.request_timeout_ns);
}

static bool producer_sequence_error(i16 error)
{
    return error == KAFKA_ERROR_OUT_OF_ORDER_SEQUENCE_NUMBER ||
           error == KAFKA_ERROR_UNKNOWN_PRODUCER_ID ||
           error == KAFKA_ERROR_INVALID_PRODUCER_EPOCH;
}

/* The attempt's outcome is unknown (error: REQUEST_TIMED_OUT for a timeout, NETWORK_EXCEPTION
 * for a lost connection, CORRUPT_MESSAGE for an unreadable answer, or a retriable error the
 * leader answered): a retrying producer sends the same batch again until its delivery timeout
 * (RETRIED, c = error), after the caller's backoff; any other reports it UNKNOWN. */
static void producer_retry(struct kafka_client *client, i16 error)
{
    ASSERT(client->active && client->attempted);
    if (!producer_retries(client) || io_now_ns(client->io) >= producer_delivery_deadline(client)) {
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, (u64)(u16)error);
        return;
    }
    kc_observe(client, HISTORY_KAFKA_RETRIED, client->operation_id, client->partition,
               (u64)(u16)error, 0);
    client->sent = false;
    client->unresolved = client->unresolved || !producer_sequence_error(error);
}

/* The leader refused the producer's sequence or epoch (it lost the producer's state, or the
 * producer's previous batch, whose outcome was unknown, never arrived): as Kafka's producers
 * do since KIP-360 without transactions, get a new producer id and send the batch again as
 * its sequence 0. */
static void producer_reset_id(struct kafka_client *client, i16 error)
{
    client->producer_id = -1;
    client->producer_epoch = -1;
    producer_retry(client, error); /* Rebuilt under the new id (batch_producer_id is stale). */
}

static void producer_on_produce(struct kafka_client *client,
                                const struct kafka_produce_response *response, u32 index)
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
        /* Not appended here, or (NOT_LEADER_OR_FOLLOWER from a leader deposed while the append
         * waited for its followers) maybe appended: the same value again after a backoff, to
         * whoever leads then. The history says so where a duplicate may follow. */
        if (error == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER) {
            kc_observe(client, HISTORY_KAFKA_RETRIED, client->operation_id, client->partition,
                       (u64)(u16)error, 0);
            client->unresolved = true;
        }
        client->sent = false;
        kc_link_backoff(client, index);
        kc_want_metadata(client, KC_BACKOFF_NS);
    } else if (client->config.idempotent && producer_sequence_error(error) &&
               client->unresolved) {
        /* An earlier attempt may be in the real leader's log, where only this producer id
         * and sequence let it be recognised: the broker that refused it may be a deposed
         * leader that never got the batches before it. Resend it unchanged (to whoever the
         * metadata names next) until the delivery timeout rather than write it anew under a
         * new id, which could put it in the log twice. */
        producer_retry(client, error);
        if (client->active) {
            /* Metadata first, on the idle link, then the resend after the backoff (backing
             * off the only link would leave the refresh nothing to go on). */
            client->resend_not_before_ns = io_now_ns(client->io) + KC_BACKOFF_NS;
            kc_want_metadata(client, 0);
        }
    } else if (client->config.idempotent && producer_sequence_error(error)) {
        producer_reset_id(client, error);
        kc_link_backoff(client, index);
    } else if (error == KAFKA_ERROR_DUPLICATE_SEQUENCE_NUMBER) {
        /* Written before, at an offset the answer does not give. */
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, (u64)(u16)error);
    } else if (kafka_error_retriable(error)) {
        /* E.g. NOT_ENOUGH_REPLICAS_AFTER_APPEND: in the leader's log, maybe lost later. */
        producer_retry(client, error);
        if (client->active) kc_link_backoff(client, index);
    } else {
        producer_operation_end(client, HISTORY_KAFKA_FAILED, (u64)(u16)error);
    }
}

static void producer_on_deadline(struct kafka_client *client)
{
    if (!client->active) return;
    /* Never sent: definitely not appended. (A producer without retries also says so after a
     * NOT_LEADER_OR_FOLLOWER that was never resent, as it always has.) */
    if (!client->sent && !(producer_retries(client) && client->attempted)) {
        producer_operation_end(client, HISTORY_KAFKA_FAILED, KAFKA_ERROR_REQUEST_TIMED_OUT);
        return;
    }
    for (u32 i = 0; i < client->link_count; i++) {
        if (client->links[i].pending == KC_PRODUCE) {
            kc_link_lost(client, i, KAFKA_ERROR_REQUEST_TIMED_OUT);
        }
    }
    if (client->active) { /* Sent with acks, and no link carries it any more. */
        producer_operation_end(client, HISTORY_KAFKA_UNKNOWN, KAFKA_ERROR_REQUEST_TIMED_OUT);
    }
}

/* ===== Consumer ===== */

static void consumer_list_offsets(struct kafka_client *client, u32 index, u32 mask)
{
    struct kafka_list_offsets_request_partition partitions[KAFKA_CLIENT_PARTITIONS_MAX];
    u32 count = 0;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (!((mask >> p) & 1)) continue;
        kafka_list_offsets_request_partition_init(&partitions[count]);
        partitions[count].PartitionIndex = (i32)p;
        partitions[count++].Timestamp = -2; /* Earliest. */
    }
    ASSERT(count > 0);
    struct kafka_list_offsets_request_topic topic;
    kafka_list_offsets_request_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    topic.Partitions.items = partitions;
    topic.Partitions.count = (i32)count;
    union kafka_request body;
    kafka_list_offsets_request_init(&body.ListOffsets);
    body.ListOffsets.ReplicaId = -1;
    body.ListOffsets.Topics.items = &topic;
    body.ListOffsets.Topics.count = 1;
    if (!kc_send(client, index, KC_LIST_OFFSETS, KAFKA_API_LIST_OFFSETS,
                 KC_VERSION_LIST_OFFSETS, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
        return;
    }
    client->links[index].partitions = mask;
}

static void consumer_fetch(struct kafka_client *client, u32 index, u32 mask)
{
    struct kafka_fetch_request_partition partitions[KAFKA_CLIENT_PARTITIONS_MAX];
    u32 count = 0;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (!((mask >> p) & 1)) continue;
        kafka_fetch_request_partition_init(&partitions[count]);
        partitions[count].Partition = (i32)p;
        partitions[count].FetchOffset = client->position[p];
        partitions[count++].PartitionMaxBytes = 64 * 1024;
    }
    ASSERT(count > 0);
    struct kafka_fetch_request_topic topic;
    kafka_fetch_request_topic_init(&topic);
    topic.Topic = kc_string(client->config.topic);
    topic.Partitions.items = partitions;
    topic.Partitions.count = (i32)count;
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
    if (!kc_send(client, index, KC_FETCH, KAFKA_API_FETCH, KC_VERSION_FETCH, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
        return;
    }
    client->links[index].partitions = mask;
}

void kc_forget_partitions(struct kafka_client *client, u32 mask)
{
    for (u32 i = 0; i < client->link_count; i++) {
        struct kc_link *link = &client->links[i];
        if (link->pending == KC_LIST_OFFSETS || link->pending == KC_FETCH) {
            link->partitions &= ~mask;
        }
    }
}

static void consumer_pump(struct kafka_client *client)
{
    kc_pump_setup(client); /* Metadata goes on any idle link; the others keep reading. */
    if (!client->metadata_seen) return;
    /* A group consumer lists and reads only what its member has positioned, or must. */
    bool group = kc_group_consumer(client);
    u32 listable = group ? kc_group_listable(client) : 0;
    u32 wanted = group ? listable | kc_group_readable(client) : kc_all_partitions(client);
    bool leaderless = false;
    u32 led[KC_LINKS_MAX] = {0};
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (!((wanted >> p) & 1)) continue;
        i32 index = client->leader_link[p];
        if (index < 0) leaderless = true;
        else led[index] |= 1u << p;
    }
    if (leaderless && !client->metadata_wanted) kc_want_metadata(client, KC_BACKOFF_NS);
    for (u32 i = 0; i < client->link_count; i++) {
        struct kc_link *link = &client->links[i];
        if (led[i] == 0) continue;
        if (link->conn == 0) {
            if (io_now_ns(client->io) >= link->not_before_ns) kc_connect(client, i);
            else kc_wake(client, link->not_before_ns);
            continue;
        }
        if (!link->connected || link->pending != KC_NONE) continue;
        if (io_now_ns(client->io) < link->not_before_ns) {
            kc_wake(client, link->not_before_ns);
            continue;
        }
        u32 unlisted = led[i] & listable;
        for (u32 p = 0; p < client->config.partition_count && !group; p++) {
            if (((led[i] >> p) & 1) && client->positioned_on[p] != link->session) {
                unlisted |= 1u << p;
            }
        }
        if (unlisted != 0) consumer_list_offsets(client, i, unlisted);
        else consumer_fetch(client, i, led[i]);
    }
}

/* An error that says the partition's leadership is elsewhere, or not there yet. */
static bool kc_leadership_error(i16 error)
{
    return error == KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER ||
           error == KAFKA_ERROR_LEADER_NOT_AVAILABLE ||
           error == KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION ||
           error == KAFKA_ERROR_FENCED_LEADER_EPOCH || error == KAFKA_ERROR_UNKNOWN_LEADER_EPOCH;
}

static void consumer_on_list_offsets(struct kafka_client *client, u32 index, u32 mask,
                                     const struct kafka_list_offsets_response *response)
{
    struct kc_link *link = &client->links[index];
    bool retry = false;
    for (i32 t = 0; t < response->Topics.count; t++) {
        const struct kafka_list_offsets_response_topic *topic = &response->Topics.items[t];
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            const struct kafka_list_offsets_response_partition *partition =
                &topic->Partitions.items[i];
            i32 p = partition->PartitionIndex;
            if (p < 0 || (u32)p >= client->config.partition_count || !((mask >> p) & 1)) {
                continue;
            }
            mask &= ~(1u << p);
            if (partition->ErrorCode != KAFKA_ERROR_NONE || partition->Offset < 0) {
                if (kc_leadership_error(partition->ErrorCode)) {
                    kc_want_metadata(client, KC_BACKOFF_NS);
                }
                retry = true;
                continue;
            }
            if (kc_group_consumer(client)) {
                kc_group_positioned(client, (u32)p, partition->Offset);
                continue;
            }
            client->position[p] = partition->Offset;
            client->positioned_on[p] = link->session;
            kc_observe(client, HISTORY_KAFKA_REREAD, (u64)p, (u64)partition->Offset, 0, 0);
        }
    }
    /* Partitions the answer left out, or refused (the broker opening its logs), wait. */
    if (retry || mask != 0) kc_link_backoff(client, index);
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

static void consumer_on_fetch(struct kafka_client *client, u32 index, u32 mask,
                              const struct kafka_fetch_response *response)
{
    bool failed = response->ErrorCode != KAFKA_ERROR_NONE;
    for (i32 t = 0; t < response->Responses.count; t++) {
        const struct kafka_fetch_response_fetchable_topic *topic = &response->Responses.items[t];
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            const struct kafka_fetch_response_partition_data *data = &topic->Partitions.items[i];
            i32 p = data->PartitionIndex;
            bool asked = p >= 0 && (u32)p < client->config.partition_count && ((mask >> p) & 1);
            if (!asked) continue;
            if (kc_group_consumer(client)) { /* Read while its member positions it. */
                if (!((kc_group_readable(client) >> p) & 1)) continue;
            } else if (client->positioned_on[p] != client->links[index].session) {
                continue; /* Reads count only from the log the position was listed on. */
            }
            if (data->ErrorCode == KAFKA_ERROR_OFFSET_OUT_OF_RANGE) {
                /* Start over from the earliest offset (auto.offset.reset=earliest). */
                if (kc_group_consumer(client)) kc_group_out_of_range(client, (u32)p);
                else client->positioned_on[p] = 0;
                continue;
            }
            if (data->ErrorCode != KAFKA_ERROR_NONE) {
                if (kc_leadership_error(data->ErrorCode)) kc_want_metadata(client, KC_BACKOFF_NS);
                failed = true;
                continue;
            }
            if (data->Records.size > 0) {
                consumer_records(client, (u32)p, data->Records.data, (u64)data->Records.size);
            }
        }
    }
    /* The broker is opening its logs, or the topic is not there yet: ask again later. */
    if (failed) kc_link_backoff(client, index);
}

/* ===== Events ===== */

static void kc_pump(struct kafka_client *client)
{
    if (kc_producer(client)) {
        producer_pump(client);
        return;
    }
    if (kc_group_consumer(client)) kc_group_pump(client);
    consumer_pump(client);
}

static void kc_on_start(void *process)
{
    struct kafka_client *client = process;
    client->metadata_wanted = true;
    kc_pump(client);
}

static void kc_on_timer(void *process, u32 timer_id)
{
    struct kafka_client *client = process;
    if (timer_id >= KC_TIMER_LINK && timer_id < KC_TIMER_LINK + KC_LINKS_MAX) {
        u32 index = timer_id - KC_TIMER_LINK;
        if (index < client->link_count && client->links[index].pending != KC_NONE) {
            kc_link_lost(client, index, KAFKA_ERROR_REQUEST_TIMED_OUT);
        }
    } else if (timer_id == KC_TIMER_DEADLINE) {
        if (kc_producer(client)) producer_on_deadline(client);
    } else if (timer_id == KC_TIMER_NEXT) {
        if (kc_producer(client) && client->metadata_seen && !client->active) {
            producer_operation_start(client);
        }
    } else if (timer_id == KC_TIMER_PUMP) {
        client->pump_at_ns = 0;
    }
    kc_pump(client);
}

static i32 kc_link_by_conn(const struct kafka_client *client, io_conn conn)
{
    if (conn == 0) return -1;
    for (u32 i = 0; i < client->link_count; i++) {
        if (client->links[i].conn == conn) return (i32)i;
    }
    return -1;
}

static void kc_on_conn(void *process, io_conn conn, enum io_conn_event event,
                       enum io_close_reason reason, u64 tag)
{
    struct kafka_client *client = process;
    (void)reason;
    (void)tag;
    i32 index = kc_link_by_conn(client, conn);
    if (index < 0) return;
    struct kc_link *link = &client->links[index];
    if (event == IO_CONN_CONNECTED) {
        link->connected = true;
        if (!link->coordinator) { /* Records come over the others. */
            kc_observe(client, HISTORY_KAFKA_CONNECTED, kc_producer(client) ? 0 : 1,
                       link->broker_id < 0 ? UINT64_MAX : (u64)link->broker_id, 0, 0);
        }
    } else if (event == IO_CONN_CLOSED) {
        link->conn = 0; /* Already closed: kc_link_lost must not close it again. */
        kc_link_lost(client, (u32)index, KAFKA_ERROR_NETWORK_EXCEPTION);
    }
    kc_pump(client);
}

static void kc_dispatch(struct kafka_client *client, u32 index, enum kafka_client_request kind,
                        u32 mask, const union kafka_response *response)
{
    switch (kind) {
    case KC_CREATE_TOPICS: kc_on_create_topics(client, &response->CreateTopics); break;
    case KC_METADATA: kc_on_metadata(client, &response->Metadata); break;
    case KC_PRODUCE: producer_on_produce(client, &response->Produce, index); break;
    case KC_LIST_OFFSETS:
        consumer_on_list_offsets(client, index, mask, &response->ListOffsets);
        break;
    case KC_FETCH: consumer_on_fetch(client, index, mask, &response->Fetch); break;
    case KC_FIND_COORDINATOR:
    case KC_JOIN_GROUP:
    case KC_SYNC_GROUP:
    case KC_HEARTBEAT:
    case KC_OFFSET_COMMIT:
    case KC_OFFSET_FETCH: kc_group_dispatch(client, index, kind, response); break;
    case KC_INIT_PRODUCER_ID:
        producer_on_init_producer_id(client, &response->InitProducerId);
        break;
    case KC_NONE:
    case KC_REQUEST_KINDS: ASSERT(false); break;
    }
}

static void kc_on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    struct kafka_client *client = process;
    i32 found = kc_link_by_conn(client, conn);
    if (found < 0 || client->links[found].pending == KC_NONE) return;
    u32 index = (u32)found;
    struct kc_link *link = &client->links[index];
    static const i16 keys[KC_REQUEST_KINDS] = {
        0, KAFKA_API_CREATE_TOPICS, KAFKA_API_METADATA, KAFKA_API_PRODUCE,
        KAFKA_API_LIST_OFFSETS, KAFKA_API_FETCH, KAFKA_API_FIND_COORDINATOR, KAFKA_API_JOIN_GROUP,
        KAFKA_API_SYNC_GROUP, KAFKA_API_HEARTBEAT, KAFKA_API_OFFSET_COMMIT,
        KAFKA_API_OFFSET_FETCH, KAFKA_API_INIT_PRODUCER_ID};
    static const i16 versions[KC_REQUEST_KINDS] = {
        0, KC_VERSION_CREATE_TOPICS, KC_VERSION_METADATA, KC_VERSION_PRODUCE,
        KC_VERSION_LIST_OFFSETS, KC_VERSION_FETCH, KC_VERSION_FIND_COORDINATOR,
        KC_VERSION_JOIN_GROUP, KC_VERSION_SYNC_GROUP, KC_VERSION_HEARTBEAT,
        KC_VERSION_OFFSET_COMMIT, KC_VERSION_OFFSET_FETCH, KC_VERSION_INIT_PRODUCER_ID};
    enum kafka_client_request kind = link->pending;
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
    if (!ok || correlation_id != link->correlation_id) {
        io_log(client->io, IO_LOG_WARN, "kafka client: malformed or unexpected answer from %s; "
               "closing", link->endpoint);
        kc_link_lost(client, index, KAFKA_ERROR_CORRUPT_MESSAGE);
        kc_pump(client);
        return;
    }
    u32 mask = link->partitions;
    link->pending = KC_NONE;
    link->partitions = 0;
    io_timer_cancel(client->io, KC_TIMER_LINK + index);
    kc_dispatch(client, index, kind, mask, &response);
    kc_pump(client);
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
