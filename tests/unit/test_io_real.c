/* test_io_real.c: the production I/O backend (impl/runtime/io_real.c) on 127.0.0.1 and a
 * temporary data directory.
 *
 * One io_real plays both ends of each connection (a listener and outgoing connects), driven by
 * io_real_run_once. Every call into io goes through a wrapper that raises a flag, and every
 * handler callback checks the flag is down: a callback inside a call (re-entrancy) fails the
 * test. Covers frames in order (split and coalesced sends), the frame limit, send_file of a
 * real file range, read_pause back-pressure, closing with queued bytes, refused connects, file
 * operations and their errors, timers, and the graceful stop. */
#include "test.h"

#include "../../impl/runtime/io_real.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG_LISTENER 100u
#define TAG_CLIENT 200u
#define EVENTS_MAX 64u
#define PAYLOAD_MAX (1u << 20)

struct recorded_conn_event {
    io_conn conn;
    enum io_conn_event event;
    enum io_close_reason reason;
    u64 tag;
};

/* What the test process saw. */
static struct {
    struct io_real *real;
    struct io *io;
    bool in_call; /* Raised around every call into io. */
    u32 reentrant_callbacks;
    struct recorded_conn_event conn_events[EVENTS_MAX];
    u32 conn_event_count;
    io_conn accepted;
    io_conn connected;
    u32 frames[2];         /* [0]: at the accepted end, [1]: at the connecting end. */
    u32 frames_bad;        /* Frames whose content did not match the expected pattern. */
    u64 frame_bytes[2];
    u8 last_frame[PAYLOAD_MAX];
    u32 last_frame_size;
    struct io_completion completions[EVENTS_MAX];
    u32 completion_count;
    u32 timers[EVENTS_MAX];
    u32 timer_count;
    u32 large_frame_size;
    u64 large_frame_sum;
    bool pause_on_accept;
    bool hold_frames;      /* At the accepted end: hold each frame (io.h frame_hold). */
    u8 *held;              /* The frame held now, or NULL. */
    u32 held_size;
    u32 held_index;
    bool stopped;
    char directory[128];
} t;

static void callback_enter(void)
{
    if (t.in_call) t.reentrant_callbacks++;
}

/* Frame i of a stream is i's byte pattern, of size (i * 37) % 3000 + 1. */
static u32 pattern_size(u32 i) { return (i * 37) % 3000 + 1; }
static u8 pattern_byte(u32 i, u32 k) { return (u8)(i * 7 + k); }

static void on_start(void *process) { (void)process; callback_enter(); }

static void on_timer(void *process, u32 timer_id)
{
    (void)process;
    callback_enter();
    if (t.timer_count < EVENTS_MAX) t.timers[t.timer_count++] = timer_id;
}

static void on_conn(void *process, io_conn conn, enum io_conn_event event,
                    enum io_close_reason reason, u64 tag)
{
    (void)process;
    callback_enter();
    if (t.conn_event_count < EVENTS_MAX) {
        t.conn_events[t.conn_event_count++] = (struct recorded_conn_event){conn, event, reason,
                                                                           tag};
    }
    if (event == IO_CONN_ACCEPTED) {
        t.accepted = conn;
        if (t.pause_on_accept) {
            t.in_call = true;
            io_read_pause(t.io, conn, true);
            t.in_call = false;
        }
    }
    if (event == IO_CONN_CONNECTED) t.connected = conn;
}

static void on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    (void)process;
    callback_enter();
    if (size > PAYLOAD_MAX) { /* A large frame: checked by size and a position-weighted sum. */
        t.large_frame_size = size;
        for (u32 k = 0; k < size; k++) t.large_frame_sum += (u64)frame[k] * (k + 1);
        return;
    }
    u32 side = conn == t.accepted ? 0 : 1;
    u32 index = t.frames[side]++;
    t.frame_bytes[side] += size;
    if (size <= PAYLOAD_MAX) {
        memcpy(t.last_frame, frame, size);
        t.last_frame_size = size;
    }
    if (size != pattern_size(index)) { t.frames_bad++; return; }
    for (u32 k = 0; k < size; k++) {
        if (frame[k] != pattern_byte(index, k)) { t.frames_bad++; return; }
    }
    if (side == 0 && t.hold_frames) {
        ASSERT(t.held == NULL);
        t.in_call = true;
        t.held = io_frame_hold(t.io, conn, frame, size);
        t.in_call = false;
        t.held_size = size;
        t.held_index = index;
    }
}

/* True when the held frame still holds its pattern (ASan reports bytes freed under it). */
static bool held_intact(void)
{
    if (t.held == NULL || t.held_size != pattern_size(t.held_index)) return false;
    for (u32 k = 0; k < t.held_size; k++) {
        if (t.held[k] != pattern_byte(t.held_index, k)) return false;
    }
    return true;
}

static void held_release(io_conn conn)
{
    t.in_call = true;
    io_frame_release(t.io, conn);
    t.in_call = false;
    t.held = NULL;
}

static void on_file(void *process, const struct io_completion *completion)
{
    (void)process;
    callback_enter();
    if (t.completion_count < EVENTS_MAX) t.completions[t.completion_count++] = *completion;
}

static void on_stop(void *process)
{
    (void)process;
    callback_enter();
    t.stopped = true;
}

static const struct io_handler_vtable handler = {
    on_start, on_timer, on_conn, on_frame, on_file, on_stop,
};

static u64 setup_connect_timeout_ms; /* 0: the default. */

static bool setup_with(u64 send_queue_bytes_max)
{
    memset(&t, 0, sizeof(t));
    snprintf(t.directory, sizeof(t.directory), "/tmp/test_io_real.XXXXXX");
    if (mkdtemp(t.directory) == NULL) return false;
    struct io_real_options options = {.data_dir = t.directory, .node_id = 9,
                                      .log_level = IO_LOG_WARN,
                                      .send_queue_bytes_max = send_queue_bytes_max,
                                      .connect_timeout_ms = setup_connect_timeout_ms};
    char error[256];
    t.real = io_real_create(&options, error, sizeof(error));
    if (t.real == NULL) { fprintf(stderr, "  %s\n", error); return false; }
    t.io = io_real_io(t.real);
    io_real_bind(t.real, &handler, &t);
    return true;
}

static bool setup(void) { return setup_with(0); }

static void teardown(void)
{
    io_real_destroy(t.real);
    char command[256];
    snprintf(command, sizeof(command), "rm -rf %s", t.directory);
    if (system(command) != 0) fprintf(stderr, "  could not remove %s\n", t.directory);
}

/* A port nobody listens on right now (bind to 0, read it, close). */
static u16 free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT(bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0);
    socklen_t size = sizeof(address);
    ASSERT(getsockname(fd, (struct sockaddr *)&address, &size) == 0);
    close(fd);
    return ntohs(address.sin_port);
}

typedef bool (*condition_fn)(void);

static bool run_until(condition_fn condition, u64 timeout_ms)
{
    u64 start = io_now_ns(t.io);
    while (!condition()) {
        if (io_now_ns(t.io) - start > timeout_ms * NS_PER_MS) return false;
        io_real_run_once(t.real, 5);
    }
    return true;
}

static void run_for(u64 ms)
{
    u64 start = io_now_ns(t.io);
    while (io_now_ns(t.io) - start < ms * NS_PER_MS) io_real_run_once(t.real, 5);
}

static bool both_connected(void) { return t.accepted != 0 && t.connected != 0; }

/* Listens on a fresh port and connects to it; returns the endpoint used. */
static bool connect_pair(u32 listener_frame_max, char *endpoint, u32 endpoint_size)
{
    snprintf(endpoint, endpoint_size, "127.0.0.1:%u", (unsigned)free_port());
    t.in_call = true;
    enum io_result result = io_listen(t.io, endpoint, TAG_LISTENER, listener_frame_max);
    io_conn conn = io_connect(t.io, endpoint, TAG_CLIENT, 1u << 20);
    t.in_call = false;
    if (result != IO_OK || conn == 0) return false;
    bool ok = run_until(both_connected, 2000);
    return ok && t.connected == conn;
}

static enum io_result send_pattern(io_conn conn, u32 index)
{
    u8 frame[4 + 3000];
    u32 size = pattern_size(index);
    store_u32_be(frame, size);
    for (u32 k = 0; k < size; k++) frame[4 + k] = pattern_byte(index, k);
    t.in_call = true;
    enum io_result result = io_send(t.io, conn, frame, 4 + size);
    t.in_call = false;
    return result;
}

static u32 frames_target;
static bool server_has_frames(void) { return t.frames[0] >= frames_target; }
static bool client_has_frames(void) { return t.frames[1] >= frames_target; }

TEST(test_frames_in_order_both_ways)
{
    REQUIRE(setup());
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    CHECK_EQ_U64(t.conn_events[0].tag + t.conn_events[1].tag, TAG_LISTENER + TAG_CLIENT);
    for (u32 i = 0; i < 500; i++) REQUIRE(send_pattern(t.connected, i) == IO_OK);
    /* One frame split across two sends: the receiver still sees one frame. */
    u8 prefix[4];
    store_u32_be(prefix, pattern_size(500));
    u8 body[3000];
    for (u32 k = 0; k < pattern_size(500); k++) body[k] = pattern_byte(500, k);
    t.in_call = true;
    CHECK(io_send(t.io, t.connected, prefix, 4) == IO_OK);
    CHECK(io_send(t.io, t.connected, body, 10) == IO_OK);
    CHECK(io_send(t.io, t.connected, body + 10, pattern_size(500) - 10) == IO_OK);
    t.in_call = false;
    frames_target = 501;
    CHECK(run_until(server_has_frames, 3000));
    for (u32 i = 0; i < 200; i++) REQUIRE(send_pattern(t.accepted, i) == IO_OK);
    frames_target = 200;
    CHECK(run_until(client_has_frames, 3000));
    CHECK_EQ_U64(t.frames_bad, 0);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    t.in_call = true;
    CHECK_EQ_U64(io_send_queued(t.io, t.connected), 0);
    t.in_call = false;
    teardown();
}

static bool large_frame_arrived(void) { return t.large_frame_size != 0; }

/* A frame far larger than the initial input buffer (and than a socket buffer) is reassembled
 * whole; the frames after it still arrive in order. */
TEST(test_large_frame)
{
    REQUIRE(setup());
    char endpoint[64];
    REQUIRE(connect_pair(8u << 20, endpoint, sizeof(endpoint)));
    u32 size = 5u << 20;
    u8 *frame = malloc(4 + size);
    REQUIRE(frame != NULL);
    store_u32_be(frame, size);
    u64 sum = 0;
    for (u32 k = 0; k < size; k++) {
        frame[4 + k] = (u8)(k * 31 + 7);
        sum += (u64)frame[4 + k] * (k + 1);
    }
    t.in_call = true;
    enum io_result result = io_send(t.io, t.connected, frame, 4 + size);
    t.in_call = false;
    free(frame);
    REQUIRE(result == IO_OK);
    for (u32 i = 0; i < 3; i++) REQUIRE(send_pattern(t.connected, i) == IO_OK);
    CHECK(run_until(large_frame_arrived, 5000));
    CHECK_EQ_U64(t.large_frame_size, size);
    CHECK_EQ_U64(t.large_frame_sum, sum);
    frames_target = 3;
    CHECK(run_until(server_has_frames, 2000));
    CHECK_EQ_U64(t.frames_bad, 0);
    teardown();
}

static bool two_closed(void)
{
    u32 closed = 0;
    for (u32 i = 0; i < t.conn_event_count; i++) closed += t.conn_events[i].event == IO_CONN_CLOSED;
    return closed >= 2;
}

static enum io_close_reason close_reason_of(io_conn conn)
{
    for (u32 i = 0; i < t.conn_event_count; i++) {
        if (t.conn_events[i].conn == conn && t.conn_events[i].event == IO_CONN_CLOSED) {
            return t.conn_events[i].reason;
        }
    }
    return IO_CLOSE_NONE;
}

TEST(test_frame_limit_closes)
{
    REQUIRE(setup());
    char endpoint[64];
    REQUIRE(connect_pair(1000, endpoint, sizeof(endpoint)));
    REQUIRE(send_pattern(t.connected, 1) == IO_OK); /* 38 bytes: fine. */
    u8 big[4 + 2000];
    memset(big, 1, sizeof(big));
    store_u32_be(big, 2000);
    t.in_call = true;
    REQUIRE(io_send(t.io, t.connected, big, sizeof(big)) == IO_OK);
    t.in_call = false;
    CHECK(run_until(two_closed, 3000));
    CHECK(close_reason_of(t.accepted) == IO_CLOSE_FRAME_LIMIT);
    CHECK(close_reason_of(t.connected) == IO_CLOSE_RESET);
    CHECK_EQ_U64(t.frames[0], 1);
    t.in_call = true;
    CHECK(io_send(t.io, t.connected, big, 8) == IO_ERR_CLOSED);
    t.in_call = false;
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

static u32 completions_target;
static bool have_completions(void) { return t.completion_count >= completions_target; }

/* Issues one file call (under the re-entrancy flag) and waits for its completion. */
#define FILE_CALL(call)                                                                     \
    do {                                                                                    \
        completions_target = t.completion_count + 1;                                        \
        t.in_call = true;                                                                   \
        enum io_result result_ = (call);                                                    \
        t.in_call = false;                                                                  \
        REQUIRE(result_ == IO_OK);                                                          \
        CHECK_EQ_U64(t.completion_count, completions_target - 1); /* Not delivered yet. */ \
        REQUIRE(run_until(have_completions, 2000));                                         \
    } while (0)

static const struct io_completion *last_completion(void)
{
    return &t.completions[t.completion_count - 1];
}

TEST(test_send_file_range)
{
    REQUIRE(setup());
    static u8 content[20000];
    for (u32 i = 0; i < sizeof(content); i++) content[i] = (u8)(i * 13 + 5);
    FILE_CALL(io_file_open(t.io, "segments/0.log", IO_OPEN_CREATE, 1));
    io_file file = last_completion()->file;
    REQUIRE(last_completion()->result == IO_OK);
    FILE_CALL(io_file_write(t.io, file, 0, content, sizeof(content), 2));
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    u8 prefix[4];
    store_u32_be(prefix, 5000);
    t.in_call = true;
    REQUIRE(io_send(t.io, t.connected, prefix, 4) == IO_OK);
    REQUIRE(io_send_file(t.io, t.connected, file, 1234, 5000) == IO_OK);
    CHECK_EQ_U64(io_send_queued(t.io, t.connected), 5004);
    io_file_close(t.io, file); /* The queued range must survive the close. */
    t.in_call = false;
    frames_target = 1;
    REQUIRE(run_until(server_has_frames, 3000));
    CHECK_EQ_U64(t.last_frame_size, 5000);
    CHECK(memcmp(t.last_frame, content + 1234, 5000) == 0);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

static bool accepted_now(void) { return t.accepted != 0; }

TEST(test_read_pause_back_pressure)
{
    REQUIRE(setup());
    t.pause_on_accept = true;
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    REQUIRE(run_until(accepted_now, 1000));
    u32 sent = 0;
    for (; sent < 6000; sent++) REQUIRE(send_pattern(t.connected, sent) == IO_OK);
    run_for(200);
    CHECK(t.frames[0] == 0); /* Paused: nothing delivered. */
    t.in_call = true;
    u64 queued = io_send_queued(t.io, t.connected);
    t.in_call = false;
    CHECK(queued > 0); /* The kernel buffers filled up: back-pressure reached the sender. */
    t.in_call = true;
    io_read_pause(t.io, t.accepted, false);
    t.in_call = false;
    frames_target = sent;
    CHECK(run_until(server_has_frames, 5000));
    CHECK_EQ_U64(t.frames_bad, 0);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

static bool one_frame(void) { return t.frames[0] >= 1; }

/* A held frame stays where it is, writable, while more frames arrive behind it; nothing more
 * is delivered on its connection until the release, then everything is, in order. */
TEST(test_frame_hold_keeps_bytes_in_place)
{
    REQUIRE(setup());
    t.hold_frames = true;
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    REQUIRE(send_pattern(t.connected, 0) == IO_OK);
    REQUIRE(run_until(one_frame, 2000));
    const u8 *where = t.held;
    u32 sent = 1;
    for (; sent < 400; sent++) REQUIRE(send_pattern(t.connected, sent) == IO_OK);
    run_for(200);
    CHECK_EQ_U64(t.frames[0], 1);
    CHECK(t.held == where && held_intact());
    memset(t.held, 0xAB, t.held_size); /* Ours to write while held. */
    t.hold_frames = false;
    held_release(t.accepted);
    frames_target = sent;
    CHECK(run_until(server_has_frames, 5000));
    CHECK_EQ_U64(t.frames_bad, 0);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

static bool accepted_closed(void);

/* The connection breaks, or we close it, while a frame is held: its bytes stay valid until the
 * release, which frees them (ASan's leak check sees a missed free). */
TEST(test_frame_hold_outlives_its_connection)
{
    REQUIRE(setup());
    t.hold_frames = true;
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    REQUIRE(send_pattern(t.connected, 0) == IO_OK);
    REQUIRE(run_until(one_frame, 2000));
    t.in_call = true;
    io_close(t.io, t.connected);
    t.in_call = false;
    /* Reading stopped with the hold, so the peer's close shows when we write to it. */
    for (u32 i = 0; i < 100 && !accepted_closed(); i++) {
        (void)send_pattern(t.accepted, i);
        run_for(10);
    }
    CHECK(accepted_closed());
    CHECK(held_intact());
    held_release(t.accepted);
    /* Now the handler closes a connection whose frame it holds. */
    t.accepted = 0;
    t.connected = 0;
    t.frames[0] = 0;
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    REQUIRE(send_pattern(t.connected, 0) == IO_OK);
    REQUIRE(run_until(one_frame, 2000));
    io_conn accepted = t.accepted;
    t.in_call = true;
    io_close(t.io, accepted);
    t.in_call = false;
    run_for(50);
    CHECK(held_intact());
    held_release(accepted);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

static bool one_closed(void) { return t.conn_event_count >= 3; }

TEST(test_close_flushes_queued_bytes)
{
    REQUIRE(setup());
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    for (u32 i = 0; i < 50; i++) REQUIRE(send_pattern(t.connected, i) == IO_OK);
    t.in_call = true;
    io_close(t.io, t.connected);
    CHECK(io_send(t.io, t.connected, (const u8 *)"x", 1) == IO_ERR_CLOSED);
    t.in_call = false;
    CHECK(run_until(one_closed, 3000));
    CHECK_EQ_U64(t.frames[0], 50); /* Delivered before the CLOSED. */
    CHECK(t.conn_events[2].conn == t.accepted);
    CHECK(t.conn_events[2].event == IO_CONN_CLOSED);
    run_for(50);
    CHECK_EQ_U64(t.conn_event_count, 3); /* Nothing for the handle we closed. */
    teardown();
}

static u64 cpu_ns(void)
{
    struct rusage usage;
    ASSERT(getrusage(RUSAGE_SELF, &usage) == 0);
    return ((u64)usage.ru_utime.tv_sec + (u64)usage.ru_stime.tv_sec) * NS_PER_S +
           ((u64)usage.ru_utime.tv_usec + (u64)usage.ru_stime.tv_usec) * NS_PER_US;
}

static bool accepted_closed(void) { return close_reason_of(t.accepted) != IO_CLOSE_NONE; }

/* The peer sends and closes while we are paused: no busy loop, and after the resume every
 * frame arrives before the CLOSED. */
TEST(test_peer_close_while_paused)
{
    REQUIRE(setup());
    t.pause_on_accept = true;
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    for (u32 i = 0; i < 3; i++) REQUIRE(send_pattern(t.connected, i) == IO_OK);
    run_for(50);
    t.in_call = true;
    io_close(t.io, t.connected);
    t.in_call = false;
    u64 cpu_before = cpu_ns();
    run_for(300);
    u64 cpu_used = cpu_ns() - cpu_before;
    CHECK(cpu_used < 150 * NS_PER_MS); /* A spinning loop would use the whole 300 ms. */
    CHECK_EQ_U64(t.frames[0], 0);
    CHECK(close_reason_of(t.accepted) == IO_CLOSE_NONE);
    t.in_call = true;
    io_read_pause(t.io, t.accepted, false);
    t.in_call = false;
    CHECK(run_until(accepted_closed, 2000));
    CHECK_EQ_U64(t.frames[0], 3);
    CHECK_EQ_U64(t.frames_bad, 0);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

/* Sends are queued up to the per-connection bound, then refused with IO_ERR_LIMIT (back off),
 * and accepted again once the queue drains. */
TEST(test_send_queue_limit)
{
    REQUIRE(setup_with(100000));
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    u32 accepted = 0;
    enum io_result result = IO_OK;
    for (u32 i = 0; i < 1000 && result == IO_OK; i++) {
        result = send_pattern(t.connected, i);
        if (result == IO_OK) accepted++;
    }
    CHECK(result == IO_ERR_LIMIT);
    t.in_call = true;
    CHECK(io_send_queued(t.io, t.connected) <= 100000);
    t.in_call = false;
    frames_target = accepted;
    CHECK(run_until(server_has_frames, 3000));
    CHECK(send_pattern(t.connected, accepted) == IO_OK);
    CHECK_EQ_U64(t.frames_bad, 0);
    teardown();
}

static bool any_conn_event(void) { return t.conn_event_count > 0; }

TEST(test_connect_refused_and_malformed)
{
    REQUIRE(setup());
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%u", (unsigned)free_port());
    t.in_call = true;
    io_conn conn = io_connect(t.io, endpoint, 7, 1000);
    CHECK(io_connect(t.io, "no-port-here", 7, 1000) == 0);
    CHECK(io_connect(t.io, "127.0.0.1:99999", 7, 1000) == 0);
    CHECK(io_listen(t.io, "bad endpoint", 1, 1000) == IO_ERR_INVALID);
    t.in_call = false;
    REQUIRE(conn != 0);
    CHECK_EQ_U64(t.conn_event_count, 0);
    REQUIRE(run_until(any_conn_event, 3000));
    CHECK(t.conn_events[0].conn == conn);
    CHECK(t.conn_events[0].event == IO_CONN_CLOSED);
    CHECK(t.conn_events[0].reason == IO_CLOSE_REFUSED);
    CHECK_EQ_U64(t.conn_events[0].tag, 7);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    /* Two listeners on one endpoint: the second is refused at once. */
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%u", (unsigned)free_port());
    t.in_call = true;
    CHECK(io_listen(t.io, endpoint, 1, 1000) == IO_OK);
    CHECK(io_listen(t.io, endpoint, 1, 1000) == IO_ERR_EXISTS);
    t.in_call = false;
    teardown();
}

/* A listener that never accepts, with a full backlog, drops further SYNs: a connect to it
 * stalls, and the runtime gives up after the connect timeout with CLOSED(TIMEOUT). */
TEST(test_connect_timeout)
{
    setup_connect_timeout_ms = 300;
    bool ready = setup();
    setup_connect_timeout_ms = 0;
    REQUIRE(ready);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t size = sizeof(address);
    REQUIRE(bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0);
    REQUIRE(listen(fd, 0) == 0);
    REQUIRE(getsockname(fd, (struct sockaddr *)&address, &size) == 0);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%u", (unsigned)ntohs(address.sin_port));
    io_conn conns[4];
    t.in_call = true;
    for (u32 i = 0; i < 4; i++) conns[i] = io_connect(t.io, endpoint, i, 1000);
    t.in_call = false;
    u64 start = io_now_ns(t.io);
    run_for(1000);
    u32 timeouts = 0;
    for (u32 i = 0; i < 4; i++) timeouts += close_reason_of(conns[i]) == IO_CLOSE_TIMEOUT;
    CHECK(timeouts >= 1); /* Those beyond the backlog stall until the timeout. */
    CHECK(io_now_ns(t.io) - start >= 300 * NS_PER_MS);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    close(fd);
    teardown();
}

TEST(test_close_before_delivery_suppresses_events)
{
    REQUIRE(setup());
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%u", (unsigned)free_port());
    t.in_call = true;
    io_conn conn = io_connect(t.io, endpoint, 7, 1000);
    io_close(t.io, conn);
    t.in_call = false;
    run_for(100);
    CHECK_EQ_U64(t.conn_event_count, 0);
    teardown();
}

TEST(test_files)
{
    REQUIRE(setup());
    const u8 text[] = "hello, durable world";
    FILE_CALL(io_file_open(t.io, "a/b/c.log", IO_OPEN_CREATE, 11));
    const struct io_completion *c = last_completion();
    CHECK(c->result == IO_OK);
    CHECK_EQ_U64(c->user_data, 11);
    CHECK_EQ_U64(c->file_size, 0);
    io_file file = c->file;
    CHECK(file != 0);
    FILE_CALL(io_file_write(t.io, file, 0, text, sizeof(text), 12));
    CHECK(last_completion()->result == IO_OK);
    CHECK_EQ_U64(last_completion()->size, sizeof(text));
    FILE_CALL(io_file_sync(t.io, file, 13));
    CHECK(last_completion()->op == IO_FILE_SYNC);
    u8 buffer[64];
    FILE_CALL(io_file_read(t.io, file, 7, buffer, sizeof(buffer), 14));
    CHECK_EQ_U64(last_completion()->size, sizeof(text) - 7); /* Short at end of file. */
    CHECK(memcmp(buffer, text + 7, sizeof(text) - 7) == 0);
    FILE_CALL(io_file_truncate(t.io, file, 5, 15));
    FILE_CALL(io_file_read(t.io, file, 0, buffer, sizeof(buffer), 16));
    CHECK_EQ_U64(last_completion()->size, 5);
    io_file_close(t.io, file);
    t.in_call = true;
    CHECK(io_file_read(t.io, file, 0, buffer, 4, 0) == IO_ERR_INVALID); /* Stale handle. */
    t.in_call = false;
    FILE_CALL(io_file_rename(t.io, "a/b/c.log", "a/d.log", 17));
    CHECK(last_completion()->result == IO_OK);
    FILE_CALL(io_file_open(t.io, "a/e.log", IO_OPEN_CREATE, 18));
    io_file_close(t.io, last_completion()->file);
    u8 names[64];
    FILE_CALL(io_file_list(t.io, "a", names, sizeof(names), 19));
    CHECK(last_completion()->result == IO_OK);
    CHECK_EQ_U64(last_completion()->count, 2); /* The directory "b" is not listed. */
    CHECK(memcmp(names, "d.log\0e.log\0", 12) == 0);
    FILE_CALL(io_file_list(t.io, "a", names, 8, 20));
    CHECK(last_completion()->result == IO_ERR_LIMIT);
    FILE_CALL(io_file_remove(t.io, "a/d.log", 21));
    CHECK(last_completion()->result == IO_OK);
    FILE_CALL(io_file_remove(t.io, "a/d.log", 22));
    CHECK(last_completion()->result == IO_ERR_NOT_FOUND);
    FILE_CALL(io_file_open(t.io, "a/d.log", 0, 23));
    CHECK(last_completion()->result == IO_ERR_NOT_FOUND);
    FILE_CALL(io_file_open(t.io, "a/e.log", IO_OPEN_CREATE | IO_OPEN_EXCLUSIVE, 24));
    CHECK(last_completion()->result == IO_ERR_EXISTS);
    FILE_CALL(io_file_list(t.io, "missing", names, sizeof(names), 25));
    CHECK(last_completion()->result == IO_ERR_NOT_FOUND);
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

static u64 allocated_bytes(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", t.directory, name);
    struct stat status;
    ASSERT(stat(path, &status) == 0);
    return (u64)status.st_blocks * 512;
}

/* Appends past REAL_PREALLOCATE_FROM reserve blocks ahead without changing the size; closing
 * gives the reservation back. A small file is never reserved. (Where the filesystem has no
 * fallocate, nothing is reserved and only the sizes are checked.) */
TEST(test_file_blocks_reserved_ahead_of_appends)
{
    REQUIRE(setup());
    static u8 chunk[256 * 1024];
    memset(chunk, 0x5A, sizeof(chunk));
    FILE_CALL(io_file_open(t.io, "big.log", IO_OPEN_CREATE, 1));
    io_file big = last_completion()->file;
    FILE_CALL(io_file_open(t.io, "small.log", IO_OPEN_CREATE, 2));
    io_file small = last_completion()->file;
    FILE_CALL(io_file_write(t.io, small, 0, chunk, 1000, 3));
    u64 size = 0;
    for (u32 i = 0; i < 12; i++, size += sizeof(chunk)) {
        FILE_CALL(io_file_write(t.io, big, size, chunk, sizeof(chunk), 4));
        CHECK(last_completion()->result == IO_OK);
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/big.log", t.directory);
    struct stat status;
    REQUIRE(stat(path, &status) == 0);
    CHECK_EQ_U64((u64)status.st_size, size); /* The reservation never shows in the size. */
    char probe[256];
    snprintf(probe, sizeof(probe), "%s/probe", t.directory);
    int fd = open(probe, O_CREAT | O_RDWR, 0600);
    REQUIRE(fd >= 0);
    bool can_reserve = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    close(fd);
    if (can_reserve) {
        CHECK(allocated_bytes("big.log") > size);
    } else {
        printf("  (no fallocate on this filesystem: sizes checked only)\n");
    }
    CHECK(allocated_bytes("small.log") <= 64 * 1024);
    io_file_close(t.io, big);
    io_file_close(t.io, small);
    CHECK(allocated_bytes("big.log") <= size + 64 * 1024); /* Given back at close. */
    REQUIRE(stat(path, &status) == 0);
    CHECK_EQ_U64((u64)status.st_size, size);
    teardown();
}

TEST(test_file_paths_rejected)
{
    REQUIRE(setup());
    const char *bad[] = {"/etc/passwd", "../escape", "a/../../b", "a//b", "", "a/", "./a"};
    t.in_call = true;
    for (u32 i = 0; i < ARRAY_LEN(bad); i++) {
        CHECK(io_file_open(t.io, bad[i], IO_OPEN_CREATE, 0) == IO_ERR_INVALID);
        CHECK(io_file_remove(t.io, bad[i], 0) == IO_ERR_INVALID);
        CHECK(io_file_rename(t.io, "x", bad[i], 0) == IO_ERR_INVALID);
    }
    CHECK(io_file_list(t.io, "..", NULL, 0, 0) == IO_ERR_INVALID);
    t.in_call = false;
    run_for(20);
    CHECK_EQ_U64(t.completion_count, 0); /* Rejected calls complete nothing. */
    struct stat status;
    CHECK(stat("/tmp/escape", &status) != 0);
    teardown();
}

static bool three_timers(void) { return t.timer_count >= 3; }

TEST(test_timers)
{
    REQUIRE(setup());
    u64 now = io_now_ns(t.io);
    t.in_call = true;
    io_timer_set(t.io, 3, now + 30 * NS_PER_MS);
    io_timer_set(t.io, 1, now + 10 * NS_PER_MS);
    io_timer_set(t.io, 2, now + 90 * NS_PER_MS);
    io_timer_set(t.io, 2, now + 20 * NS_PER_MS); /* Replaces the armed deadline. */
    io_timer_set(t.io, 5, now + 15 * NS_PER_MS);
    io_timer_cancel(t.io, 5);
    t.in_call = false;
    CHECK_EQ_U64(t.timer_count, 0);
    REQUIRE(run_until(three_timers, 1000));
    CHECK(io_now_ns(t.io) >= now + 30 * NS_PER_MS);
    CHECK_EQ_U64(t.timers[0], 1);
    CHECK_EQ_U64(t.timers[1], 2);
    CHECK_EQ_U64(t.timers[2], 3);
    run_for(30);
    CHECK_EQ_U64(t.timer_count, 3); /* Each fired once; 5 never. */
    CHECK(io_wall_ns(t.io) > 1600000000ull * NS_PER_S);
    CHECK(io_random_u64(t.io) != io_random_u64(t.io));
    CHECK(!io_chance(t.io, 1, 1));
    CHECK_EQ_U64(t.reentrant_callbacks, 0);
    teardown();
}

static bool stopped_and_finished(void) { return t.stopped && io_real_finished(t.real); }

TEST(test_graceful_stop)
{
    REQUIRE(setup());
    char endpoint[64];
    REQUIRE(connect_pair(1u << 20, endpoint, sizeof(endpoint)));
    for (u32 i = 0; i < 20; i++) REQUIRE(send_pattern(t.connected, i) == IO_OK);
    io_real_stop(t.real, true);
    CHECK(!t.stopped); /* on_stop runs from the loop, not from the request. */
    CHECK(run_until(stopped_and_finished, 3000));
    teardown();
}

static const struct test_case tests[] = {
    {"test_frames_in_order_both_ways", test_frames_in_order_both_ways},
    {"test_large_frame", test_large_frame},
    {"test_frame_limit_closes", test_frame_limit_closes},
    {"test_send_file_range", test_send_file_range},
    {"test_read_pause_back_pressure", test_read_pause_back_pressure},
    {"test_frame_hold_keeps_bytes_in_place", test_frame_hold_keeps_bytes_in_place},
    {"test_frame_hold_outlives_its_connection", test_frame_hold_outlives_its_connection},
    {"test_close_flushes_queued_bytes", test_close_flushes_queued_bytes},
    {"test_peer_close_while_paused", test_peer_close_while_paused},
    {"test_send_queue_limit", test_send_queue_limit},
    {"test_connect_refused_and_malformed", test_connect_refused_and_malformed},
    {"test_connect_timeout", test_connect_timeout},
    {"test_close_before_delivery_suppresses_events",
     test_close_before_delivery_suppresses_events},
    {"test_files", test_files},
    {"test_file_blocks_reserved_ahead_of_appends", test_file_blocks_reserved_ahead_of_appends},
    {"test_file_paths_rejected", test_file_paths_rejected},
    {"test_timers", test_timers},
    {"test_graceful_stop", test_graceful_stop},
};

TEST_MAIN(tests)
