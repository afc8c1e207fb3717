/* io_real.c: io.h over Linux: epoll, non-blocking TCP, real files, real clocks, signals.
 *
 * What: the event loop of a production process. Each iteration (1) delivers the events queued
 * by calls (file completions, connect results decided at call time), (2) fires expired timers,
 * (3) delivers frames held back by read_pause once resumed, (4) flushes every connection's send
 * queue (writev for memory, sendfile(2) for file ranges: zero copy), (5) sleeps in epoll_wait
 * until the nearest deadline, then (6) accepts, completes connects, reads and reassembles
 * frames (4-byte big-endian length prefix), and handles signals from a signalfd.
 *
 * Invariants: no handler callback ever runs inside a call into io: calls only queue. Events of
 * one connection keep their order: those decided inside calls are queued and delivered at the
 * start of the next iteration, before any epoll event of a connection created by that call can
 * be seen. After io_close() or a CLOSED event nothing more is delivered for the handle, which
 * is checked at delivery (a handle names a slot: slot = handle % slots, and the slot must still
 * hold that handle). Handles count upwards and are never reused. Every queue is bounded; a full
 * one is IO_ERR_LIMIT. A world error is an io_result or a CLOSED event, never an ASSERT.
 *
 * File operations run at call time (so a later sync covers every earlier write trivially) and
 * complete from the loop. A file that grows past REAL_PREALLOCATE_FROM by appends gets its
 * blocks reserved ahead in chunks (fallocate with KEEP_SIZE: the size, and so recovery, never
 * see them): ext4 then maps each page of a write to a reserved extent instead of reserving a
 * delayed block per page, ~15% less CPU per written byte (measured with 1 MiB writes). At most
 * one chunk per open file stays reserved past its end; closing the file gives it back. Paths
 * are relative to the data directory, resolved with the *at() calls on a directory descriptor;
 * absolute paths and ".." are rejected.
 *
 * Tested by tests/unit/test_io_real.c (loopback frames in order, frame limit, send_file of a real
 * file range, back-pressure, files, timers, no re-entrant delivery) and by the kbroker
 * integration tests in tests/integration/. */
#include "io_real.h"

#include "../../model/history.h"
#include "../prng.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define REAL_LISTENERS_MAX 16u
#define REAL_FILES_MAX 4096u
#define REAL_EVENTS_MAX 16384u       /* Queued deliveries (completions, connect results). */
#define REAL_SEGMENTS_MAX 1024u      /* Send-queue segments per connection. */
#define REAL_CHUNK_SIZE (64u * 1024) /* Memory segments coalesce small sends up to this. */
#define REAL_INPUT_INITIAL (64u * 1024)
#define REAL_INPUT_KEEP_MAX (1024u * 1024) /* Larger input buffers are freed when empty. */
#define REAL_EPOLL_BATCH 128
#define REAL_IOV_MAX 64
#define REAL_FRAME_DEFAULT_MAX (100u * 1024 * 1024)
#define REAL_LINGER_MS 5000u         /* How long a closed connection may flush its queue. */
#define REAL_NAME_MAX 256u

enum real_tag { REAL_TAG_LISTENER = 1, REAL_TAG_CONN = 2, REAL_TAG_SIGNAL = 3 };

enum real_conn_state {
    REAL_CONN_FREE = 0,
    REAL_CONN_CONNECTING, /* Outgoing connect in progress. */
    REAL_CONN_OPEN,
    REAL_CONN_FAILED,     /* Connect failed at call time; the queued CLOSED is pending. */
    REAL_CONN_LINGER,     /* Closed by us; flushing what was queued, then freed silently. */
};

/* One piece of a send queue: bytes we own, or a range of a file (a dup'ed descriptor). */
struct real_segment {
    u8 *bytes;    /* NULL for a file range. */
    int fd;       /* File range: our own descriptor. */
    u64 offset;   /* File range: next byte to send. */
    u32 size;     /* Bytes in the segment. */
    u32 sent;     /* Bytes already sent. */
    u32 capacity; /* Memory: allocated bytes. */
};

struct real_conn {
    io_conn handle;
    int fd;
    enum real_conn_state state;
    bool paused;
    bool eof;            /* The peer closed; deliver CLOSED once buffered frames are out. */
    bool out_armed;      /* EPOLLOUT is in the interest set. */
    bool in_armed;       /* EPOLLIN is in the interest set. */
    u64 tag;
    u32 frame_size_max;
    u64 deadline_ns;     /* CONNECTING: connect timeout. LINGER: give up flushing. */
    bool held;           /* The handler holds a delivered frame inside input: no moving it. */
    u8 *input;
    u32 input_start;     /* Bytes at the front already delivered (compacted away lazily). */
    u32 input_size;      /* Bytes held, input_start included. */
    u32 input_capacity;
    struct real_segment *segments; /* Ring of REAL_SEGMENTS_MAX. */
    u32 segment_head;
    u32 segment_count;
    u64 queued_bytes;
};

struct real_listener {
    int fd;
    u64 tag;
    u32 frame_size_max;
};

struct real_file {
    io_file handle;
    int fd; /* -1 when free. */
    u64 allocated_end; /* Blocks reserved up to here (UINT64_MAX: the filesystem cannot). */
};

#define REAL_PREALLOCATE_FROM (1024u * 1024)          /* Smaller files are never reserved. */
#define REAL_PREALLOCATE_CHUNK_MAX (16u * 1024 * 1024) /* A quarter of the size, up to this. */

enum real_event_kind { REAL_EVENT_COMPLETION = 1, REAL_EVENT_CONN = 2 };

struct real_event {
    enum real_event_kind kind;
    io_conn conn;
    enum io_conn_event conn_event;
    enum io_close_reason reason;
    u64 tag;
    struct io_completion completion;
};

struct io_real {
    struct io io;
    struct io_real_options options;
    const struct io_handler_vtable *handler;
    void *process;
    int epoll_fd;
    int signal_fd;
    int data_dir_fd;

    struct real_conn *conns;
    u32 conns_max;
    u32 conn_next; /* Next handle to try. */
    u32 conns_used; /* Slots taken by real_conn_alloc and not yet freed. */
    struct real_listener listeners[REAL_LISTENERS_MAX];
    u32 listener_count;
    struct real_file *files;
    u32 file_next;

    /* Input buffers of connections that closed while their handler held a frame in them;
     * freed by the frame's release (io.h: a held frame outlives its connection). */
    struct real_retained { io_conn handle; u8 *input; } *retained;
    u32 retained_count;
    u32 retained_capacity;

    struct real_event *events; /* Ring of REAL_EVENTS_MAX. */
    u32 event_head;
    u32 event_count;

    u64 timer_deadline_ns[IO_TIMERS_MAX];
    bool timer_armed[IO_TIMERS_MAX];

    struct prng random; /* Seeded from getrandom(): unpredictable across runs. */

    bool stop_requested;   /* Graceful stop asked; on_stop not yet called. */
    bool stopping;         /* on_stop called; flushing until stop_deadline_ns. */
    bool finished;
    u64 stop_deadline_ns;
    bool loop_failed;
};

static const struct io_vtable real_vtable;

/* ===== Clocks, randomness, logging ===== */

static u64 real_clock_ns(clockid_t clock)
{
    struct timespec now;
    int rc = clock_gettime(clock, &now);
    ASSERT(rc == 0); /* Cannot fail for these clocks on Linux. */
    return (u64)now.tv_sec * NS_PER_S + (u64)now.tv_nsec;
}

static u64 real_now_ns(void *context)
{
    (void)context;
    return real_clock_ns(CLOCK_MONOTONIC);
}

static u64 real_wall_ns(void *context)
{
    (void)context;
    return real_clock_ns(CLOCK_REALTIME);
}

/* The generator is the simulator's own (impl/prng.h); only its seed differs: one run's seed
 * there, the kernel's entropy here. */
static u64 real_random_u64(void *context)
{
    struct io_real *real = context;
    return prng_next(&real->random);
}

static void real_random_seed(struct io_real *real)
{
    u64 seed = 0;
    ssize_t got = getrandom(&seed, sizeof(seed), GRND_NONBLOCK);
    if (got != (ssize_t)sizeof(seed)) {
        /* No entropy yet (very early boot): fall back to the clocks and the pid. */
        seed = real_clock_ns(CLOCK_REALTIME) ^ (real_clock_ns(CLOCK_MONOTONIC) << 21) ^
               (u64)getpid();
    }
    real->random = prng_stream(seed, 0);
}

static const char *real_level_name(enum io_log_level level)
{
    switch (level) {
    case IO_LOG_DEBUG: return "DEBUG";
    case IO_LOG_INFO: return "INFO";
    case IO_LOG_WARN: return "WARN";
    case IO_LOG_ERROR: return "ERROR";
    }
    return "?";
}

/* One line per message on stderr: UTC timestamp, node, level, message. */
static void real_log(void *context, enum io_log_level level, const char *message)
{
    struct io_real *real = context;
    if (level < real->options.log_level) return;
    u64 wall = real_clock_ns(CLOCK_REALTIME);
    time_t seconds = (time_t)(wall / NS_PER_S);
    struct tm utc;
    char stamp[32] = "?";
    if (gmtime_r(&seconds, &utc) != NULL) {
        size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
        if (n == 0) stamp[0] = '\0';
    }
    fprintf(stderr, "%s.%03uZ [node %u] %s %s\n", stamp, (unsigned)(wall % NS_PER_S / NS_PER_MS),
            real->io.node_id, real_level_name(level), message);
}

static const char *real_observation_name(u32 kind)
{
    switch (kind) {
    case HISTORY_QUORUM_ROLE: return "quorum-role";
    case HISTORY_QUORUM_VOTED: return "quorum-voted";
    case HISTORY_QUORUM_APPENDED: return "quorum-appended";
    case HISTORY_QUORUM_TRUNCATED: return "quorum-truncated";
    case HISTORY_QUORUM_COMMITTED: return "quorum-committed";
    case HISTORY_QUORUM_APPLIED: return "quorum-applied";
    case HISTORY_QUORUM_SNAPSHOT: return "quorum-snapshot";
    case HISTORY_CLIENT_INVOKE: return "client-invoke";
    case HISTORY_CLIENT_OK: return "client-ok";
    case HISTORY_CLIENT_FAIL: return "client-fail";
    case HISTORY_CLIENT_UNKNOWN: return "client-unknown";
    default: return "observation";
    }
}

/* Observations become log lines: role changes and votes at INFO (operators care), per-entry
 * facts at DEBUG (one per record would drown the log). */
static void real_observe(void *context, const struct io_observation *observation)
{
    struct io_real *real = context;
    if (real->options.observer != NULL) {
        real->options.observer(real->options.observer_context, observation);
    }
    u32 kind = observation->kind;
    bool important = kind == HISTORY_QUORUM_ROLE || kind == HISTORY_QUORUM_VOTED ||
                     kind == HISTORY_QUORUM_TRUNCATED || kind == HISTORY_QUORUM_SNAPSHOT;
    enum io_log_level level = important ? IO_LOG_INFO : IO_LOG_DEBUG;
    /* The broker observes every append: formatting a line nobody reads cost ~1% of produce. */
    if (level < real->options.log_level) return;
    char line[256];
    int n = snprintf(line, sizeof(line), "observe %s kind=%u a=%llu b=%llu c=%llu d=%llu",
                     real_observation_name(kind), kind, (unsigned long long)observation->a,
                     (unsigned long long)observation->b, (unsigned long long)observation->c,
                     (unsigned long long)observation->d);
    ASSERT(n > 0);
    real_log(real, level, line);
}

static bool real_chance(void *context, u32 numerator, u32 denominator)
{
    (void)context;
    (void)numerator;
    (void)denominator;
    return false; /* The simulator's buggify hook: never in production. */
}

static void real_logf(struct io_real *real, enum io_log_level level, const char *format, ...)
    PRINTF_LIKE(3, 4);

static void real_logf(struct io_real *real, enum io_log_level level, const char *format, ...)
{
    char message[512];
    va_list arguments;
    va_start(arguments, format);
    int n = vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    ASSERT(n >= 0);
    real_log(real, level, message);
}

/* ===== Timers ===== */

static void real_timer_set(void *context, u32 timer_id, u64 deadline_ns)
{
    struct io_real *real = context;
    ASSERT(timer_id < IO_TIMERS_MAX);
    real->timer_armed[timer_id] = true;
    real->timer_deadline_ns[timer_id] = deadline_ns;
}

static void real_timer_cancel(void *context, u32 timer_id)
{
    struct io_real *real = context;
    ASSERT(timer_id < IO_TIMERS_MAX);
    real->timer_armed[timer_id] = false;
}

/* Fires every timer due now, earliest first (ties by id), each at most once per iteration. */
static void real_timers_fire(struct io_real *real)
{
    u64 now = real_clock_ns(CLOCK_MONOTONIC);
    for (u32 round = 0; round < IO_TIMERS_MAX; round++) {
        u32 best = IO_TIMERS_MAX;
        for (u32 id = 0; id < IO_TIMERS_MAX; id++) {
            if (!real->timer_armed[id] || real->timer_deadline_ns[id] > now) continue;
            if (best == IO_TIMERS_MAX ||
                real->timer_deadline_ns[id] < real->timer_deadline_ns[best]) {
                best = id;
            }
        }
        if (best == IO_TIMERS_MAX) return;
        real->timer_armed[best] = false;
        real->handler->on_timer(real->process, best);
        if (real->finished) return;
    }
}

/* ===== The queue of deliveries decided inside calls ===== */

static bool real_event_room(const struct io_real *real)
{
    ASSERT(real->event_count <= REAL_EVENTS_MAX);
    return real->event_count < REAL_EVENTS_MAX;
}

static void real_event_push(struct io_real *real, const struct real_event *event)
{
    ASSERT(real_event_room(real)); /* Callers check for room before acting. */
    u32 index = (real->event_head + real->event_count) % REAL_EVENTS_MAX;
    real->events[index] = *event;
    real->event_count++;
}

static void real_completion_push(struct io_real *real, const struct io_completion *completion)
{
    struct real_event event;
    memset(&event, 0, sizeof(event));
    event.kind = REAL_EVENT_COMPLETION;
    event.completion = *completion;
    real_event_push(real, &event);
}

/* ===== Connections: slots and handles ===== */

static struct real_conn *real_conn_get(struct io_real *real, io_conn handle)
{
    if (handle == 0) return NULL;
    struct real_conn *conn = &real->conns[handle % real->conns_max];
    if (conn->handle != handle || conn->state == REAL_CONN_FREE) return NULL;
    return conn;
}

/* A user-visible connection: not failed, not lingering. */
static struct real_conn *real_conn_live(struct io_real *real, io_conn handle)
{
    struct real_conn *conn = real_conn_get(real, handle);
    if (conn == NULL) return NULL;
    if (conn->state != REAL_CONN_CONNECTING && conn->state != REAL_CONN_OPEN) return NULL;
    return conn;
}

/* Takes a free slot whose index matches the next handle. NULL when all slots are taken. */
static struct real_conn *real_conn_alloc(struct io_real *real, int fd, u64 tag,
                                         u32 frame_size_max)
{
    for (u32 probe = 0; probe < real->conns_max; probe++) {
        io_conn handle = real->conn_next++;
        if (handle == 0) continue; /* 0 means "none"; after 2^32 handles we wrap past it. */
        struct real_conn *conn = &real->conns[handle % real->conns_max];
        if (conn->state != REAL_CONN_FREE) continue;
        struct real_segment *segments = conn->segments;
        if (segments == NULL) {
            segments = calloc(REAL_SEGMENTS_MAX, sizeof(*segments));
            if (segments == NULL) return NULL;
        }
        memset(conn, 0, sizeof(*conn));
        conn->segments = segments;
        conn->handle = handle;
        conn->fd = fd;
        conn->tag = tag;
        conn->frame_size_max = frame_size_max == 0 ? REAL_FRAME_DEFAULT_MAX : frame_size_max;
        real->conns_used++;
        return conn;
    }
    return NULL;
}

static void real_segment_release(struct real_segment *segment)
{
    if (segment->bytes != NULL) free(segment->bytes);
    if (segment->bytes == NULL && segment->fd >= 0) close(segment->fd);
    memset(segment, 0, sizeof(*segment));
    segment->fd = -1;
}

/* Keeps the input buffer of a connection closing while its handler holds a frame in it. The
 * handler owes a release for it, so the table stays as small as the frames held at once. */
static void real_retain(struct io_real *real, io_conn handle, u8 *input)
{
    if (real->retained_count == real->retained_capacity) {
        u32 capacity = MAX(16u, real->retained_capacity * 2);
        struct real_retained *grown = realloc(real->retained, capacity * sizeof(*grown));
        /* Out of memory here would break the promise that held bytes stay valid. */
        ASSERT(grown != NULL);
        real->retained = grown;
        real->retained_capacity = capacity;
    }
    real->retained[real->retained_count++] = (struct real_retained){handle, input};
}

/* Frees everything a slot holds except its segment ring (reused by the next connection). */
static void real_conn_free(struct io_real *real, struct real_conn *conn)
{
    ASSERT(conn->state != REAL_CONN_FREE);
    if (conn->fd >= 0) {
        /* Closing the descriptor also removes it from the epoll set. */
        close(conn->fd);
    }
    for (u32 i = 0; i < conn->segment_count; i++) {
        real_segment_release(&conn->segments[(conn->segment_head + i) % REAL_SEGMENTS_MAX]);
    }
    if (conn->held) {
        real_retain(real, conn->handle, conn->input);
    } else {
        free(conn->input);
    }
    struct real_segment *segments = conn->segments;
    memset(conn, 0, sizeof(*conn));
    conn->segments = segments;
    conn->fd = -1;
    conn->state = REAL_CONN_FREE;
    ASSERT(real->conns_used > 0);
    real->conns_used--;
}

static u64 real_epoll_data(enum real_tag tag, u32 index, u32 handle)
{
    return (u64)tag << 56 | (u64)index << 32 | handle;
}

/* Sets the epoll interest of a connection from its state: reading unless paused or at EOF,
 * writing while connecting or while bytes wait. Returns false if epoll refused. */
static bool real_conn_interest(struct io_real *real, struct real_conn *conn)
{
    bool want_in = conn->state == REAL_CONN_OPEN && !conn->paused && !conn->held && !conn->eof;
    bool want_out = conn->state == REAL_CONN_CONNECTING ||
                    ((conn->state == REAL_CONN_OPEN || conn->state == REAL_CONN_LINGER) &&
                     conn->segment_count > 0);
    if (want_in == conn->in_armed && want_out == conn->out_armed) return true;
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    /* EPOLLRDHUP only with EPOLLIN: level-triggered, it would spin while reading is paused. */
    event.events = (want_in ? EPOLLIN | EPOLLRDHUP : 0u) | (want_out ? EPOLLOUT : 0u);
    event.data.u64 = real_epoll_data(REAL_TAG_CONN, conn->handle % real->conns_max,
                                     conn->handle);
    if (epoll_ctl(real->epoll_fd, EPOLL_CTL_MOD, conn->fd, &event) != 0) return false;
    conn->in_armed = want_in;
    conn->out_armed = want_out;
    return true;
}

static bool real_conn_register(struct io_real *real, struct real_conn *conn, u32 events)
{
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = events | ((events & EPOLLIN) ? EPOLLRDHUP : 0u);
    event.data.u64 = real_epoll_data(REAL_TAG_CONN, conn->handle % real->conns_max,
                                     conn->handle);
    if (epoll_ctl(real->epoll_fd, EPOLL_CTL_ADD, conn->fd, &event) != 0) return false;
    conn->in_armed = (events & EPOLLIN) != 0;
    conn->out_armed = (events & EPOLLOUT) != 0;
    return true;
}

/* Delivers CLOSED from the loop and frees the slot first, so the handler may open another
 * connection (even reuse resources) from inside on_conn. */
static void real_conn_closed(struct io_real *real, struct real_conn *conn,
                             enum io_close_reason reason)
{
    ASSERT(conn->state == REAL_CONN_OPEN || conn->state == REAL_CONN_CONNECTING ||
           conn->state == REAL_CONN_FAILED);
    io_conn handle = conn->handle;
    u64 tag = conn->tag;
    real_conn_free(real, conn);
    real->handler->on_conn(real->process, handle, IO_CONN_CLOSED, reason, tag);
}

static void real_socket_tune(int fd)
{
    int one = 1;
    /* Small Kafka requests must not wait for Nagle; failures only cost latency. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) return;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0) return;
}

/* Resolves "host:port" ("[v6]:port", empty host = any address when passive). */
static bool real_resolve(const char *endpoint, bool passive, struct sockaddr_storage *address,
                         socklen_t *address_size)
{
    char host[REAL_NAME_MAX];
    u16 port = 0;
    if (!io_endpoint_parse(endpoint, host, sizeof(host), &port)) return false;
    char *name = host;
    size_t length = strlen(host);
    if (length >= 2 && host[0] == '[' && host[length - 1] == ']') {
        host[length - 1] = '\0';
        name = host + 1;
    }
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints, *result = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    if (getaddrinfo(name[0] != '\0' ? name : NULL, service, &hints, &result) != 0) return false;
    bool ok = result != NULL && result->ai_addrlen <= sizeof(*address);
    if (ok) {
        memcpy(address, result->ai_addr, result->ai_addrlen);
        *address_size = result->ai_addrlen;
    }
    freeaddrinfo(result);
    return ok;
}

/* ===== Listening, accepting, connecting ===== */

static enum io_result real_listen(void *context, const char *endpoint, u64 tag,
                                  u32 frame_size_max)
{
    struct io_real *real = context;
    if (real->listener_count == REAL_LISTENERS_MAX) return IO_ERR_LIMIT;
    struct sockaddr_storage address;
    socklen_t address_size = 0;
    if (!real_resolve(endpoint, true, &address, &address_size)) return IO_ERR_INVALID;
    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno == EMFILE || errno == ENFILE ? IO_ERR_LIMIT : IO_ERR_IO;
    int one = 1;
    enum io_result result = IO_OK;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) result = IO_ERR_IO;
    if (result == IO_OK && bind(fd, (struct sockaddr *)&address, address_size) != 0) {
        result = errno == EADDRINUSE ? IO_ERR_EXISTS : IO_ERR_INVALID;
    }
    if (result == IO_OK && listen(fd, 512) != 0) result = IO_ERR_IO;
    u32 index = real->listener_count;
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = EPOLLIN;
    event.data.u64 = real_epoll_data(REAL_TAG_LISTENER, index, 0);
    if (result == IO_OK && epoll_ctl(real->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
        result = IO_ERR_LIMIT;
    }
    if (result != IO_OK) {
        real_logf(real, IO_LOG_WARN, "listen on %s failed: %s (%s)", endpoint,
                  io_result_name(result), strerror(errno));
        close(fd);
        if (real->options.listen_failure_fatal) {
            real_log(real, IO_LOG_ERROR, "cannot serve without this listener: stopping");
            real->loop_failed = true;
            real->finished = true; /* Only a flag: the loop ends after the current callback. */
        }
        return result;
    }
    real->listeners[index] = (struct real_listener){
        .fd = fd, .tag = tag, .frame_size_max = frame_size_max};
    real->listener_count++;
    real_logf(real, IO_LOG_INFO, "listening on %s", endpoint);
    return IO_OK;
}

/* Accepts what is pending on a listener (bounded per wake-up, level-triggered epoll brings us
 * back) and delivers ACCEPTED for each. */
static void real_accept(struct io_real *real, u32 index)
{
    ASSERT(index < real->listener_count);
    for (u32 round = 0; round < 64; round++) {
        struct real_listener *listener = &real->listeners[index];
        int fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                real_logf(real, IO_LOG_WARN, "accept failed: %s", strerror(errno));
            }
            return;
        }
        struct real_conn *conn = real_conn_alloc(real, fd, listener->tag,
                                                 listener->frame_size_max);
        if (conn == NULL) {
            real_logf(real, IO_LOG_WARN, "connection refused: %u connections already open",
                      real->conns_max);
            close(fd);
            continue;
        }
        conn->state = REAL_CONN_OPEN;
        real_socket_tune(fd);
        if (!real_conn_register(real, conn, EPOLLIN)) {
            conn->fd = fd;
            real_conn_free(real, conn);
            continue;
        }
        real->handler->on_conn(real->process, conn->handle, IO_CONN_ACCEPTED, IO_CLOSE_NONE,
                               conn->tag);
        if (real->finished) return;
    }
}

static enum io_close_reason real_close_reason(int error)
{
    switch (error) {
    case ETIMEDOUT: return IO_CLOSE_TIMEOUT;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRNOTAVAIL: return IO_CLOSE_REFUSED;
    default: return IO_CLOSE_RESET;
    }
}

/* A connect that failed at call time: its CLOSED is queued, never delivered inside the call. */
static io_conn real_connect_failed(struct io_real *real, struct real_conn *conn,
                                   enum io_close_reason reason)
{
    if (conn->fd >= 0) close(conn->fd);
    conn->fd = -1;
    conn->state = REAL_CONN_FAILED;
    struct real_event event;
    memset(&event, 0, sizeof(event));
    event.kind = REAL_EVENT_CONN;
    event.conn = conn->handle;
    event.conn_event = IO_CONN_CLOSED;
    event.reason = reason;
    event.tag = conn->tag;
    real_event_push(real, &event);
    return conn->handle;
}

static io_conn real_connect(void *context, const char *endpoint, u64 tag, u32 frame_size_max)
{
    struct io_real *real = context;
    struct sockaddr_storage address;
    socklen_t address_size = 0;
    if (!real_resolve(endpoint, false, &address, &address_size)) return 0;
    if (!real_event_room(real)) return 0;
    struct real_conn *conn = real_conn_alloc(real, -1, tag, frame_size_max);
    if (conn == NULL) {
        real_logf(real, IO_LOG_WARN, "connect to %s: %u connections already open", endpoint,
                  real->conns_max);
        return 0;
    }
    conn->state = REAL_CONN_CONNECTING;
    conn->deadline_ns = real_clock_ns(CLOCK_MONOTONIC) +
                        real->options.connect_timeout_ms * NS_PER_MS;
    conn->fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (conn->fd < 0) return real_connect_failed(real, conn, IO_CLOSE_REFUSED);
    real_socket_tune(conn->fd);
    int rc = connect(conn->fd, (struct sockaddr *)&address, address_size);
    if (rc != 0 && errno != EINPROGRESS && errno != EINTR) {
        return real_connect_failed(real, conn, real_close_reason(errno));
    }
    /* Even an immediate success is reported through EPOLLOUT, from the loop. */
    if (!real_conn_register(real, conn, EPOLLOUT)) {
        return real_connect_failed(real, conn, IO_CLOSE_REFUSED);
    }
    return conn->handle;
}

/* EPOLLOUT or an error on a connecting socket: the connect finished one way or the other. */
static void real_connect_done(struct io_real *real, struct real_conn *conn)
{
    ASSERT(conn->state == REAL_CONN_CONNECTING);
    int error = 0;
    socklen_t size = sizeof(error);
    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
    if (error == EINPROGRESS || error == EALREADY) return; /* Spurious wake-up. */
    if (error != 0) {
        real_conn_closed(real, conn, real_close_reason(error));
        return;
    }
    conn->state = REAL_CONN_OPEN;
    if (!real_conn_interest(real, conn)) {
        real_conn_closed(real, conn, IO_CLOSE_RESET);
        return;
    }
    real->handler->on_conn(real->process, conn->handle, IO_CONN_CONNECTED, IO_CLOSE_NONE,
                           conn->tag);
}

/* ===== Sending ===== */

static enum io_result real_send(void *context, io_conn handle, const u8 *bytes, u32 size)
{
    struct io_real *real = context;
    struct real_conn *conn = real_conn_live(real, handle);
    if (conn == NULL) return IO_ERR_CLOSED;
    if (size == 0) return IO_OK;
    if (conn->queued_bytes + size > real->options.send_queue_bytes_max) return IO_ERR_LIMIT;
    struct real_segment *last = NULL;
    if (conn->segment_count > 0) {
        last = &conn->segments[(conn->segment_head + conn->segment_count - 1) %
                               REAL_SEGMENTS_MAX];
    }
    if (last != NULL && last->bytes != NULL && last->capacity - last->size >= size) {
        memcpy(last->bytes + last->size, bytes, size); /* Coalesce: fewer iovecs. */
        last->size += size;
        conn->queued_bytes += size;
        return IO_OK;
    }
    if (conn->segment_count == REAL_SEGMENTS_MAX) return IO_ERR_LIMIT;
    u32 capacity = MAX(size, REAL_CHUNK_SIZE);
    u8 *chunk = malloc(capacity);
    if (chunk == NULL) return IO_ERR_LIMIT;
    memcpy(chunk, bytes, size);
    struct real_segment *segment =
        &conn->segments[(conn->segment_head + conn->segment_count) % REAL_SEGMENTS_MAX];
    *segment = (struct real_segment){
        .bytes = chunk, .fd = -1, .size = size, .capacity = capacity};
    conn->segment_count++;
    conn->queued_bytes += size;
    return IO_OK;
}

static struct real_file *real_file_get(struct io_real *real, io_file handle)
{
    if (handle == 0) return NULL;
    struct real_file *file = &real->files[handle % REAL_FILES_MAX];
    if (file->handle != handle || file->fd < 0) return NULL;
    return file;
}

/* Queues a file range; it is sent with sendfile(2) from our own duplicate of the descriptor,
 * so closing the file afterwards does not disturb the send. */
static enum io_result real_send_file(void *context, io_conn handle, io_file file_handle,
                                     u64 offset, u32 size)
{
    struct io_real *real = context;
    struct real_conn *conn = real_conn_live(real, handle);
    if (conn == NULL) return IO_ERR_CLOSED;
    struct real_file *file = real_file_get(real, file_handle);
    if (file == NULL) return IO_ERR_INVALID;
    if (size == 0) return IO_OK;
    if (conn->queued_bytes + size > real->options.send_queue_bytes_max) return IO_ERR_LIMIT;
    if (conn->segment_count == REAL_SEGMENTS_MAX) return IO_ERR_LIMIT;
    int fd = fcntl(file->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return IO_ERR_LIMIT;
    struct real_segment *segment =
        &conn->segments[(conn->segment_head + conn->segment_count) % REAL_SEGMENTS_MAX];
    *segment = (struct real_segment){.bytes = NULL, .fd = fd, .offset = offset, .size = size};
    conn->segment_count++;
    conn->queued_bytes += size;
    return IO_OK;
}

static u64 real_send_queued(void *context, io_conn handle)
{
    struct io_real *real = context;
    struct real_conn *conn = real_conn_live(real, handle);
    return conn == NULL ? 0 : conn->queued_bytes;
}

static void real_read_pause(void *context, io_conn handle, bool paused)
{
    struct io_real *real = context;
    struct real_conn *conn = real_conn_live(real, handle);
    if (conn == NULL) return;
    conn->paused = paused;
    /* The interest set is refreshed from the loop (real_conns_service), not here. */
}

static u8 *real_frame_hold(void *context, io_conn handle, const u8 *frame, u32 size)
{
    struct io_real *real = context;
    struct real_conn *conn = real_conn_live(real, handle);
    /* Only from inside on_frame, with its frame: the last one consumed from the input. */
    ASSERT(conn != NULL && !conn->held);
    ASSERT(frame + size == conn->input + conn->input_start);
    conn->held = true;
    return conn->input + conn->input_start - size;
}

static void real_frame_release(void *context, io_conn handle)
{
    struct io_real *real = context;
    struct real_conn *conn = real_conn_get(real, handle);
    if (conn != NULL && conn->held) {
        conn->held = false; /* Frames behind it are delivered from the loop (real_conns_service). */
        return;
    }
    for (u32 i = 0; i < real->retained_count; i++) {
        if (real->retained[i].handle != handle) continue;
        free(real->retained[i].input);
        real->retained[i] = real->retained[--real->retained_count];
        return;
    }
    ASSERT(false); /* A release without a hold: a handler bug. */
}

/* Closing with bytes still queued lingers to flush them (a response then a close is a common
 * Kafka pattern); the handle is dead for the user either way. */
static void real_close(void *context, io_conn handle)
{
    struct io_real *real = context;
    struct real_conn *conn = real_conn_get(real, handle);
    if (conn == NULL || conn->state == REAL_CONN_LINGER) return;
    if (conn->state == REAL_CONN_OPEN && conn->segment_count > 0) {
        conn->state = REAL_CONN_LINGER;
        conn->deadline_ns = real_clock_ns(CLOCK_MONOTONIC) + REAL_LINGER_MS * NS_PER_MS;
        return;
    }
    real_conn_free(real, conn);
}

/* Drops fully sent segments from the head of the queue. */
static void real_conn_consume(struct real_conn *conn, u64 sent)
{
    ASSERT(sent <= conn->queued_bytes);
    conn->queued_bytes -= sent;
    for (u32 guard = 0; guard < REAL_SEGMENTS_MAX && conn->segment_count > 0; guard++) {
        struct real_segment *head = &conn->segments[conn->segment_head];
        u32 left = head->size - head->sent;
        if (sent < left) {
            head->sent += (u32)sent;
            if (head->bytes == NULL) head->offset += sent;
            return;
        }
        sent -= left;
        real_segment_release(head);
        conn->segment_head = (conn->segment_head + 1) % REAL_SEGMENTS_MAX;
        conn->segment_count--;
    }
    ASSERT(sent == 0);
}

enum real_flush { REAL_FLUSH_DONE, REAL_FLUSH_BLOCKED, REAL_FLUSH_ERROR };

/* One system call's worth of sending: writev over the leading memory segments, or sendfile for
 * a leading file range. */
static enum real_flush real_conn_flush_step(struct real_conn *conn, int *error)
{
    struct real_segment *head = &conn->segments[conn->segment_head];
    ssize_t sent;
    if (head->bytes == NULL) {
        off_t offset = (off_t)head->offset;
        sent = sendfile(conn->fd, head->fd, &offset, head->size - head->sent);
        if (sent == 0) { *error = EIO; return REAL_FLUSH_ERROR; } /* File shorter than range. */
    } else {
        struct iovec iov[REAL_IOV_MAX];
        int count = 0;
        for (u32 i = 0; i < conn->segment_count && count < REAL_IOV_MAX; i++) {
            struct real_segment *s = &conn->segments[(conn->segment_head + i) % REAL_SEGMENTS_MAX];
            if (s->bytes == NULL) break;
            iov[count].iov_base = s->bytes + s->sent;
            iov[count].iov_len = s->size - s->sent;
            count++;
        }
        ASSERT(count > 0);
        sent = writev(conn->fd, iov, count);
    }
    if (sent < 0) {
        if (errno == EINTR) return REAL_FLUSH_DONE; /* Try again next step. */
        if (errno == EAGAIN || errno == EWOULDBLOCK) return REAL_FLUSH_BLOCKED;
        *error = errno;
        return REAL_FLUSH_ERROR;
    }
    real_conn_consume(conn, (u64)sent);
    return REAL_FLUSH_DONE;
}

/* Sends as much as the socket takes. Returns false (with errno in *error) if the connection
 * broke. Bounded: each step sends bytes or stops. */
static bool real_conn_flush(struct real_conn *conn, int *error)
{
    for (u32 step = 0; step < 4 * REAL_SEGMENTS_MAX && conn->segment_count > 0; step++) {
        enum real_flush result = real_conn_flush_step(conn, error);
        if (result == REAL_FLUSH_BLOCKED) return true;
        if (result == REAL_FLUSH_ERROR) return false;
    }
    return true;
}

/* ===== Receiving: frame reassembly ===== */

/* Drops the delivered bytes at the front of the input buffer, unless a held frame is there. */
static void real_input_compact(struct real_conn *conn)
{
    if (conn->held || conn->input_start == 0) return;
    ASSERT(conn->input_start <= conn->input_size);
    memmove(conn->input, conn->input + conn->input_start, conn->input_size - conn->input_start);
    conn->input_size -= conn->input_start;
    conn->input_start = 0;
    if (conn->input_size == 0 && conn->input_capacity > REAL_INPUT_KEEP_MAX) {
        /* A huge frame passed: give its buffer back rather than hold it for the connection's
         * whole life. */
        free(conn->input);
        conn->input = NULL;
        conn->input_capacity = 0;
    }
}

/* Makes room for at least need bytes in the input buffer (need <= 4 + frame_size_max). */
static bool real_input_reserve(struct real_conn *conn, u32 need)
{
    ASSERT(!conn->held && conn->input_start == 0);
    if (conn->input_capacity >= need) return true;
    u32 capacity = MAX(need, REAL_INPUT_INITIAL);
    u8 *input = realloc(conn->input, capacity);
    if (input == NULL) return false;
    conn->input = input;
    conn->input_capacity = capacity;
    return true;
}

/* Delivers whole frames held in the input buffer, stopping when paused, held or closed by the
 * handler. Returns false when the connection is gone (closed here or by the handler). */
static bool real_frames_deliver(struct io_real *real, struct real_conn *conn)
{
    io_conn handle = conn->handle;
    for (u32 guard = 0; guard <= conn->input_capacity; guard++) {
        u32 available = conn->input_size - conn->input_start;
        if (conn->paused || conn->held || available < IO_FRAME_PREFIX_SIZE) break;
        u32 size = load_u32_be(conn->input + conn->input_start);
        if (size > conn->frame_size_max) {
            real_logf(real, IO_LOG_WARN, "connection %u: frame of %u bytes exceeds limit %u",
                      handle, size, conn->frame_size_max);
            real_conn_closed(real, conn, IO_CLOSE_FRAME_LIMIT);
            return false;
        }
        if (available - IO_FRAME_PREFIX_SIZE < size) break;
        const u8 *frame = conn->input + conn->input_start + IO_FRAME_PREFIX_SIZE;
        conn->input_start += IO_FRAME_PREFIX_SIZE + size; /* Consumed before the handler runs. */
        real->handler->on_frame(real->process, handle, frame, size);
        if (real_conn_live(real, handle) != conn || conn->state != REAL_CONN_OPEN) return false;
        if (real->finished) break;
    }
    real_input_compact(conn);
    return true;
}

/* True when the buffer holds a whole undelivered frame (or an oversized prefix, which closes). */
static bool real_frame_complete(const struct real_conn *conn)
{
    u32 available = conn->input_size - conn->input_start;
    if (available < IO_FRAME_PREFIX_SIZE) return false;
    u32 size = load_u32_be(conn->input + conn->input_start);
    return size > conn->frame_size_max || available - IO_FRAME_PREFIX_SIZE >= size;
}

/* True when the buffer holds a frame the handler could take now. */
static bool real_frame_ready(const struct real_conn *conn)
{
    return conn->state == REAL_CONN_OPEN && !conn->paused && !conn->held &&
           real_frame_complete(conn);
}

/* At EOF the connection closes once no frame waits for a pause or a hold to end. */
static bool real_eof_closes(const struct real_conn *conn)
{
    return conn->eof && !((conn->paused || conn->held) && real_frame_complete(conn));
}

/* Reads what the socket has (bounded), then delivers complete frames. */
static void real_conn_readable(struct io_real *real, struct real_conn *conn)
{
    ASSERT(conn->state == REAL_CONN_OPEN);
    for (u32 round = 0; round < 16 && !conn->paused && !conn->held && !conn->eof; round++) {
        real_input_compact(conn);
        u32 need = REAL_INPUT_INITIAL;
        if (conn->input_size >= IO_FRAME_PREFIX_SIZE) {
            u32 size = load_u32_be(conn->input);
            if (size <= conn->frame_size_max) need = MAX(need, IO_FRAME_PREFIX_SIZE + size);
        }
        if (!real_input_reserve(conn, need)) {
            real_conn_closed(real, conn, IO_CLOSE_RESET);
            return;
        }
        if (conn->input_size == conn->input_capacity) break; /* A whole frame is buffered. */
        ssize_t got = recv(conn->fd, conn->input + conn->input_size,
                           conn->input_capacity - conn->input_size, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (got < 0) {
            real_conn_closed(real, conn, real_close_reason(errno));
            return;
        }
        if (got == 0) {
            conn->eof = true;
            break;
        }
        conn->input_size += (u32)got;
        if (!real_frames_deliver(real, conn)) return;
        if (real->finished) return;
    }
    if (real_eof_closes(conn)) {
        real_conn_closed(real, conn, IO_CLOSE_RESET);
        return;
    }
    if (!real_conn_interest(real, conn)) real_conn_closed(real, conn, IO_CLOSE_RESET);
}

/* Per-iteration upkeep of one connection: frames released by a resume, EOF, flushing,
 * lingering closes, connect timeouts, and the epoll interest that follows from all that. */
static void real_conn_service(struct io_real *real, struct real_conn *conn, u64 now)
{
    if (conn->state == REAL_CONN_CONNECTING && now >= conn->deadline_ns) {
        real_conn_closed(real, conn, IO_CLOSE_TIMEOUT);
        return;
    }
    if (conn->state == REAL_CONN_OPEN && real_frame_ready(conn)) {
        if (!real_frames_deliver(real, conn)) return;
    }
    if (conn->state == REAL_CONN_OPEN && real_eof_closes(conn)) {
        real_conn_closed(real, conn, IO_CLOSE_RESET);
        return;
    }
    bool flushable = conn->state == REAL_CONN_OPEN || conn->state == REAL_CONN_LINGER;
    int error = 0;
    if (flushable && conn->segment_count > 0 && !real_conn_flush(conn, &error)) {
        if (conn->state == REAL_CONN_LINGER) {
            real_conn_free(real, conn);
        } else {
            real_conn_closed(real, conn, real_close_reason(error));
        }
        return;
    }
    if (conn->state == REAL_CONN_LINGER && (conn->segment_count == 0 || now >= conn->deadline_ns)) {
        real_conn_free(real, conn);
        return;
    }
    if (conn->state == REAL_CONN_FAILED) return; /* Its CLOSED is queued. */
    if (!real_conn_interest(real, conn)) {
        if (conn->state == REAL_CONN_LINGER) {
            real_conn_free(real, conn);
        } else {
            real_conn_closed(real, conn, IO_CLOSE_RESET);
        }
    }
}

static void real_conns_service(struct io_real *real)
{
    u64 now = real_clock_ns(CLOCK_MONOTONIC);
    /* Stops once every taken slot is served: walking all conns_max (1024) slots on each turn
     * of the loop was ~4% of kbroker's CPU under a produce load (perf). A slot freed before
     * its turn, or a connection made during the walk, makes it run to the end as before. */
    u32 used = real->conns_used, served = 0;
    io_conn next_at_start = real->conn_next;
    for (u32 i = 0; i < real->conns_max && !real->finished; i++) {
        if (served == used && real->conn_next == next_at_start) break;
        struct real_conn *conn = &real->conns[i];
        if (conn->state == REAL_CONN_FREE) continue;
        served++;
        real_conn_service(real, conn, now);
    }
}

/* ===== Files ===== */

static enum io_result real_errno_result(int error)
{
    switch (error) {
    case ENOENT: return IO_ERR_NOT_FOUND;
    case EEXIST:
    case ENOTEMPTY: return IO_ERR_EXISTS;
    case ENOSPC:
    case EDQUOT: return IO_ERR_NO_SPACE;
    case EMFILE:
    case ENFILE:
    case ENOMEM: return IO_ERR_LIMIT;
    case EINVAL:
    case ENAMETOOLONG:
    case ENOTDIR:
    case EISDIR:
    case ELOOP: return IO_ERR_INVALID;
    default: return IO_ERR_IO;
    }
}

/* A path inside the data directory: relative, '/'-separated, no "." or ".." component, no
 * empty component, shorter than IO_PATH_MAX. An empty path names the directory itself only
 * where allow_empty (listing the root). */
static bool real_path_valid(const char *path, bool allow_empty)
{
    size_t length = strnlen(path, IO_PATH_MAX);
    if (length == IO_PATH_MAX) return false;
    if (length == 0) return allow_empty;
    if (path[0] == '/' || path[length - 1] == '/') return false;
    const char *component = path;
    for (u32 guard = 0; guard < IO_PATH_MAX; guard++) {
        const char *slash = strchr(component, '/');
        size_t size = slash != NULL ? (size_t)(slash - component) : strlen(component);
        if (size == 0) return false;
        if (size == 1 && component[0] == '.') return false;
        if (size == 2 && component[0] == '.' && component[1] == '.') return false;
        if (slash == NULL) return true;
        component = slash + 1;
    }
    return false;
}

/* fsync of the directory holding path, so a create, rename or unlink survives a crash. */
static int real_sync_parent(struct io_real *real, const char *path)
{
    char parent[IO_PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t length = slash != NULL ? (size_t)(slash - path) : 0;
    memcpy(parent, path, length);
    parent[length] = '\0';
    int fd = openat(real->data_dir_fd, length > 0 ? parent : ".",
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int error = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return error;
}

/* Creates every directory leading to path (mkdir -p of its parent). */
static int real_make_parents(struct io_real *real, const char *path)
{
    char prefix[IO_PATH_MAX];
    size_t length = strlen(path);
    ASSERT(length < IO_PATH_MAX);
    for (size_t i = 0; i < length; i++) {
        if (path[i] != '/') continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        if (mkdirat(real->data_dir_fd, prefix, 0755) != 0 && errno != EEXIST) return errno;
    }
    return 0;
}

static struct real_file *real_file_alloc(struct io_real *real)
{
    for (u32 probe = 0; probe < REAL_FILES_MAX; probe++) {
        io_file handle = real->file_next++;
        if (handle == 0) continue;
        struct real_file *file = &real->files[handle % REAL_FILES_MAX];
        if (file->fd >= 0) continue;
        file->handle = handle;
        file->allocated_end = 0;
        return file;
    }
    return NULL;
}

/* Opens (maybe creating) a file; a newly created file's directory entry is made durable. */
static int real_open_at(struct io_real *real, const char *path, u32 flags, int *fd_out)
{
    int open_flags = O_RDWR | O_CLOEXEC;
    if (flags & IO_OPEN_CREATE) open_flags |= O_CREAT;
    if ((flags & IO_OPEN_CREATE) && (flags & IO_OPEN_EXCLUSIVE)) open_flags |= O_EXCL;
    if (flags & IO_OPEN_TRUNCATE) open_flags |= O_TRUNC;
    bool existed = faccessat(real->data_dir_fd, path, F_OK, 0) == 0;
    if ((flags & IO_OPEN_CREATE) && !existed) {
        int error = real_make_parents(real, path);
        if (error != 0) return error;
    }
    int fd = openat(real->data_dir_fd, path, open_flags, 0644);
    if (fd < 0) return errno;
    if (!existed) {
        int error = real_sync_parent(real, path);
        if (error != 0) { close(fd); return error; }
    }
    *fd_out = fd;
    return 0;
}

static enum io_result real_file_open(void *context, const char *path, u32 flags, u64 user_data)
{
    struct io_real *real = context;
    if (!real_path_valid(path, false)) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct real_file *file = real_file_alloc(real);
    if (file == NULL) return IO_ERR_LIMIT;
    struct io_completion completion;
    memset(&completion, 0, sizeof(completion));
    completion.op = IO_FILE_OPEN;
    completion.user_data = user_data;
    int fd = -1;
    int error = real_open_at(real, path, flags, &fd);
    struct stat status;
    if (error == 0 && fstat(fd, &status) != 0) error = errno;
    if (error == 0 && !S_ISREG(status.st_mode)) error = EISDIR;
    if (error != 0) {
        if (fd >= 0) close(fd);
        completion.result = real_errno_result(error);
    } else {
        file->fd = fd;
        completion.file = file->handle;
        completion.file_size = (u64)status.st_size;
    }
    real_completion_push(real, &completion);
    return IO_OK;
}

static struct io_completion real_completion_for(enum io_file_op op, io_file file, u64 user_data)
{
    struct io_completion completion;
    memset(&completion, 0, sizeof(completion));
    completion.op = op;
    completion.file = file;
    completion.user_data = user_data;
    return completion;
}

static enum io_result real_file_read(void *context, io_file handle, u64 offset, u8 *buffer,
                                     u32 size, u64 user_data)
{
    struct io_real *real = context;
    struct real_file *file = real_file_get(real, handle);
    if (file == NULL) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_FILE_READ, handle, user_data);
    completion.offset = offset;
    completion.buffer = buffer;
    u32 done = 0;
    for (u32 guard = 0; done < size && guard < 1024; guard++) {
        ssize_t got = pread(file->fd, buffer + done, size - done, (off_t)(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) { completion.result = real_errno_result(errno); break; }
        if (got == 0) break; /* End of file: a short read. */
        done += (u32)got;
    }
    completion.size = done;
    real_completion_push(real, &completion);
    return IO_OK;
}

/* Reserves blocks ahead of a write that ends at end, for a file grown past
 * REAL_PREALLOCATE_FROM. Advisory: a failure leaves the write to find out for itself. */
static void real_file_reserve(struct real_file *file, u64 end)
{
    if (end < REAL_PREALLOCATE_FROM || end <= file->allocated_end) return;
    u64 chunk = MIN(MAX(end / 4, (u64)REAL_PREALLOCATE_FROM), (u64)REAL_PREALLOCATE_CHUNK_MAX);
    u64 start = MAX(file->allocated_end, end > chunk ? end - chunk : 0);
    u64 target = end + chunk;
    if (fallocate(file->fd, FALLOC_FL_KEEP_SIZE, (off_t)start, (off_t)(target - start)) == 0) {
        file->allocated_end = target;
    } else if (errno == EOPNOTSUPP || errno == ENOSYS) {
        file->allocated_end = UINT64_MAX;
    } else {
        file->allocated_end = end; /* Full, say: try again further on. */
    }
}

static enum io_result real_file_write(void *context, io_file handle, u64 offset,
                                      const u8 *bytes, u32 size, u64 user_data)
{
    struct io_real *real = context;
    struct real_file *file = real_file_get(real, handle);
    if (file == NULL) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_FILE_WRITE, handle, user_data);
    completion.offset = offset;
    real_file_reserve(file, offset + size);
    u32 done = 0;
    for (u32 guard = 0; done < size && guard < 1024; guard++) {
        ssize_t put = pwrite(file->fd, bytes + done, size - done, (off_t)(offset + done));
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) { completion.result = real_errno_result(put < 0 ? errno : EIO); break; }
        done += (u32)put;
    }
    if (completion.result == IO_OK && done < size) completion.result = IO_ERR_IO;
    completion.size = done;
    real_completion_push(real, &completion);
    return IO_OK;
}

static enum io_result real_file_sync(void *context, io_file handle, u64 user_data)
{
    struct io_real *real = context;
    struct real_file *file = real_file_get(real, handle);
    if (file == NULL) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_FILE_SYNC, handle, user_data);
    /* fdatasync also persists a grown file size, which is all a reader needs. */
    if (fdatasync(file->fd) != 0) completion.result = real_errno_result(errno);
    real_completion_push(real, &completion);
    return IO_OK;
}

static enum io_result real_file_truncate(void *context, io_file handle, u64 size,
                                         u64 user_data)
{
    struct io_real *real = context;
    struct real_file *file = real_file_get(real, handle);
    if (file == NULL) return IO_ERR_INVALID;
    if (size > (u64)INT64_MAX) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_FILE_TRUNCATE, handle, user_data);
    completion.offset = size;
    if (ftruncate(file->fd, (off_t)size) != 0) completion.result = real_errno_result(errno);
    real_completion_push(real, &completion);
    return IO_OK;
}

static void real_file_close(void *context, io_file handle)
{
    struct io_real *real = context;
    struct real_file *file = real_file_get(real, handle);
    if (file == NULL) return;
    struct stat status;
    if (file->allocated_end != 0 && file->allocated_end != UINT64_MAX &&
        fstat(file->fd, &status) == 0 && (u64)status.st_size < file->allocated_end) {
        /* Truncating to its own size frees the blocks reserved past the end. */
        if (ftruncate(file->fd, status.st_size) != 0) {
            real_logf(real, IO_LOG_WARN, "file %u: cannot trim its reserved blocks: %s",
                      handle, strerror(errno));
        }
    }
    close(file->fd); /* Queued send_file ranges hold their own duplicate. */
    file->fd = -1;
}

static enum io_result real_file_rename(void *context, const char *source, const char *target,
                                       u64 user_data)
{
    struct io_real *real = context;
    if (!real_path_valid(source, false) || !real_path_valid(target, false)) {
        return IO_ERR_INVALID;
    }
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_FILE_RENAME, 0, user_data);
    int error = 0;
    if (renameat(real->data_dir_fd, source, real->data_dir_fd, target) != 0) error = errno;
    if (error == 0) error = real_sync_parent(real, target);
    if (error == 0) error = real_sync_parent(real, source);
    completion.result = error == 0 ? IO_OK : real_errno_result(error);
    real_completion_push(real, &completion);
    return IO_OK;
}

static enum io_result real_file_remove(void *context, const char *path, u64 user_data)
{
    struct io_real *real = context;
    if (!real_path_valid(path, false)) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_FILE_REMOVE, 0, user_data);
    int error = 0;
    if (unlinkat(real->data_dir_fd, path, 0) != 0) error = errno;
    if (error == 0) error = real_sync_parent(real, path);
    completion.result = error == 0 ? IO_OK : real_errno_result(error);
    real_completion_push(real, &completion);
    return IO_OK;
}

static enum io_result real_dir_remove(void *context, const char *path, u64 user_data)
{
    struct io_real *real = context;
    if (!real_path_valid(path, false)) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_DIR_REMOVE, 0, user_data);
    int error = 0;
    if (unlinkat(real->data_dir_fd, path, AT_REMOVEDIR) != 0) error = errno;
    if (error == 0) error = real_sync_parent(real, path);
    /* POSIX lets rmdir of a non-empty directory fail with either. */
    bool not_empty = error == ENOTEMPTY || error == EEXIST;
    completion.result = error == 0  ? IO_OK
                        : not_empty ? IO_ERR_NOT_EMPTY
                                    : real_errno_result(error);
    real_completion_push(real, &completion);
    return IO_OK;
}

static int real_name_compare(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collects regular-file names of an open directory, sorted (readdir order is arbitrary; a
 * sorted listing makes recovery order reproducible). Returns 0 or an errno. */
static int real_list_names(DIR *dir, char (*names)[REAL_NAME_MAX], u32 names_max, u32 *count)
{
    *count = 0;
    for (u32 guard = 0; guard < 1000000; guard++) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (entry == NULL) return errno;
        bool regular = entry->d_type == DT_REG;
        if (entry->d_type == DT_UNKNOWN) {
            struct stat status;
            regular = fstatat(dirfd(dir), entry->d_name, &status, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISREG(status.st_mode);
        }
        if (!regular) continue;
        if (*count == names_max || strlen(entry->d_name) >= REAL_NAME_MAX) return ENOMEM;
        memcpy(names[*count], entry->d_name, strlen(entry->d_name) + 1);
        (*count)++;
    }
    return ENOMEM; /* Bounded: a directory with a million entries is not ours. */
}

static void real_list_fill(struct io_completion *completion, char (*names)[REAL_NAME_MAX],
                           u32 count, u32 size)
{
    const char *sorted[4096];
    ASSERT(count <= ARRAY_LEN(sorted));
    for (u32 i = 0; i < count; i++) sorted[i] = names[i];
    qsort(sorted, count, sizeof(sorted[0]), real_name_compare);
    u32 used = 0;
    for (u32 i = 0; i < count; i++) {
        u32 length = (u32)strlen(sorted[i]) + 1;
        if (used + length > size) { completion->result = IO_ERR_LIMIT; break; }
        memcpy(completion->buffer + used, sorted[i], length);
        used += length;
        completion->count++;
    }
    completion->size = used;
}

static enum io_result real_file_list(void *context, const char *directory, u8 *buffer,
                                     u32 size, u64 user_data)
{
    struct io_real *real = context;
    if (!real_path_valid(directory, true)) return IO_ERR_INVALID;
    if (!real_event_room(real)) return IO_ERR_LIMIT;
    struct io_completion completion = real_completion_for(IO_FILE_LIST, 0, user_data);
    completion.buffer = buffer;
    int fd = openat(real->data_dir_fd, directory[0] != '\0' ? directory : ".",
                    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir == NULL) {
        completion.result = real_errno_result(errno);
        if (fd >= 0) close(fd);
        real_completion_push(real, &completion);
        return IO_OK;
    }
    enum { NAMES_MAX = 4096 };
    char (*names)[REAL_NAME_MAX] = malloc(sizeof(*names) * NAMES_MAX);
    u32 count = 0;
    int error = names == NULL ? ENOMEM : real_list_names(dir, names, NAMES_MAX, &count);
    closedir(dir);
    if (error != 0) {
        completion.result = real_errno_result(error);
    } else {
        real_list_fill(&completion, names, count, size);
    }
    free(names);
    real_completion_push(real, &completion);
    return IO_OK;
}

/* ===== The loop ===== */

/* Delivers the events queued before this iteration began; ones queued by the handlers now
 * wait for the next iteration, so a chatty handler cannot starve the network. */
static void real_events_deliver(struct io_real *real)
{
    u32 count = real->event_count;
    for (u32 i = 0; i < count && !real->finished; i++) {
        ASSERT(real->event_count > 0);
        struct real_event event = real->events[real->event_head];
        real->event_head = (real->event_head + 1) % REAL_EVENTS_MAX;
        real->event_count--;
        if (event.kind == REAL_EVENT_COMPLETION) {
            real->handler->on_file(real->process, &event.completion);
            continue;
        }
        ASSERT(event.kind == REAL_EVENT_CONN);
        ASSERT(event.conn_event == IO_CONN_CLOSED);
        struct real_conn *conn = real_conn_get(real, event.conn);
        if (conn == NULL || conn->state != REAL_CONN_FAILED) continue; /* Closed by the user. */
        real_conn_closed(real, conn, event.reason);
    }
}

static void real_signals_read(struct io_real *real)
{
    for (u32 round = 0; round < 16; round++) {
        struct signalfd_siginfo info;
        ssize_t got = read(real->signal_fd, &info, sizeof(info));
        if (got != (ssize_t)sizeof(info)) return;
        if (real->stopping || real->stop_requested) {
            real_log(real, IO_LOG_WARN, "second stop signal: exiting now");
            real->finished = true;
            return;
        }
        real_logf(real, IO_LOG_INFO, "signal %u: stopping gracefully", info.ssi_signo);
        real->stop_requested = true;
    }
}

/* How long epoll may sleep: until the nearest timer, connect or linger deadline, the end of a
 * graceful stop, or not at all when something is ready. */
static int real_wait_ms(struct io_real *real, u64 timeout_ms)
{
    if (real->event_count > 0 || real->stop_requested) return 0;
    u64 now = real_clock_ns(CLOCK_MONOTONIC);
    u64 until = now + MIN(timeout_ms, (u64)INT32_MAX) * NS_PER_MS;
    for (u32 id = 0; id < IO_TIMERS_MAX; id++) {
        if (real->timer_armed[id]) until = MIN(until, real->timer_deadline_ns[id]);
    }
    /* Up to the last taken slot only (see real_conns_service); nothing is freed meanwhile. */
    for (u32 i = 0, seen = 0; i < real->conns_max && seen < real->conns_used; i++) {
        const struct real_conn *conn = &real->conns[i];
        if (conn->state == REAL_CONN_FREE) continue;
        seen++;
        if (real_frame_ready(conn)) return 0;
        if (conn->state == REAL_CONN_CONNECTING || conn->state == REAL_CONN_LINGER) {
            until = MIN(until, conn->deadline_ns);
        }
    }
    if (real->stopping) until = MIN(until, real->stop_deadline_ns);
    if (until <= now) return 0;
    return (int)MIN((until - now + NS_PER_MS - 1) / NS_PER_MS, (u64)INT32_MAX);
}

static void real_epoll_dispatch(struct io_real *real, const struct epoll_event *event)
{
    enum real_tag tag = (enum real_tag)(event->data.u64 >> 56);
    u32 index = (u32)(event->data.u64 >> 32) & 0xFFFFFFu;
    io_conn handle = (io_conn)event->data.u64;
    if (tag == REAL_TAG_SIGNAL) { real_signals_read(real); return; }
    if (tag == REAL_TAG_LISTENER) { real_accept(real, index); return; }
    ASSERT(tag == REAL_TAG_CONN);
    ASSERT(index < real->conns_max);
    struct real_conn *conn = real_conn_get(real, handle);
    if (conn == NULL) return; /* Closed earlier in this batch. */
    ASSERT(handle % real->conns_max == index);
    if (conn->state == REAL_CONN_CONNECTING) {
        if (event->events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) real_connect_done(real, conn);
        return;
    }
    if (conn->state != REAL_CONN_OPEN) return; /* LINGER: the flush finds out. */
    if (conn->in_armed && (event->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        real_conn_readable(real, conn);
        return;
    }
    if (event->events & (EPOLLHUP | EPOLLERR)) {
        /* Reset while paused (these two are reported whatever the interest): the connection
         * is dead, and level-triggered epoll would report it again and again. */
        int error = 0;
        socklen_t size = sizeof(error);
        if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
        real_conn_closed(real, conn, real_close_reason(error));
    }
    /* EPOLLOUT: the flush happens in real_conns_service before the next sleep. */
}

/* Runs on_stop once when a stop was requested, and ends the loop when the stop has drained
 * (no queued bytes or deliveries) or its grace period is over. */
static void real_stop_progress(struct io_real *real)
{
    u64 now = real_clock_ns(CLOCK_MONOTONIC);
    if (real->stop_requested && !real->stopping) {
        real->stop_requested = false;
        real->stopping = true;
        real->stop_deadline_ns = now + real->options.stop_grace_ms * NS_PER_MS;
        real->handler->on_stop(real->process);
        return; /* Give the handler's goodbyes one iteration to be flushed. */
    }
    if (!real->stopping) return;
    bool drained = real->event_count == 0;
    for (u32 i = 0; drained && i < real->conns_max; i++) {
        drained = real->conns[i].segment_count == 0;
    }
    if (drained || now >= real->stop_deadline_ns) real->finished = true;
}

void io_real_run_once(struct io_real *real, u64 timeout_ms)
{
    ASSERT(real->handler != NULL);
    if (real->finished) return;
    real_events_deliver(real);
    if (!real->finished) real_timers_fire(real);
    if (!real->finished) real_conns_service(real);
    if (!real->finished) real_stop_progress(real);
    if (real->finished) return;
    struct epoll_event events[REAL_EPOLL_BATCH];
    int count = epoll_wait(real->epoll_fd, events, REAL_EPOLL_BATCH,
                           real_wait_ms(real, timeout_ms));
    if (count < 0) {
        if (errno == EINTR) return;
        real_logf(real, IO_LOG_ERROR, "epoll_wait failed: %s", strerror(errno));
        real->loop_failed = true;
        real->finished = true;
        return;
    }
    for (int i = 0; i < count && !real->finished; i++) real_epoll_dispatch(real, &events[i]);
}

int io_real_run(struct io_real *real)
{
    ASSERT(real->handler != NULL);
    real->handler->on_start(real->process);
    for (;;) { /* The event loop: unbounded on purpose, it ends with the process's stop. */
        io_real_run_once(real, 1000);
        if (real->finished) break;
    }
    return real->loop_failed ? 1 : 0;
}

void io_real_stop(struct io_real *real, bool graceful)
{
    if (graceful) {
        if (!real->stopping) real->stop_requested = true;
    } else {
        real->finished = true;
    }
}

bool io_real_finished(const struct io_real *real) { return real->finished; }

bool io_real_failed(const struct io_real *real) { return real->loop_failed; }

struct io *io_real_io(struct io_real *real) { return &real->io; }

void io_real_bind(struct io_real *real, const struct io_handler_vtable *handler, void *process)
{
    ASSERT(handler != NULL);
    real->handler = handler;
    real->process = process;
}

/* ===== Creation ===== */

static const struct io_vtable real_vtable = {
    .now_ns = real_now_ns,
    .wall_ns = real_wall_ns,
    .random_u64 = real_random_u64,
    .timer_set = real_timer_set,
    .timer_cancel = real_timer_cancel,
    .listen = real_listen,
    .connect = real_connect,
    .send = real_send,
    .send_file = real_send_file,
    .send_queued = real_send_queued,
    .read_pause = real_read_pause,
    .frame_hold = real_frame_hold,
    .frame_release = real_frame_release,
    .close = real_close,
    .file_open = real_file_open,
    .file_read = real_file_read,
    .file_write = real_file_write,
    .file_sync = real_file_sync,
    .file_truncate = real_file_truncate,
    .file_close = real_file_close,
    .file_rename = real_file_rename,
    .file_remove = real_file_remove,
    .file_list = real_file_list,
    .dir_remove = real_dir_remove,
    .log = real_log,
    .observe = real_observe,
    .chance = real_chance,
};

/* SIGTERM and SIGINT arrive through a signalfd in the loop (no async handler code at all). */
static bool real_signals_setup(struct io_real *real)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) return false;
    real->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (real->signal_fd < 0) return false;
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = EPOLLIN;
    event.data.u64 = real_epoll_data(REAL_TAG_SIGNAL, 0, 0);
    return epoll_ctl(real->epoll_fd, EPOLL_CTL_ADD, real->signal_fd, &event) == 0;
}

static void real_options_defaults(struct io_real_options *options)
{
    if (options->connections_max == 0) options->connections_max = 1024;
    if (options->send_queue_bytes_max == 0) options->send_queue_bytes_max = 256ull << 20;
    if (options->connect_timeout_ms == 0) options->connect_timeout_ms = 5000;
    if (options->stop_grace_ms == 0) options->stop_grace_ms = 2000;
}

static struct io_real *real_alloc(const struct io_real_options *options)
{
    struct io_real *real = calloc(1, sizeof(*real));
    if (real == NULL) return NULL;
    real->options = *options;
    real_options_defaults(&real->options);
    real->epoll_fd = -1;
    real->signal_fd = -1;
    real->data_dir_fd = -1;
    real->conns_max = real->options.connections_max;
    real->conn_next = 1;
    real->file_next = 1;
    real->conns = calloc(real->conns_max, sizeof(*real->conns));
    real->files = calloc(REAL_FILES_MAX, sizeof(*real->files));
    real->events = calloc(REAL_EVENTS_MAX, sizeof(*real->events));
    if (real->conns == NULL || real->files == NULL || real->events == NULL) return real;
    for (u32 i = 0; i < real->conns_max; i++) real->conns[i].fd = -1;
    for (u32 i = 0; i < REAL_FILES_MAX; i++) real->files[i].fd = -1;
    real->io = (struct io){.context = real, .vtable = &real_vtable, .node_id = options->node_id};
    real_random_seed(real);
    return real;
}

struct io_real *io_real_create(const struct io_real_options *options, char *error,
                               u32 error_size)
{
    ASSERT(error_size > 0);
    ASSERT(options->data_dir != NULL);
    error[0] = '\0';
    /* A peer that vanishes mid-write must be an EPIPE, not a dead process. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        snprintf(error, error_size, "cannot ignore SIGPIPE: %s", strerror(errno));
        return NULL;
    }
    struct io_real *real = real_alloc(options);
    if (real == NULL || real->conns == NULL || real->files == NULL || real->events == NULL) {
        snprintf(error, error_size, "out of memory");
        io_real_destroy(real);
        return NULL;
    }
    real->data_dir_fd = open(options->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (real->data_dir_fd < 0) {
        snprintf(error, error_size, "cannot open data directory %s: %s", options->data_dir,
                 strerror(errno));
        io_real_destroy(real);
        return NULL;
    }
    real->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (real->epoll_fd < 0 || (options->handle_signals && !real_signals_setup(real))) {
        snprintf(error, error_size, "cannot set up epoll or signals: %s", strerror(errno));
        io_real_destroy(real);
        return NULL;
    }
    return real;
}

void io_real_destroy(struct io_real *real)
{
    if (real == NULL) return;
    for (u32 i = 0; real->conns != NULL && i < real->conns_max; i++) {
        struct real_conn *conn = &real->conns[i];
        if (conn->state != REAL_CONN_FREE) real_conn_free(real, conn);
        free(conn->segments);
    }
    for (u32 i = 0; i < real->listener_count; i++) close(real->listeners[i].fd);
    for (u32 i = 0; real->files != NULL && i < REAL_FILES_MAX; i++) {
        if (real->files[i].fd >= 0) close(real->files[i].fd);
    }
    if (real->signal_fd >= 0) close(real->signal_fd);
    if (real->epoll_fd >= 0) close(real->epoll_fd);
    if (real->data_dir_fd >= 0) close(real->data_dir_fd);
    for (u32 i = 0; i < real->retained_count; i++) free(real->retained[i].input);
    free(real->retained);
    free(real->conns);
    free(real->files);
    free(real->events);
    free(real);
}
