/* kafka_client_fake_io.h: the fake io under which the kafka_client tests drive a simulated
 * client (test_kafka_client.c: the producer; test_kafka_client_group.c: the group consumer).
 *
 * struct kc_fake is the io: a settable clock, a xorshift random stream, the timer table, and
 * connections that the test announces from its own loop (never inside an io call). Every frame
 * the client sends is captured whole, with its request header decoded, for the test to answer
 * with kc_fake_deliver; every observation is recorded. A test embeds struct kc_fake as the
 * first member of its world and points io.context at it. */
#ifndef KAFKA_CLIENT_FAKE_IO_H
#define KAFKA_CLIENT_FAKE_IO_H

#include "test.h"

#include "../../impl/kafka_client/kafka_client.h"
#include "../../impl/protocol/header.h"

#define KC_FAKE_CONNS_MAX 64u
#define KC_FAKE_REQUESTS_MAX 4096u
#define KC_FAKE_OBSERVED_MAX 8192u
#define KC_FAKE_FRAME_MAX (256u * 1024u)

struct fake_conn {
    char endpoint[CONFIG_ENDPOINT_MAX];
    bool connected; /* Connect was asked; CONNECTED is due from the test's loop. */
    bool announced; /* CONNECTED delivered. */
    bool closed;
};

struct fake_request {
    io_conn conn;
    i16 api_key;
    i16 version;
    i32 correlation_id;
    u64 sent_ns;
    bool answered;
    u8 *frame; /* Without the size prefix. */
    u32 size;
};

struct kc_fake {
    struct io io;
    struct kafka_client *client;
    struct kafka_client_config config;
    u64 now;
    u64 random_state;
    bool armed[IO_TIMERS_MAX];
    u64 deadline[IO_TIMERS_MAX];
    struct fake_conn conns[KC_FAKE_CONNS_MAX + 1]; /* By conn id, from 1. */
    u32 conn_count;
    struct fake_request requests[KC_FAKE_REQUESTS_MAX];
    u32 request_count;
    struct io_observation observed[KC_FAKE_OBSERVED_MAX];
    u32 observed_count;
    u8 frame_buffer[KC_FAKE_FRAME_MAX];
};

static inline u64 fake_now(void *context) { return ((struct kc_fake *)context)->now; }
static inline u64 fake_wall(void *context)
{
    return 1700000000ull * NS_PER_S + fake_now(context);
}

static inline u64 fake_random(void *context)
{
    struct kc_fake *fake = context;
    u64 x = fake->random_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    fake->random_state = x;
    return x;
}

static inline void fake_timer_set(void *context, u32 id, u64 deadline)
{
    struct kc_fake *fake = context;
    fake->armed[id] = true;
    fake->deadline[id] = deadline;
}

static inline void fake_timer_cancel(void *context, u32 id)
{
    ((struct kc_fake *)context)->armed[id] = false;
}

static inline io_conn fake_connect(void *context, const char *endpoint, u64 tag,
                                   u32 frame_size_max)
{
    struct kc_fake *fake = context;
    (void)tag;
    (void)frame_size_max;
    ASSERT(fake->conn_count < KC_FAKE_CONNS_MAX);
    io_conn conn = ++fake->conn_count;
    struct fake_conn *slot = &fake->conns[conn];
    memset(slot, 0, sizeof(*slot));
    snprintf(slot->endpoint, sizeof(slot->endpoint), "%s", endpoint);
    slot->connected = true; /* Announced from the loop. */
    return conn;
}

static inline enum io_result fake_send(void *context, io_conn conn, const u8 *bytes, u32 size)
{
    struct kc_fake *fake = context;
    ASSERT(conn >= 1 && conn <= fake->conn_count);
    ASSERT(fake->conns[conn].announced && !fake->conns[conn].closed);
    ASSERT(size >= 4 && load_u32_be(bytes) == size - 4); /* Whole frames, one per send. */
    ASSERT(fake->request_count < KC_FAKE_REQUESTS_MAX);
    struct fake_request *request = &fake->requests[fake->request_count++];
    memset(request, 0, sizeof(*request));
    request->conn = conn;
    request->sent_ns = fake->now;
    request->size = size - 4;
    request->frame = malloc(request->size);
    ASSERT(request->frame != NULL);
    memcpy(request->frame, bytes + 4, request->size);
    struct proto_reader reader;
    proto_reader_init(&reader, request->frame, request->size);
    struct proto_request_header header;
    ASSERT(proto_request_header_decode(&reader, &header) == PROTO_OK);
    request->api_key = header.RequestApiKey;
    request->version = header.RequestApiVersion;
    request->correlation_id = header.CorrelationId;
    return IO_OK;
}

static inline void fake_close(void *context, io_conn conn)
{
    struct kc_fake *fake = context;
    ASSERT(conn >= 1 && conn <= fake->conn_count);
    fake->conns[conn].closed = true;
}

static inline void fake_log(void *context, enum io_log_level level, const char *message)
{
    (void)context;
    (void)level;
    (void)message;
}

static inline void fake_observe(void *context, const struct io_observation *observation)
{
    struct kc_fake *fake = context;
    ASSERT(fake->observed_count < KC_FAKE_OBSERVED_MAX);
    fake->observed[fake->observed_count] = *observation;
    fake->observed[fake->observed_count++].data = NULL;
}

static const struct io_vtable kc_fake_vtable = {
    .now_ns = fake_now,
    .wall_ns = fake_wall,
    .random_u64 = fake_random,
    .timer_set = fake_timer_set,
    .timer_cancel = fake_timer_cancel,
    .connect = fake_connect,
    .send = fake_send,
    .close = fake_close,
    .log = fake_log,
    .observe = fake_observe,
};

/* Makes fake the io (clock at now_ns) before the client is created. */
static inline void kc_fake_init(struct kc_fake *fake, u64 now_ns)
{
    fake->io.vtable = &kc_fake_vtable;
    fake->io.context = fake;
    fake->random_state = 0x9e3779b97f4a7c15ull;
    fake->now = now_ns;
}

/* Answers request with response (dropped when its connection was closed meanwhile). */
static inline void kc_fake_deliver(struct kc_fake *fake, struct fake_request *request,
                                   const union kafka_response *response)
{
    ASSERT(!request->answered);
    request->answered = true;
    if (fake->conns[request->conn].closed) return; /* Nobody listens any more. */
    struct proto_writer writer;
    proto_writer_init(&writer, fake->frame_buffer, sizeof(fake->frame_buffer));
    ASSERT(proto_response_frame_encode(&writer, request->api_key, request->version,
                                       request->correlation_id, response) == PROTO_OK);
    kafka_client_handler.on_frame(fake->client, request->conn, fake->frame_buffer + 4,
                                  writer.position - 4);
}

/* The earliest armed timer's deadline, or until if none comes sooner. */
static inline u64 kc_fake_next_timer(const struct kc_fake *fake, u64 until)
{
    u64 next = until;
    for (u32 id = 0; id < IO_TIMERS_MAX; id++) {
        if (fake->armed[id] && fake->deadline[id] < next) next = fake->deadline[id];
    }
    return next;
}

/* Frees the captured frames and the client. */
static inline void kc_fake_deinit(struct kc_fake *fake)
{
    for (u32 i = 0; i < fake->request_count; i++) free(fake->requests[i].frame);
    kafka_client_destroy(fake->client);
}

#endif
