/* broker_link.c: the broker's one connection to the active controller.
 *
 * Over it the broker (KIP-631's broker lifecycle):
 *   - registers (BrokerRegistration: its id, a random incarnation id drawn at start, its
 *     advertised client listener and rack); the controller answers once the RegisterBroker
 *     record is committed, with the broker epoch (that record's offset). The broker starts
 *     fenced: no partition leadership is placed on it.
 *   - heartbeats every broker.heartbeat.interval.ms with the offset of the metadata it has
 *     applied; the controller unfences it once it has caught up to its own registration, and
 *     fences it if heartbeats stop for broker.session.timeout.ms. A stale epoch (the
 *     controller no longer knows this registration) makes it register again.
 *   - asks for a controlled shutdown when stopping gracefully (WantShutDown): the controller
 *     moves its leaderships away first.
 *   - forwards its clients' admin requests (CreateTopics, DeleteTopics, CreatePartitions,
 *     IncrementalAlterConfigs, ElectLeaders, AlterPartitionReassignments,
 *     ListPartitionReassignments) byte for byte, only the correlation id replaced by its own,
 *     and relays the answer with the client's correlation id restored (KIP-590's forwarding,
 *     without the Envelope: no principal to carry). The request holds a request slot, so the
 *     client's connection stays in order; if the link drops the request is sent again to the
 *     next controller; after BROKER_FORWARD_TIMEOUT_NS the client's connection is closed (its
 *     client retries, as after any broken connection).
 *   - asks for auto-created topics (a CreateTopics with the defaults) when Metadata finds a
 *     name it does not know, and for __consumer_offsets when FindCoordinator (or Metadata)
 *     needs it: offsets.topic.num.partitions, offsets.topic.replication.factor,
 *     cleanup.policy=compact and segment.bytes=offsets.topic.segment.bytes, as Kafka creates
 *     its internal topic. That answer is read: an error (too few brokers for the replication
 *     factor, say) is logged once per distinct error, since clients only see
 *     COORDINATOR_NOT_AVAILABLE and keep asking.
 *   - carries the requests of the broker's own other parts (broker_link_request): the
 *     leader's AlterPartition (broker_replication.c) and AllocateProducerIds
 *     (broker_producer_ids.c), whose answers go back there by correlation id; losing the
 *     connection gives every one in flight up (broker_replication_on_alter_answer with
 *     correlation -1, broker_producer_ids_on_answer with NULL), and they ask again.
 * The controller is the quorum's leader (broker_set_controller, from the node); its address is
 * its entry in controller.quorum.voters (the controller listener). The link reconnects with a
 * jittered, doubling backoff. Answers are matched by correlation id: the controller may answer
 * out of order (a heartbeat at once, a registration when its record commits).
 *
 * Invariants: a slot is forward_sent only while conn is connected; at most one registration,
 * one heartbeat and one auto-creation in flight. Tested by tests/integration/kbroker_cluster.sh
 * (three kbrokers, a SIGKILLed controller) and every ksim scenario with brokers. */
#include "broker_internal.h"

#include <stdio.h>
#include <string.h>

#define LINK_BACKOFF_MIN_NS (50ull * 1000u * 1000u)
#define LINK_BACKOFF_MAX_NS (1000ull * 1000u * 1000u)
#define LINK_VERSION_REGISTRATION 0
#define LINK_VERSION_HEARTBEAT 0
#define LINK_VERSION_CREATE_TOPICS 5
#define LINK_CLIENT_ID "cairn-broker"
#define LINK_CATCH_UP_RETRY_NS (50ull * 1000u * 1000u)

static u64 link_now(const struct broker *broker) { return io_now_ns(broker->io); }
static void link_on_offsets_topic_created(struct broker *broker, struct proto_reader *reader);

static const char *link_controller_endpoint(const struct broker *broker, i32 id)
{
    for (u32 i = 0; i < broker->config.voter_count; i++) {
        if ((i32)broker->config.voters[i].id == id) return broker->config.voters[i].endpoint;
    }
    return NULL;
}

static bool link_is_broker(const struct broker *broker)
{
    return (broker->config.roles & CONFIG_ROLE_BROKER) != 0;
}

/* Arms the link timer for the earliest thing it waits for. */
static void link_arm(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    u64 when = UINT64_MAX;
    if (link->conn == 0 && broker->controller_id >= 0) when = MIN(when, link->retry_ns);
    if (link->connected && link->state == BROKER_LINK_REGISTERED && !link->heartbeat_inflight) {
        when = MIN(when, link->heartbeat_due_ns);
    }
    if (link->heartbeat_inflight || link->state == BROKER_LINK_REGISTERING) {
        u64 timeout = broker->config.quorum_request_timeout_ms * 1000u * 1000u;
        when = MIN(when, link->heartbeat_sent_ns + timeout);
    }
    if (broker->reconcile_pending) when = MIN(when, link->reconcile_ns);
    if (when == UINT64_MAX) {
        io_timer_cancel(broker->io, link->timer);
    } else {
        io_timer_set(broker->io, link->timer, MAX(when, link_now(broker)));
    }
}

void broker_link_wake(struct broker *broker, u64 delay_ns)
{
    broker->link.reconcile_ns = link_now(broker) + delay_ns;
    link_arm(broker);
}

/* The connection is gone (closed by either side): requests on it go again on the next. */
static void link_lost(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    link->conn = 0;
    link->connected = false;
    link->heartbeat_inflight = false;
    link->create_correlation = -1;
    link->create_internal = false;
    if (link->state == BROKER_LINK_REGISTERING) link->state = BROKER_LINK_UNREGISTERED;
    for (u32 s = 0; s < BROKER_SLOTS_MAX; s++) broker->slots[s].forward_sent = false;
    broker_replication_on_alter_answer(broker, -1, NULL); /* Never answered now. */
    broker_producer_ids_on_answer(broker, NULL);
    link->backoff_ns = link->backoff_ns == 0 ? LINK_BACKOFF_MIN_NS
                                             : MIN(link->backoff_ns * 2, LINK_BACKOFF_MAX_NS);
    u64 jitter = io_random_below(broker->io, link->backoff_ns / 2 + 1);
    link->retry_ns = link_now(broker) + link->backoff_ns / 2 + jitter;
}

static void link_close(struct broker *broker)
{
    if (broker->link.conn == 0) return;
    io_close(broker->io, broker->link.conn);
    link_lost(broker);
}

static i32 link_correlation(struct broker *broker)
{
    broker->link.correlation_next = (broker->link.correlation_next + 1) & 0x7fffffff;
    return broker->link.correlation_next;
}

/* Encodes and sends one request of ours; -1 if it could not be sent (the link is closed). */
static i32 link_send(struct broker *broker, i16 api_key, i16 version,
                     const union kafka_request *body)
{
    struct broker_link *link = &broker->link;
    ASSERT(link->connected);
    i32 correlation = link_correlation(broker);
    struct proto_request_header header = {.RequestApiKey = api_key,
                                          .RequestApiVersion = version,
                                          .CorrelationId = correlation,
                                          .ClientId = proto_string_of(LINK_CLIENT_ID)};
    struct proto_writer writer;
    proto_writer_init(&writer, link->buffer, BROKER_LINK_BUFFER_SIZE);
    enum proto_error error = proto_request_frame_encode(&writer, &header, body);
    ASSERT(error == PROTO_OK); /* Our own requests are small and representable. */
    if (io_send(broker->io, link->conn, link->buffer, writer.position) != IO_OK) {
        link_close(broker);
        return -1;
    }
    return correlation;
}

i32 broker_link_request(struct broker *broker, i16 api_key, i16 version,
                        const union kafka_request *body)
{
    struct broker_link *link = &broker->link;
    if (!link->connected || link->state != BROKER_LINK_REGISTERED) return -1;
    return link_send(broker, api_key, version, body);
}

/* An answer to a request broker_link_request sent for broker_replication.c. */
static bool link_on_alter_partition(struct broker *broker, i32 correlation,
                                    struct proto_reader *reader)
{
    struct proto_arena decode, unused;
    broker_scratch_arenas(broker, &decode, &unused);
    i32 ignored = 0;
    union kafka_response response;
    i16 version = BROKER_ALTER_PARTITION_VERSION;
    if (proto_response_header_decode(reader, KAFKA_API_ALTER_PARTITION, version, &ignored) !=
            PROTO_OK ||
        kafka_response_decode(reader, KAFKA_API_ALTER_PARTITION, version, &response, &decode) !=
            PROTO_OK) {
        broker_replication_on_alter_answer(broker, correlation, NULL);
        return false;
    }
    broker_replication_on_alter_answer(broker, correlation, &response);
    return true;
}

static void link_register(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    char host[CONFIG_ENDPOINT_MAX];
    struct kafka_broker_registration_request_listener listener;
    kafka_broker_registration_request_listener_init(&listener);
    const struct config_listener *client = config_client_listener(&broker->config);
    i32 port = 0;
    broker_advertised(broker, host, sizeof(host), &port);
    listener.Name = proto_string_of(client != NULL ? client->name : "PLAINTEXT");
    listener.Host = proto_string_of(host);
    listener.Port = (u16)port;
    listener.SecurityProtocol = 0; /* PLAINTEXT */
    union kafka_request body;
    struct kafka_broker_registration_request *request = &body.BrokerRegistration;
    kafka_broker_registration_request_init(request);
    request->BrokerId = (i32)broker->config.node_id;
    request->ClusterId = proto_string_of(BROKER_CLUSTER_ID);
    request->IncarnationId = link->incarnation;
    request->Listeners.items = &listener;
    request->Listeners.count = 1;
    request->Rack = broker->config.rack[0] != '\0' ? proto_string_of(broker->config.rack)
                                                   : PROTO_STRING_NULL;
    i32 correlation = link_send(broker, KAFKA_API_BROKER_REGISTRATION,
                                LINK_VERSION_REGISTRATION, &body);
    if (correlation < 0) return;
    link->state = BROKER_LINK_REGISTERING;
    link->registration_correlation = correlation;
    link->heartbeat_sent_ns = link_now(broker);
}

static void link_heartbeat(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    union kafka_request body;
    struct kafka_broker_heartbeat_request *request = &body.BrokerHeartbeat;
    kafka_broker_heartbeat_request_init(request);
    request->BrokerId = (i32)broker->config.node_id;
    request->BrokerEpoch = link->broker_epoch;
    request->CurrentMetadataOffset = broker->image != NULL ? broker->image->applied_offset : -1;
    request->WantFence = false;
    request->WantShutDown = link->want_shut_down;
    i32 correlation = link_send(broker, KAFKA_API_BROKER_HEARTBEAT, LINK_VERSION_HEARTBEAT,
                                &body);
    if (correlation < 0) return;
    link->heartbeat_inflight = true;
    link->heartbeat_correlation = correlation;
    link->heartbeat_sent_ns = link_now(broker);
    link->heartbeat_due_ns = link->heartbeat_sent_ns +
                             broker->config.broker_heartbeat_interval_ms * 1000u * 1000u;
}

/* Sends a forwarded frame as it is, with our correlation id. */
static void link_forward(struct broker *broker, struct broker_slot *slot)
{
    struct broker_link *link = &broker->link;
    ASSERT(slot->used && slot->forwarding && !slot->forward_sent);
    ASSERT(slot->frame_size >= 8 && slot->frame_size + 4 <= BROKER_LINK_BUFFER_SIZE);
    i32 correlation = link_correlation(broker);
    store_u32_be(link->buffer, slot->frame_size);
    memcpy(link->buffer + 4, slot->frame, slot->frame_size);
    store_u32_be(link->buffer + 4 + 4, (u32)correlation); /* After api key and version. */
    if (io_send(broker->io, link->conn, link->buffer, slot->frame_size + 4) != IO_OK) {
        link_close(broker);
        return;
    }
    slot->forward_sent = true;
    slot->forward_correlation = correlation;
}

/* Moves the link forward: (re)connects to the current controller, registers, heartbeats,
 * sends what waits. */
static void link_pump(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    i32 target = broker->controller_id;
    if (link->conn != 0 && link->connected_id != target) link_close(broker);
    if (link->conn == 0 && target >= 0 && link_now(broker) >= link->retry_ns) {
        const char *endpoint = link_controller_endpoint(broker, target);
        if (endpoint != NULL) {
            link->conn = io_connect(broker->io, endpoint, BROKER_LINK_CONN_TAG,
                                    BROKER_LINK_BUFFER_SIZE);
            link->connected_id = target;
            if (link->conn == 0) link_lost(broker);
        }
    }
    if (link->connected) {
        if (link->state == BROKER_LINK_UNREGISTERED && link_is_broker(broker) &&
            !broker->stopping) {
            link_register(broker);
        }
        if (link->connected && link->state == BROKER_LINK_REGISTERED &&
            !link->heartbeat_inflight && link_now(broker) >= link->heartbeat_due_ns) {
            link_heartbeat(broker);
        }
        for (u32 s = 0; s < BROKER_SLOTS_MAX && link->connected; s++) {
            struct broker_slot *slot = &broker->slots[s];
            if (slot->used && slot->forwarding && !slot->forward_sent) link_forward(broker, slot);
        }
    }
    link_arm(broker);
}

/* ===== From the node ===== */

void broker_set_controller(struct broker *broker, i32 controller_id)
{
    if (broker->controller_id == controller_id && broker->link.conn != 0) return;
    broker->controller_id = controller_id;
    link_pump(broker);
}

io_conn broker_link_conn(const struct broker *broker) { return broker->link.conn; }

void broker_link_on_conn(struct broker *broker, enum io_conn_event event)
{
    struct broker_link *link = &broker->link;
    ASSERT(link->conn != 0);
    if (event == IO_CONN_CONNECTED) {
        link->connected = true;
        link->backoff_ns = 0;
    } else {
        link_lost(broker);
    }
    link_pump(broker);
}

void broker_link_on_timer(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    u64 now = link_now(broker);
    u64 timeout = broker->config.quorum_request_timeout_ms * 1000u * 1000u;
    bool waiting = link->heartbeat_inflight || link->state == BROKER_LINK_REGISTERING;
    if (waiting && now >= link->heartbeat_sent_ns + timeout) {
        io_log(broker->io, IO_LOG_WARN, "broker: controller %d does not answer; reconnecting",
               link->connected_id);
        link_close(broker);
    }
    if (broker->reconcile_pending && now >= link->reconcile_ns) broker_on_metadata(broker);
    link_pump(broker);
}

static void link_on_registration(struct broker *broker, struct proto_reader *reader)
{
    struct broker_link *link = &broker->link;
    struct kafka_broker_registration_response response;
    struct proto_arena arena;
    u8 memory[256];
    proto_arena_init(&arena, memory, sizeof(memory));
    if (kafka_broker_registration_response_decode(reader, LINK_VERSION_REGISTRATION, &response,
                                                  &arena) != PROTO_OK) {
        link_close(broker);
        return;
    }
    if (response.ErrorCode == KAFKA_ERROR_NONE) {
        link->state = BROKER_LINK_REGISTERED;
        link->broker_epoch = response.BrokerEpoch;
        link->fenced = true; /* Every registration starts fenced. */
        link->heartbeat_due_ns = link_now(broker);
        io_log(broker->io, IO_LOG_INFO, "broker: registered with controller %d, epoch %lld",
               link->connected_id, (long long)response.BrokerEpoch);
        return;
    }
    io_log(broker->io, IO_LOG_WARN, "broker: registration refused: %s",
           kafka_error_name(response.ErrorCode));
    link->state = BROKER_LINK_UNREGISTERED;
    link_close(broker); /* Try again after a backoff (NOT_CONTROLLER: maybe elsewhere). */
}

static void link_on_heartbeat(struct broker *broker, struct proto_reader *reader)
{
    struct broker_link *link = &broker->link;
    struct kafka_broker_heartbeat_response response;
    struct proto_arena arena;
    u8 memory[256];
    proto_arena_init(&arena, memory, sizeof(memory));
    link->heartbeat_inflight = false;
    if (kafka_broker_heartbeat_response_decode(reader, LINK_VERSION_HEARTBEAT, &response,
                                               &arena) != PROTO_OK) {
        link_close(broker);
        return;
    }
    if (response.ErrorCode == KAFKA_ERROR_NONE) {
        if (link->fenced != response.IsFenced) {
            io_log(broker->io, IO_LOG_INFO, "broker: %s by controller %d",
                   response.IsFenced ? "fenced" : "unfenced", link->connected_id);
        }
        link->fenced = response.IsFenced;
        link->shut_down_granted = link->shut_down_granted || response.ShouldShutDown;
        /* Not caught up with its own registration yet: ask again soon rather than a whole
         * interval later (unfencing waits on it), as Kafka's broker lifecycle does. */
        if (response.IsFenced && !response.IsCaughtUp) {
            link->heartbeat_due_ns = link_now(broker) + LINK_CATCH_UP_RETRY_NS;
        }
        return;
    }
    if (response.ErrorCode == KAFKA_ERROR_NOT_CONTROLLER) {
        link_close(broker);
        return;
    }
    /* STALE_BROKER_EPOCH, an unknown registration...: the controller no longer knows this
     * registration (a restart of ours it has seen, or a lost record): register again. */
    io_log(broker->io, IO_LOG_WARN, "broker: heartbeat refused (%s); registering again",
           kafka_error_name(response.ErrorCode));
    link->state = BROKER_LINK_UNREGISTERED;
}

/* Relays a forwarded answer to the client, with its correlation id. */
static bool link_on_forwarded(struct broker *broker, struct broker_slot *slot, const u8 *frame,
                              u32 size)
{
    struct broker_link *link = &broker->link;
    ASSERT(size >= 4 && size + 4 <= BROKER_LINK_BUFFER_SIZE);
    slot->forward_sent = false;
    slot->forwarding = false;
    io_conn client = slot->conn;
    if (client != 0) {
        store_u32_be(link->buffer, size);
        memcpy(link->buffer + 4, frame, size);
        store_u32_be(link->buffer + 4, (u32)slot->header.CorrelationId);
        if (io_send(broker->io, client, link->buffer, size + 4) != IO_OK) {
            io_close(broker->io, client);
            broker_conn_closed(broker, client);
        } else {
            broker_metrics_sent_frame(broker, &slot->header, link->buffer, size + 4);
        }
    }
    broker_slot_timer_cancel(broker, slot);
    broker_slot_finish(broker, slot, NULL);
    return true;
}

bool broker_link_on_frame(struct broker *broker, const u8 *frame, u32 size)
{
    struct broker_link *link = &broker->link;
    if (size < 4) return false;
    i32 correlation = (i32)load_u32_be(frame);
    for (u32 s = 0; s < BROKER_SLOTS_MAX; s++) {
        struct broker_slot *slot = &broker->slots[s];
        if (slot->used && slot->forwarding && slot->forward_sent &&
            slot->forward_correlation == correlation) {
            if (size + 4 > BROKER_LINK_BUFFER_SIZE) return false;
            link_on_forwarded(broker, slot, frame, size);
            link_pump(broker);
            return true;
        }
    }
    struct proto_reader reader;
    proto_reader_init(&reader, frame, size);
    i32 ignored = 0;
    if (link->state == BROKER_LINK_REGISTERING && correlation == link->registration_correlation) {
        if (proto_response_header_decode(&reader, KAFKA_API_BROKER_REGISTRATION,
                                         LINK_VERSION_REGISTRATION, &ignored) != PROTO_OK) {
            return false;
        }
        link_on_registration(broker, &reader);
    } else if (link->heartbeat_inflight && correlation == link->heartbeat_correlation) {
        if (proto_response_header_decode(&reader, KAFKA_API_BROKER_HEARTBEAT,
                                         LINK_VERSION_HEARTBEAT, &ignored) != PROTO_OK) {
            return false;
        }
        link_on_heartbeat(broker, &reader);
    } else if (correlation == link->create_correlation) {
        link->create_correlation = -1; /* The topics appear through the metadata log. */
        if (link->create_internal) link_on_offsets_topic_created(broker, &reader);
        link->create_internal = false;
    } else if (broker_replication_awaits(broker, correlation)) {
        if (!link_on_alter_partition(broker, correlation, &reader)) return false;
    } else if (broker_producer_ids_awaits(broker, correlation)) {
        broker_producer_ids_on_answer(broker, &reader);
    }
    /* Anything else answers a request sent on an earlier connection: dropped. */
    link_pump(broker);
    return true;
}

/* ===== Forwarding and auto-creation ===== */

bool broker_start_forward(struct broker *broker, struct broker_slot *slot)
{
    if (slot->frame_size < 8 || slot->frame_size + 4 > BROKER_LINK_BUFFER_SIZE) return false;
    slot->forwarding = true;
    slot->forward_sent = false;
    slot->deadline_ns = link_now(broker) + BROKER_FORWARD_TIMEOUT_NS;
    broker_slot_timer_set(broker, slot, slot->deadline_ns);
    link_pump(broker);
    return true;
}

void broker_forward_on_timer(struct broker *broker, struct broker_slot *slot)
{
    ASSERT(slot->used && slot->forwarding);
    io_log(broker->io, IO_LOG_WARN, "broker: no controller answered api %d in time; closing "
           "the client's connection", slot->header.RequestApiKey);
    slot->forwarding = false;
    slot->forward_sent = false;
    io_conn client = slot->conn;
    slot->conn = 0;
    broker_slot_finish(broker, slot, NULL);
    if (client != 0) {
        io_close(broker->io, client);
        broker_conn_closed(broker, client);
    }
}

/* The answer to the creation of __consumer_offsets: errors are logged (once per error). */
static void link_on_offsets_topic_created(struct broker *broker, struct proto_reader *reader)
{
    struct broker_link *link = &broker->link;
    struct proto_arena decode, unused;
    broker_scratch_arenas(broker, &decode, &unused);
    i32 ignored = 0;
    union kafka_response response;
    if (proto_response_header_decode(reader, KAFKA_API_CREATE_TOPICS, LINK_VERSION_CREATE_TOPICS,
                                     &ignored) != PROTO_OK ||
        kafka_response_decode(reader, KAFKA_API_CREATE_TOPICS, LINK_VERSION_CREATE_TOPICS,
                              &response, &decode) != PROTO_OK ||
        response.CreateTopics.Topics.count != 1) {
        io_log(broker->io, IO_LOG_WARN, "broker: unreadable answer to creating %s",
               BROKER_OFFSETS_TOPIC);
        return;
    }
    const struct kafka_create_topics_response_creatable_topic_result *result =
        &response.CreateTopics.Topics.items[0];
    i16 error = result->ErrorCode == KAFKA_ERROR_TOPIC_ALREADY_EXISTS ? KAFKA_ERROR_NONE
                                                                       : result->ErrorCode;
    if (error != KAFKA_ERROR_NONE && error != link->create_internal_error) {
        struct proto_string message = result->ErrorMessage;
        io_log(broker->io, IO_LOG_WARN, "broker: the controller cannot create %s (%s: %.*s); "
               "consumer groups wait for it (offsets.topic.replication.factor=%u)",
               BROKER_OFFSETS_TOPIC, kafka_error_name(error), message.size > 0 ? message.size : 0,
               message.size > 0 ? message.data : "",
               broker->config.offsets_topic_replication_factor);
    }
    link->create_internal_error = error;
}

void broker_link_create_offsets_topic(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    if (!link->connected || link->create_correlation >= 0) return;
    char segment_bytes[24];
    snprintf(segment_bytes, sizeof(segment_bytes), "%llu",
             (unsigned long long)broker->config.offsets_topic_segment_bytes);
    struct kafka_create_topics_request_creatable_topic_config configs[2];
    for (u32 i = 0; i < ARRAY_LEN(configs); i++) {
        kafka_create_topics_request_creatable_topic_config_init(&configs[i]);
    }
    configs[0].Name = proto_string_of("cleanup.policy");
    configs[0].Value = proto_string_of("compact");
    configs[1].Name = proto_string_of("segment.bytes");
    configs[1].Value = proto_string_of(segment_bytes);
    struct kafka_create_topics_request_creatable_topic topic;
    kafka_create_topics_request_creatable_topic_init(&topic);
    topic.Name = proto_string_of(BROKER_OFFSETS_TOPIC);
    topic.NumPartitions = (i32)broker->config.offsets_topic_num_partitions;
    topic.ReplicationFactor = (i16)broker->config.offsets_topic_replication_factor;
    topic.Configs.items = configs;
    topic.Configs.count = (i32)ARRAY_LEN(configs);
    union kafka_request body;
    kafka_create_topics_request_init(&body.CreateTopics);
    body.CreateTopics.Topics.items = &topic;
    body.CreateTopics.Topics.count = 1;
    body.CreateTopics.timeoutMs = 30000;
    link->create_correlation = link_send(broker, KAFKA_API_CREATE_TOPICS,
                                         LINK_VERSION_CREATE_TOPICS, &body);
    link->create_internal = link->create_correlation >= 0;
}

void broker_link_auto_create(struct broker *broker, const struct proto_string *names, u32 count)
{
    struct broker_link *link = &broker->link;
    if (!link->connected || link->create_correlation >= 0 || count == 0) return;
    struct kafka_create_topics_request_creatable_topic topics[BROKER_PARTS_MAX];
    count = MIN(count, BROKER_PARTS_MAX);
    for (u32 i = 0; i < count; i++) {
        kafka_create_topics_request_creatable_topic_init(&topics[i]);
        topics[i].Name = names[i];
        topics[i].NumPartitions = -1;
        topics[i].ReplicationFactor = -1;
    }
    union kafka_request body;
    kafka_create_topics_request_init(&body.CreateTopics);
    body.CreateTopics.Topics.items = topics;
    body.CreateTopics.Topics.count = (i32)count;
    body.CreateTopics.timeoutMs = 30000;
    link->create_correlation = link_send(broker, KAFKA_API_CREATE_TOPICS,
                                         LINK_VERSION_CREATE_TOPICS, &body);
}

void broker_link_start(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    u64 high = io_random_u64(broker->io), low = io_random_u64(broker->io);
    store_u64_be(link->incarnation.bytes, high);
    store_u64_be(link->incarnation.bytes + 8, low | 1);
    link->create_correlation = -1;
    link->create_internal = false;
    link->state = BROKER_LINK_UNREGISTERED;
    link_pump(broker);
}

/* A graceful stop: one last heartbeat asks for a controlled shutdown (leadership moves away
 * before the session would have expired). */
void broker_link_stop(struct broker *broker)
{
    struct broker_link *link = &broker->link;
    link->want_shut_down = true;
    if (link->connected && link->state == BROKER_LINK_REGISTERED) {
        link->heartbeat_inflight = false;
        link_heartbeat(broker);
    }
}
