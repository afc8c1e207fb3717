/* client.c: a quorum client that appends values one at a time; see client.h.
 *
 * One operation is active at a time. It is reported INVOKE when started, then exactly one of:
 *   OK(offset)  the leader answered after the value was committed;
 *   FAIL        the value was definitely not appended: refused for a reason other than
 *               leadership (log full, back-pressure), or never sent before the timeout;
 *   UNKNOWN     sent, but the answer never came (timeout, connection lost) or the leader lost
 *               leadership before committing: it may or may not be committed.
 * A NOT_LEADER answer is not an outcome: the value was not appended, so the same operation is
 * retried at the hinted leader (or the next endpoint). Each value is the client id, the
 * operation id and seed-drawn bytes, so every value is unique and its checksum identifies it.
 *
 * Timers: 0 = next operation, 1 = operation deadline, 2 = reconnect. Tested by the
 * simulator's runs (the client-acks checker judges what it reported). */
#include "client.h"

#include "../../model/history.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

enum client_timer { CLIENT_TIMER_NEXT, CLIENT_TIMER_DEADLINE, CLIENT_TIMER_RECONNECT };

#define CLIENT_FRAME_MAX (64u * 1024u)
#define CLIENT_RECONNECT_NS (50 * NS_PER_MS)

struct quorum_client {
    struct quorum_client_config config;
    struct io *io;
    char endpoint[QUORUM_ENDPOINT_MAX]; /* Where we connect now. */
    u32 endpoint_index;
    io_conn conn;
    bool connected;
    bool done;

    u64 operation_next;
    bool active;
    bool sent;
    u64 operation_id;
    u64 checksum;
    i32 correlation_id;
    u32 value_size;
    u8 value[QUORUM_ENTRY_SIZE_MAX];
    u8 send_buffer[QUORUM_ENTRY_SIZE_MAX + 256];
    struct quorum_client_stats stats;
};

struct quorum_client *quorum_client_create(const struct quorum_client_config *config,
                                           struct io *io)
{
    ASSERT(config->endpoint_count > 0 && config->endpoint_count <= CONFIG_VOTERS_MAX);
    ASSERT(config->value_size >= 16);
    struct quorum_client *client = calloc(1, sizeof(*client));
    if (client == NULL) return NULL;
    client->config = *config;
    client->io = io;
    client->operation_next = 1;
    client->value_size = MIN(config->value_size, QUORUM_ENTRY_SIZE_MAX);
    return client;
}

void quorum_client_destroy(struct quorum_client *client) { free(client); }

void quorum_client_stats(const struct quorum_client *client, struct quorum_client_stats *stats)
{
    *stats = client->stats;
}

static void observe(struct quorum_client *client, u32 kind, u64 a, u64 b, u64 c)
{
    struct io_observation observation = {.kind = kind, .a = a, .b = b, .c = c};
    io_observe(client->io, &observation);
}

static void client_connect(struct quorum_client *client)
{
    ASSERT(client->conn == 0);
    if (client->done) return;
    if (client->endpoint[0] == '\0') {
        u32 index = client->endpoint_index % client->config.endpoint_count;
        memcpy(client->endpoint, client->config.endpoints[index], QUORUM_ENDPOINT_MAX);
        client->endpoint[QUORUM_ENDPOINT_MAX - 1] = '\0';
    }
    client->conn = io_connect(client->io, client->endpoint, 0, CLIENT_FRAME_MAX);
    client->connected = false;
    if (client->conn == 0) {
        io_log(client->io, IO_LOG_WARN, "client: bad endpoint %s", client->endpoint);
        client->endpoint[0] = '\0';
        client->endpoint_index++;
        io_timer_set(client->io, CLIENT_TIMER_RECONNECT,
                     io_now_ns(client->io) + CLIENT_RECONNECT_NS);
    }
}

/* Drops the connection and aims at target (a hint) or, when target is NULL, the next node. */
static void client_move(struct quorum_client *client, const char *target)
{
    if (client->conn != 0) io_close(client->io, client->conn);
    client->conn = 0;
    client->connected = false;
    client->endpoint[0] = '\0';
    if (target != NULL && target[0] != '\0') {
        size_t length = strnlen(target, QUORUM_ENDPOINT_MAX - 1);
        memcpy(client->endpoint, target, length);
        client->endpoint[length] = '\0';
    } else {
        client->endpoint_index++;
    }
    u64 jitter = io_random_below(client->io, CLIENT_RECONNECT_NS);
    io_timer_set(client->io, CLIENT_TIMER_RECONNECT, io_now_ns(client->io) + jitter + 1);
}

static void client_send(struct quorum_client *client)
{
    if (!client->active || client->sent || !client->connected) return;
    struct quorum_writer writer;
    quorum_writer_init(&writer, client->send_buffer, sizeof(client->send_buffer));
    client->correlation_id = (client->correlation_id + 1) & 0x7fffffff;
    quorum_frame_request_begin(&writer, QUORUM_API_CLIENT_APPEND, client->correlation_id,
                               "quorum-client");
    struct quorum_append_request request = {.Value = client->value,
                                            .value_size = client->value_size};
    quorum_encode_append_request(&writer, &request);
    u32 size = quorum_frame_end(&writer);
    if (io_send(client->io, client->conn, writer.buffer, size) == IO_OK) client->sent = true;
}

static void operation_end(struct quorum_client *client, u32 kind, u64 b)
{
    ASSERT(client->active);
    observe(client, kind, client->operation_id, b, kind == HISTORY_CLIENT_OK ? client->checksum
                                                                             : 0);
    if (kind == HISTORY_CLIENT_OK) client->stats.succeeded++;
    if (kind == HISTORY_CLIENT_FAIL) client->stats.failed++;
    if (kind == HISTORY_CLIENT_UNKNOWN) client->stats.unknown++;
    client->active = false;
    client->sent = false;
    io_timer_cancel(client->io, CLIENT_TIMER_DEADLINE);
    io_timer_set(client->io, CLIENT_TIMER_NEXT, io_now_ns(client->io) + client->config.interval_ns);
}

static void operation_start(struct quorum_client *client)
{
    ASSERT(!client->active);
    if (client->config.operations_max != 0 &&
        client->operation_next > client->config.operations_max) {
        client->done = true;
        return;
    }
    client->operation_id = client->operation_next++;
    store_u32_be(client->value, client->config.client_id);
    store_u64_be(client->value + 4, client->operation_id);
    for (u32 i = 12; i < client->value_size; i += 8) {
        u8 random[8];
        store_u64_be(random, io_random_u64(client->io));
        memcpy(client->value + i, random, MIN(8u, client->value_size - i));
    }
    client->checksum = quorum_value_checksum(client->value, client->value_size);
    client->active = true;
    client->sent = false;
    client->stats.invoked++;
    observe(client, HISTORY_CLIENT_INVOKE, client->operation_id, 0, client->checksum);
    io_timer_set(client->io, CLIENT_TIMER_DEADLINE,
                 io_now_ns(client->io) + client->config.request_timeout_ns);
    client_send(client);
}

static void client_on_start(void *process)
{
    struct quorum_client *client = process;
    client->endpoint_index = (u32)io_random_below(client->io, client->config.endpoint_count);
    client_connect(client);
    operation_start(client);
}

static void client_on_timer(void *process, u32 timer_id)
{
    struct quorum_client *client = process;
    if (timer_id == CLIENT_TIMER_NEXT) {
        if (!client->active) operation_start(client);
    } else if (timer_id == CLIENT_TIMER_DEADLINE) {
        if (!client->active) return;
        /* Never sent: certainly not appended. Sent: it may be. Either way, try elsewhere. */
        bool sent = client->sent;
        operation_end(client, sent ? HISTORY_CLIENT_UNKNOWN : HISTORY_CLIENT_FAIL,
                      QUORUM_ERROR_REQUEST_TIMED_OUT);
        client_move(client, NULL);
    } else if (timer_id == CLIENT_TIMER_RECONNECT) {
        if (client->conn == 0) client_connect(client);
    }
}

static void client_on_conn(void *process, io_conn conn, enum io_conn_event event,
                           enum io_close_reason reason, u64 tag)
{
    struct quorum_client *client = process;
    (void)reason;
    (void)tag;
    if (conn != client->conn) return;
    if (event == IO_CONN_CONNECTED) {
        client->connected = true;
        client_send(client);
        return;
    }
    if (event != IO_CONN_CLOSED) return;
    client->conn = 0;
    if (client->active && client->sent) {
        operation_end(client, HISTORY_CLIENT_UNKNOWN, QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER);
    }
    client_move(client, NULL);
}

static void on_response(struct quorum_client *client, const struct quorum_append_response *r)
{
    if (r->ErrorCode == QUORUM_ERROR_NONE) {
        operation_end(client, HISTORY_CLIENT_OK, (u64)r->Offset);
    } else if (r->ErrorCode == QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER) {
        client->sent = false; /* Not appended: the same operation goes to the leader. */
        client_move(client, r->LeaderEndpoint);
    } else if (r->ErrorCode == QUORUM_ERROR_REQUEST_TIMED_OUT) {
        operation_end(client, HISTORY_CLIENT_UNKNOWN, (u64)(u16)r->ErrorCode);
    } else {
        operation_end(client, HISTORY_CLIENT_FAIL, (u64)(u16)r->ErrorCode);
    }
}

static void client_on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    struct quorum_client *client = process;
    if (conn != client->conn) return;
    struct quorum_reader reader = {.bytes = frame, .size = size, .position = 0};
    i32 correlation_id = 0;
    struct quorum_append_response response;
    if (quorum_decode_response_header(&reader, &correlation_id) != WIRE_OK ||
        quorum_decode_append_response(&reader, &response) != WIRE_OK) {
        io_log(client->io, IO_LOG_WARN, "client: malformed response; closing");
        if (client->active && client->sent) {
            operation_end(client, HISTORY_CLIENT_UNKNOWN, QUORUM_ERROR_REQUEST_TIMED_OUT);
        }
        client_move(client, NULL);
        return;
    }
    if (!client->active || !client->sent || correlation_id != client->correlation_id) return;
    on_response(client, &response);
}

static void client_on_file(void *process, const struct io_completion *completion)
{
    (void)process;
    (void)completion;
}

static void client_on_stop(void *process)
{
    struct quorum_client *client = process;
    client->done = true;
}

const struct io_handler_vtable quorum_client_handler = {
    .on_start = client_on_start,
    .on_timer = client_on_timer,
    .on_conn = client_on_conn,
    .on_frame = client_on_frame,
    .on_file = client_on_file,
    .on_stop = client_on_stop,
};
