/* controller.c: the active controller's server half (see controller.h for the contract).
 *
 * Requests arrive Kafka-framed; this file decodes them, asks controller_decide.c for the
 * decision, proposes its records as one quorum entry and holds the answer until the node
 * reports that entry applied in the epoch it was proposed in. One decision is in flight at a
 * time, always computed from the committed image (which then holds every earlier decision).
 *
 *  - A request that arrives while a decision is in flight (or others wait) is decided at once
 *    against the committed image: if that decision needs no records (a heartbeat of a live
 *    broker, a read, a refused request) it is answered now; otherwise it waits in the queue
 *    (a copy of its frame) and is decided afresh when its turn comes. The queue is bounded:
 *    when it is full, reading pauses on every connection until a place frees.
 *  - Both answers of an in-flight decision are encoded when it is proposed: the real one,
 *    sent when the entry is applied at its offset in its epoch, and NOT_CONTROLLER, sent when
 *    another entry turns up at that offset or leadership is lost. Losing leadership answers
 *    every queued request NOT_CONTROLLER too.
 *  - Events decided without a request, when nothing is in flight, in this order: settling
 *    (after every decision: it finishes what did not fit and elects where a change allows),
 *    session expiry (one broker per decision, as Kafka's controller does), the periodic
 *    preferred election, then the queue.
 *  - Sessions: the last heartbeat of each broker, in memory only. On becoming active every
 *    registered broker gets a fresh session (a new controller cannot know when it last heard
 *    from them); a registration starts one. The session timer is armed at the earliest
 *    deadline of an unfenced broker.
 *
 * Timers: timer_base + 0 sessions, + 1 the preferred-leader check.
 * Observations (model/history.h): HISTORY_CONTROLLER_ACTIVE when active, and
 * HISTORY_CONTROLLER_DECISION for every proposed decision.
 *
 * Tested by tests/unit/test_controller.c (a fake io and a fake quorum). */
#include "controller.h"

#include "controller_decide.h"

#include "../../model/history.h"
#include "../protocol/api_versions.h"
#include "../protocol/errors_generated.h"
#include "../quorum/quorum.h"
#include "controller_internal.h"

#include <stdlib.h>
#include <string.h>

#define CONTROLLER_QUEUE_MAX 32u
#define CONTROLLER_FRAME_MAX (128u * 1024u)     /* A queued request's copy. */
#define CONTROLLER_ARENA_SIZE (2u * 1024u * 1024u)
#define CONTROLLER_ANSWER_MAX (512u * 1024u)
#define CONTROLLER_CONNS_MAX 256u
#define CONTROLLER_TIMER_SESSIONS 0u
#define CONTROLLER_TIMER_REBALANCE 1u

/* What a decision without a request was about (HISTORY_CONTROLLER_DECISION c). */
enum controller_event {
    CONTROLLER_EVENT_SETTLE = 1000,
    CONTROLLER_EVENT_EXPIRE = 1001,
    CONTROLLER_EVENT_REBALANCE = 1002,
};

/* Every version of the schemas is accepted: brokers forward their clients' requests as sent. */
static const struct proto_api_support controller_api_table[KAFKA_API_KEY_COUNT] = {
    [KAFKA_API_API_VERSIONS] = {0, 3, true},
    [KAFKA_API_CREATE_TOPICS] = {0, 7, true},
    [KAFKA_API_DELETE_TOPICS] = {0, 6, true},
    [KAFKA_API_CREATE_PARTITIONS] = {0, 3, true},
    [KAFKA_API_ELECT_LEADERS] = {0, 2, true},
    [KAFKA_API_INCREMENTAL_ALTER_CONFIGS] = {0, 1, true},
    [KAFKA_API_ALTER_PARTITION_REASSIGNMENTS] = {0, 0, true},
    [KAFKA_API_LIST_PARTITION_REASSIGNMENTS] = {0, 0, true},
    [KAFKA_API_ALTER_PARTITION] = {0, 3, true},
    [KAFKA_API_BROKER_REGISTRATION] = {0, 4, true},
    [KAFKA_API_BROKER_HEARTBEAT] = {0, 1, true},
    [KAFKA_API_UNREGISTER_BROKER] = {0, 0, true},
    [KAFKA_API_ALLOCATE_PRODUCER_IDS] = {0, 0, true},
};

struct controller_queued {
    io_conn conn;
    u32 size;
    u8 *frame;
};

struct controller_session {
    i32 broker_id;
    u64 last_ns;
};

/* One decoded request. UnregisterBroker has no generated codec: its one field is here. */
struct controller_call {
    struct proto_request_header header;
    union kafka_request request;
    i32 unregister_id;
};

struct controller {
    struct node_config config;
    struct io *io;
    struct quorum *quorum;
    const struct metadata_image *image;
    u32 timer_base;
    struct controller_quorum_ops quorum_ops;

    bool leader;        /* The quorum leads in `epoch`. */
    i32 epoch;
    i64 epoch_start;    /* Offset of its leader-change record. */
    bool active;
    i64 applied;        /* The last offset the node applied (-1: none). */

    bool in_flight;
    i64 flight_offset;
    i32 flight_epoch;
    io_conn flight_conn; /* 0: an event's decision, or the requester left. */
    u8 *answer_ok;
    u32 answer_ok_size;
    u8 *answer_fail;
    u32 answer_fail_size;

    struct controller_queued queue[CONTROLLER_QUEUE_MAX]; /* A ring: head, then count. */
    u32 queue_head, queue_count;
    io_conn conns[CONTROLLER_CONNS_MAX];
    bool paused;

    struct controller_session sessions[METADATA_BROKERS_MAX];
    u32 session_count;
    bool settle_due, expire_due, rebalance_due;

    struct metadata_record *records;
    u8 *entry;
    u8 *arena_memory;
    u8 *out;
};

/* ===== The quorum, through a seam the tests can replace ===== */

static i64 controller_quorum_propose(void *context, const u8 *payload, u32 size)
{
    return quorum_propose(context, payload, size);
}

static void controller_quorum_status(void *context, struct quorum_status *status)
{
    quorum_status(context, status);
}

void controller_set_quorum_ops(struct controller *controller,
                               const struct controller_quorum_ops *ops)
{
    controller->quorum_ops = *ops;
}

/* ===== Creation ===== */

struct controller *controller_create(const struct node_config *config, struct io *io,
                                     struct quorum *quorum, const struct metadata_image *image,
                                     u32 timer_base)
{
    ASSERT(config != NULL && io != NULL && image != NULL);
    ASSERT(timer_base + CONTROLLER_TIMERS <= IO_TIMERS_MAX);
    struct controller *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->config = *config;
    c->io = io;
    c->quorum = quorum;
    c->image = image;
    c->timer_base = timer_base;
    c->quorum_ops = (struct controller_quorum_ops){quorum, controller_quorum_propose,
                                                   controller_quorum_status};
    c->applied = -1;
    c->records = calloc(CONTROLLER_RECORDS_MAX, sizeof(*c->records));
    c->entry = malloc(METADATA_ENTRY_SIZE_MAX);
    c->arena_memory = malloc(CONTROLLER_ARENA_SIZE);
    c->out = malloc(CONTROLLER_ANSWER_MAX);
    c->answer_ok = malloc(CONTROLLER_ANSWER_MAX);
    c->answer_fail = malloc(CONTROLLER_ANSWER_MAX);
    bool ok = c->records != NULL && c->entry != NULL && c->arena_memory != NULL &&
              c->out != NULL && c->answer_ok != NULL && c->answer_fail != NULL;
    for (u32 i = 0; i < CONTROLLER_QUEUE_MAX && ok; i++) {
        c->queue[i].frame = malloc(CONTROLLER_FRAME_MAX);
        ok = c->queue[i].frame != NULL;
    }
    if (!ok) {
        controller_destroy(c);
        return NULL;
    }
    return c;
}

void controller_destroy(struct controller *c)
{
    if (c == NULL) return;
    for (u32 i = 0; i < CONTROLLER_QUEUE_MAX; i++) free(c->queue[i].frame);
    free(c->records);
    free(c->entry);
    free(c->arena_memory);
    free(c->out);
    free(c->answer_ok);
    free(c->answer_fail);
    free(c);
}

bool controller_active(const struct controller *c) { return c->active; }

/* ===== Decoding and encoding ===== */

/* Two arenas over the scratch memory: the request's and the response's. */
static void controller_arenas(struct controller *c, struct proto_arena *decode,
                              struct proto_arena *response)
{
    u32 half = CONTROLLER_ARENA_SIZE / 2;
    proto_arena_init(decode, c->arena_memory, half);
    proto_arena_init(response, c->arena_memory + half, half);
}

/* false: malformed (the connection is closed) or an api this listener does not serve. */
static bool controller_decode(struct controller *c, const u8 *frame, u32 size,
                              struct controller_call *call, struct proto_arena *arena)
{
    struct proto_reader reader;
    proto_reader_init(&reader, frame, size);
    if (proto_request_header_decode(&reader, &call->header) != PROTO_OK) return false;
    i16 key = call->header.RequestApiKey;
    if (!controller_serves(key) ||
        !proto_api_advertised(controller_api_table, key, call->header.RequestApiVersion)) {
        io_log(c->io, IO_LOG_WARN, "controller: api %d v%d is not served here; closing", key,
               call->header.RequestApiVersion);
        return false;
    }
    if (key == KAFKA_API_UNREGISTER_BROKER) {
        call->unregister_id = proto_read_i32(&reader);
        proto_read_tagged_fields_skip(&reader);
        return reader.error == PROTO_OK;
    }
    return kafka_request_decode(&reader, key, call->header.RequestApiVersion, &call->request,
                                arena) == PROTO_OK;
}

/* Encodes a whole response frame into buffer; 0 when it cannot be (logged). */
static u32 controller_encode(struct controller *c, const struct controller_call *call,
                             const union kafka_response *response, i16 unregister_error,
                             u8 *buffer)
{
    const struct proto_request_header *h = &call->header;
    struct proto_writer writer;
    proto_writer_init(&writer, buffer, CONTROLLER_ANSWER_MAX);
    enum proto_error error;
    if (h->RequestApiKey == KAFKA_API_UNREGISTER_BROKER) {
        u32 start = proto_frame_begin(&writer);
        error = proto_response_header_encode(&writer, h->RequestApiKey, h->RequestApiVersion,
                                             h->CorrelationId);
        proto_write_i32(&writer, 0); /* ThrottleTimeMs */
        proto_write_i16(&writer, unregister_error);
        proto_write_string(&writer, PROTO_STRING_NULL, true, true);
        proto_write_uvarint(&writer, 0); /* No tagged fields. */
        proto_frame_end(&writer, start);
        error = writer.error;
    } else {
        error = proto_response_frame_encode(&writer, h->RequestApiKey, h->RequestApiVersion,
                                            h->CorrelationId, response);
    }
    if (error != PROTO_OK) {
        io_log(c->io, IO_LOG_ERROR, "controller: api %d v%d response: %s", h->RequestApiKey,
               h->RequestApiVersion, proto_error_name(error));
        return 0;
    }
    return writer.position;
}

static void controller_send(struct controller *c, io_conn conn, const u8 *bytes, u32 size)
{
    if (conn == 0 || size == 0) return;
    enum io_result result = io_send(c->io, conn, bytes, size);
    if (result != IO_OK) {
        io_log(c->io, IO_LOG_WARN, "controller: cannot send a response (%s); closing",
               io_result_name(result));
        io_close(c->io, conn);
        controller_conn_closed(c, conn);
    }
}

/* Answers call with error in every item. */
static void controller_answer_error(struct controller *c, io_conn conn,
                                    const struct controller_call *call, i16 error,
                                    struct proto_arena *arena)
{
    union kafka_response response;
    i16 key = call->header.RequestApiKey;
    if (key != KAFKA_API_UNREGISTER_BROKER &&
        !controller_error_response(key, call->header.RequestApiVersion, &call->request, error,
                                   arena, &response)) {
        io_log(c->io, IO_LOG_WARN, "controller: no room to answer api %d; closing", key);
        io_close(c->io, conn);
        controller_conn_closed(c, conn);
        return;
    }
    u32 size = controller_encode(c, call, &response, error, c->out);
    controller_send(c, conn, c->out, size);
}

/* ===== Sessions ===== */

static struct controller_session *controller_session(struct controller *c, i32 broker_id)
{
    for (u32 i = 0; i < c->session_count; i++) {
        if (c->sessions[i].broker_id == broker_id) return &c->sessions[i];
    }
    if (c->session_count == METADATA_BROKERS_MAX) {
        /* Forget a broker the image no longer has (unregistered) to make room. */
        for (u32 i = 0; i < c->session_count; i++) {
            if (metadata_broker_find(c->image, c->sessions[i].broker_id) == NULL) {
                c->sessions[i] = c->sessions[--c->session_count];
                break;
            }
        }
    }
    ASSERT(c->session_count < METADATA_BROKERS_MAX); /* At most as many as the image holds. */
    struct controller_session *session = &c->sessions[c->session_count++];
    *session = (struct controller_session){broker_id, io_now_ns(c->io)};
    return session;
}

static u64 controller_session_timeout_ns(const struct controller *c)
{
    return c->config.broker_session_timeout_ms * NS_PER_MS;
}

/* The first unfenced broker (by id) whose session has expired, or -1. */
static i32 controller_expired_broker(struct controller *c)
{
    u64 now = io_now_ns(c->io);
    for (u32 i = 0; i < c->image->broker_count; i++) {
        const struct metadata_broker *broker = &c->image->brokers[i];
        if (broker->fenced) continue;
        struct controller_session *session = controller_session(c, broker->id);
        if (now - session->last_ns > controller_session_timeout_ns(c)) return broker->id;
    }
    return -1;
}

/* Arms the session timer just after the earliest deadline still ahead. A session already
 * past its deadline waits for the expiry decision (expire_due); should that not be proposed
 * (a decision in flight never commits, the quorum refuses), the timer looks again after a
 * tenth of the timeout rather than at once, which would spin. */
static void controller_arm_sessions(struct controller *c)
{
    u64 now = io_now_ns(c->io);
    u64 timeout = controller_session_timeout_ns(c);
    u64 deadline = now + timeout;
    for (u32 i = 0; i < c->image->broker_count; i++) {
        const struct metadata_broker *broker = &c->image->brokers[i];
        if (broker->fenced) continue;
        u64 due = controller_session(c, broker->id)->last_ns + timeout;
        if (due < now) due = now + MAX(timeout / 10, NS_PER_MS);
        deadline = MIN(deadline, due);
    }
    /* Expiry is "more than the timeout": fire just after the deadline. */
    io_timer_set(c->io, c->timer_base + CONTROLLER_TIMER_SESSIONS, deadline + 1);
}

/* ===== Back-pressure ===== */

static void controller_conn_remember(struct controller *c, io_conn conn)
{
    u32 free_index = CONTROLLER_CONNS_MAX;
    for (u32 i = 0; i < CONTROLLER_CONNS_MAX; i++) {
        if (c->conns[i] == conn) return;
        if (c->conns[i] == 0 && free_index == CONTROLLER_CONNS_MAX) free_index = i;
    }
    if (free_index < CONTROLLER_CONNS_MAX) c->conns[free_index] = conn;
}

static void controller_pause_all(struct controller *c, bool paused)
{
    c->paused = paused;
    for (u32 i = 0; i < CONTROLLER_CONNS_MAX; i++) {
        if (c->conns[i] != 0) io_read_pause(c->io, c->conns[i], paused);
    }
}

/* ===== Decisions ===== */

static void controller_observe_decision(struct controller *c, i64 offset, u32 what, u32 count)
{
    struct io_observation observation = {.kind = HISTORY_CONTROLLER_DECISION,
                                         .a = (u64)offset, .b = (u64)(i64)c->epoch,
                                         .c = what, .d = count};
    io_observe(c->io, &observation);
}

/* Proposes the records of a decision; the entry's offset, or -1 when it cannot be. */
static i64 controller_propose(struct controller *c, const struct controller_decision *decision,
                              u32 what)
{
    ASSERT(!c->in_flight && decision->count > 0);
    u32 size = metadata_encode(decision->records, decision->count, c->entry,
                               METADATA_ENTRY_SIZE_MAX);
    if (size == 0) {
        io_log(c->io, IO_LOG_ERROR, "controller: %u records do not encode into one entry",
               decision->count);
        return -1;
    }
    i64 offset = c->quorum_ops.propose(c->quorum_ops.context, c->entry, size);
    if (offset < 0) {
        io_log(c->io, IO_LOG_WARN, "controller: the quorum refused a proposal");
        return -1;
    }
    c->in_flight = true;
    c->flight_offset = offset;
    c->flight_epoch = c->epoch;
    c->flight_conn = 0;
    c->answer_ok_size = 0;
    c->answer_fail_size = 0;
    controller_observe_decision(c, offset, what, decision->count);
    return offset;
}

/* Decides an event; false when its records could not be proposed (the caller stops pumping:
 * the timers or the next quorum change bring the event back). */
static bool controller_decide_event(struct controller *c, enum controller_event event,
                                    i32 broker_id)
{
    struct proto_arena decode, arena;
    controller_arenas(c, &decode, &arena);
    struct controller_decide_input in = {&c->config, c->image, io_random_u64(c->io), &arena};
    struct controller_decision decision;
    controller_decision_init(&decision, c->records);
    if (event == CONTROLLER_EVENT_SETTLE) controller_decide_settle(&in, &decision);
    if (event == CONTROLLER_EVENT_EXPIRE) {
        io_log(c->io, IO_LOG_INFO, "controller: broker %d's session expired; fencing it",
               broker_id);
        controller_decide_expire(&in, &decision, broker_id);
    }
    if (event == CONTROLLER_EVENT_REBALANCE) controller_decide_preferred(&in, &decision);
    return decision.count == 0 || controller_propose(c, &decision, event) >= 0;
}

/* Decides one request. Answers it now when it needs no records (or cannot be proposed), else
 * proposes and holds both answers. With `only_if_free`, a decision that needs records is not
 * proposed: the caller queues the request. Returns false when it was not decided for that
 * reason. */
static bool controller_decide_call(struct controller *c, io_conn conn,
                                   struct controller_call *call, struct proto_arena *arena,
                                   bool only_if_free)
{
    i16 key = call->header.RequestApiKey;
    i16 version = call->header.RequestApiVersion;
    struct controller_decide_input in = {&c->config, c->image, io_random_u64(c->io), arena};
    struct controller_decision decision;
    controller_decision_init(&decision, c->records);
    union kafka_response response;
    i16 unregister_error = KAFKA_ERROR_NONE;
    if (key == KAFKA_API_UNREGISTER_BROKER) {
        unregister_error = controller_decide_unregister(&in, &decision, call->unregister_id);
    } else if (!controller_decide_request(&in, &decision, key, version, &call->request,
                                          &response)) {
        io_log(c->io, IO_LOG_WARN, "controller: api %d answer too large; closing", key);
        io_close(c->io, conn);
        controller_conn_closed(c, conn);
        return true;
    }
    if (decision.count == 0) {
        controller_send(c, conn, c->out, controller_encode(c, call, &response,
                                                           unregister_error, c->out));
        return true;
    }
    if (only_if_free) return false;
    i64 offset = controller_propose(c, &decision, (u32)key);
    if (offset < 0) {
        controller_answer_error(c, conn, call, KAFKA_ERROR_NOT_CONTROLLER, arena);
        return true;
    }
    if (key == KAFKA_API_BROKER_REGISTRATION) {
        if (decision.epoch_is_offset) response.BrokerRegistration.BrokerEpoch = offset;
        controller_session(c, call->request.BrokerRegistration.BrokerId)->last_ns =
            io_now_ns(c->io);
    }
    c->flight_conn = conn;
    c->answer_ok_size = controller_encode(c, call, &response, unregister_error, c->answer_ok);
    union kafka_response failed;
    if (key == KAFKA_API_UNREGISTER_BROKER ||
        controller_error_response(key, version, &call->request, KAFKA_ERROR_NOT_CONTROLLER,
                                  arena, &failed)) {
        c->answer_fail_size = controller_encode(c, call, &failed, KAFKA_ERROR_NOT_CONTROLLER,
                                                c->answer_fail);
    }
    return true;
}

static void controller_queue_pop(struct controller *c)
{
    ASSERT(c->queue_count > 0);
    c->queue_head = (c->queue_head + 1) % CONTROLLER_QUEUE_MAX;
    c->queue_count--;
    if (c->paused) controller_pause_all(c, false);
}

/* Decides what is due while nothing is in flight: events first, then queued requests. */
static void controller_pump(struct controller *c)
{
    while (c->active && !c->in_flight) {
        if (c->settle_due) {
            c->settle_due = false;
            if (!controller_decide_event(c, CONTROLLER_EVENT_SETTLE, -1)) break;
            continue;
        }
        if (c->expire_due) {
            i32 expired = controller_expired_broker(c);
            if (expired < 0 || !controller_decide_event(c, CONTROLLER_EVENT_EXPIRE, expired)) {
                c->expire_due = false;
                if (expired >= 0) break;
            }
            continue;
        }
        if (c->rebalance_due) {
            c->rebalance_due = false;
            if (!controller_decide_event(c, CONTROLLER_EVENT_REBALANCE, -1)) break;
            continue;
        }
        if (c->queue_count == 0) break;
        struct controller_queued *queued = &c->queue[c->queue_head];
        struct proto_arena decode, arena;
        controller_arenas(c, &decode, &arena);
        struct controller_call call;
        /* The frame decoded when it arrived; the copy decodes the same. */
        bool decoded = controller_decode(c, queued->frame, queued->size, &call, &decode);
        ASSERT(decoded);
        io_conn conn = queued->conn;
        controller_queue_pop(c);
        if (conn != 0) (void)controller_decide_call(c, conn, &call, &arena, false);
    }
}

/* Gives up every held and queued answer: NOT_CONTROLLER. */
static void controller_resign(struct controller *c)
{
    if (c->in_flight) {
        controller_send(c, c->flight_conn, c->answer_fail, c->answer_fail_size);
        c->in_flight = false;
    }
    while (c->queue_count > 0) {
        struct controller_queued *queued = &c->queue[c->queue_head];
        struct proto_arena decode, arena;
        controller_arenas(c, &decode, &arena);
        struct controller_call call;
        io_conn conn = queued->conn;
        if (conn != 0 && controller_decode(c, queued->frame, queued->size, &call, &decode)) {
            controller_answer_error(c, conn, &call, KAFKA_ERROR_NOT_CONTROLLER, &arena);
        }
        controller_queue_pop(c);
    }
    if (c->active) io_log(c->io, IO_LOG_INFO, "controller: inactive (epoch %d)", c->epoch);
    c->active = false;
    c->leader = false;
    c->settle_due = c->expire_due = c->rebalance_due = false;
    io_timer_cancel(c->io, c->timer_base + CONTROLLER_TIMER_SESSIONS);
    io_timer_cancel(c->io, c->timer_base + CONTROLLER_TIMER_REBALANCE);
}

static void controller_maybe_activate(struct controller *c)
{
    if (!c->leader || c->active) return;
    if (MAX(c->applied, c->image->applied_offset) < c->epoch_start) return;
    c->active = true;
    u64 now = io_now_ns(c->io);
    c->session_count = 0;
    for (u32 i = 0; i < c->image->broker_count; i++) {
        controller_session(c, c->image->brokers[i].id)->last_ns = now;
    }
    controller_arm_sessions(c);
    if (c->config.auto_leader_rebalance_enable) {
        io_timer_set(c->io, c->timer_base + CONTROLLER_TIMER_REBALANCE,
                     now + c->config.leader_imbalance_check_interval_seconds * NS_PER_S);
    }
    c->settle_due = true;
    struct io_observation observation = {.kind = HISTORY_CONTROLLER_ACTIVE,
                                         .a = (u64)(i64)c->epoch,
                                         .b = (u64)c->epoch_start};
    io_observe(c->io, &observation);
    io_log(c->io, IO_LOG_INFO, "controller: active in epoch %d", c->epoch);
}

/* ===== The node's calls ===== */

void controller_on_quorum_change(struct controller *c)
{
    struct quorum_status status;
    c->quorum_ops.status(c->quorum_ops.context, &status);
    bool leads = status.role == HISTORY_ROLE_LEADER;
    if (c->leader && (!leads || status.epoch != c->epoch)) controller_resign(c);
    if (leads && !c->leader) {
        c->leader = true;
        c->epoch = status.epoch;
        c->epoch_start = status.epoch_start_offset;
    }
    controller_maybe_activate(c);
    controller_pump(c);
}

void controller_on_applied(struct controller *c, i64 offset, i32 epoch, bool control)
{
    (void)control;
    c->applied = MAX(c->applied, offset);
    if (c->in_flight && offset >= c->flight_offset) {
        /* Ours only if it is the entry proposed, in the epoch it was proposed in. */
        bool ours = offset == c->flight_offset && epoch == c->flight_epoch;
        if (ours) {
            controller_send(c, c->flight_conn, c->answer_ok, c->answer_ok_size);
        } else {
            controller_send(c, c->flight_conn, c->answer_fail, c->answer_fail_size);
        }
        c->in_flight = false;
        c->settle_due = c->active;
        if (c->active) controller_arm_sessions(c);
    }
    controller_maybe_activate(c);
    controller_pump(c);
}

void controller_on_timer(struct controller *c, u32 timer_id)
{
    ASSERT(timer_id >= c->timer_base && timer_id < c->timer_base + CONTROLLER_TIMERS);
    if (!c->active) return;
    u32 which = timer_id - c->timer_base;
    if (which == CONTROLLER_TIMER_SESSIONS) {
        c->expire_due = true;
        controller_arm_sessions(c);
    } else if (which == CONTROLLER_TIMER_REBALANCE) {
        c->rebalance_due = c->config.auto_leader_rebalance_enable;
        io_timer_set(c->io, timer_id, io_now_ns(c->io) +
                     c->config.leader_imbalance_check_interval_seconds * NS_PER_S);
    }
    controller_pump(c);
}

static bool controller_api_versions(struct controller *c, io_conn conn, const u8 *frame,
                                    u32 size)
{
    struct proto_reader reader;
    proto_reader_init(&reader, frame, size);
    struct proto_request_header header;
    if (proto_request_header_decode(&reader, &header) != PROTO_OK) return false;
    struct proto_writer writer;
    proto_writer_init(&writer, c->out, CONTROLLER_ANSWER_MAX);
    if (proto_api_versions_respond(controller_api_table, &header, &reader, &writer) !=
        PROTO_OK) {
        return false;
    }
    controller_send(c, conn, c->out, writer.position);
    return true;
}

bool controller_on_request(struct controller *c, io_conn conn, const u8 *frame, u32 size)
{
    ASSERT(conn != 0);
    if (size >= 2 && (i16)load_u16_be(frame) == KAFKA_API_API_VERSIONS) {
        return controller_api_versions(c, conn, frame, size);
    }
    struct proto_arena decode, arena;
    controller_arenas(c, &decode, &arena);
    struct controller_call call;
    if (!controller_decode(c, frame, size, &call, &decode)) return false;
    controller_conn_remember(c, conn);
    if (!c->active) {
        controller_answer_error(c, conn, &call, KAFKA_ERROR_NOT_CONTROLLER, &arena);
        return true;
    }
    if (call.header.RequestApiKey == KAFKA_API_BROKER_HEARTBEAT) {
        const struct kafka_broker_heartbeat_request *beat = &call.request.BrokerHeartbeat;
        const struct metadata_broker *broker = metadata_broker_find(c->image, beat->BrokerId);
        if (broker != NULL && broker->epoch == beat->BrokerEpoch) {
            controller_session(c, beat->BrokerId)->last_ns = io_now_ns(c->io);
        }
    }
    bool busy = c->in_flight || c->queue_count > 0;
    if (controller_decide_call(c, conn, &call, &arena, busy)) return true;
    /* It needs records while another decision is in flight: it waits its turn. */
    if (c->queue_count == CONTROLLER_QUEUE_MAX || size > CONTROLLER_FRAME_MAX) {
        controller_answer_error(c, conn, &call, KAFKA_ERROR_REQUEST_TIMED_OUT, &arena);
        return true;
    }
    struct controller_queued *queued =
        &c->queue[(c->queue_head + c->queue_count++) % CONTROLLER_QUEUE_MAX];
    queued->conn = conn;
    queued->size = size;
    memcpy(queued->frame, frame, size);
    if (c->queue_count == CONTROLLER_QUEUE_MAX) controller_pause_all(c, true);
    return true;
}

void controller_conn_closed(struct controller *c, io_conn conn)
{
    ASSERT(conn != 0);
    for (u32 i = 0; i < CONTROLLER_CONNS_MAX; i++) {
        if (c->conns[i] == conn) c->conns[i] = 0;
    }
    if (c->in_flight && c->flight_conn == conn) c->flight_conn = 0; /* Decided all the same. */
    for (u32 i = 0; i < c->queue_count; i++) {
        struct controller_queued *queued = &c->queue[(c->queue_head + i) % CONTROLLER_QUEUE_MAX];
        if (queued->conn == conn) queued->conn = 0; /* Skipped when its turn comes. */
    }
}
