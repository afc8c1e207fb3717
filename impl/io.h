/* io.h: the only door between the broker's logic and the world.
 *
 * Everything in impl/ that decides anything is a state machine. It receives events through an
 * io_handler (start, timer fired, connection event, frame received, file operation completed,
 * stop requested) and acts only through the calls below (read the clocks, arm a timer, send
 * bytes, start a file operation, draw a random number, log, report an observation).
 *
 * Two backends implement this interface, chosen when a process is created:
 *   - sim/io_sim.c: the deterministic simulator (virtual time, simulated network, disk, clock);
 *   - impl/runtime/io_real.c: epoll sockets, real files with fsync, sendfile, the real clocks.
 * One struct io exists per process, so the simulator can host a whole cluster in one address
 * space and a crash is "drop the process's memory, keep its disk".
 *
 * Rules every backend keeps (the simulator checks them, the real runtime honours them):
 *   - No callback runs inside a call into io: every completion, frame and connection event is
 *     delivered later, from the event loop. State machines never see re-entrancy.
 *   - Events on one connection arrive in order; file completions arrive in any order (a disk
 *     may reorder), but a sync completes only after every write issued before it on that file.
 *   - After io_conn_close() or a CLOSED event, no further event arrives for that connection.
 *   - A request call that returns anything but IO_OK was rejected at once and produces no
 *     completion; one that returns IO_OK produces exactly one completion (unless the process
 *     crashes first: a crash forgets everything in flight).
 *   - Handles (io_conn, io_file) are never 0; 0 means "none". A handle is not reused while the
 *     process lives (the backends count upwards), so a stale handle is detectably stale.
 *
 * May depend on: base.h. */
#ifndef IO_H
#define IO_H

#include "base.h"

#include <stdarg.h>

typedef u32 io_conn;
typedef u32 io_file;

/* Operating errors (the world misbehaving), never bugs. */
enum io_result {
    IO_OK = 0,
    IO_ERR_NOT_FOUND,    /* File or directory does not exist. */
    IO_ERR_EXISTS,       /* Exclusive create of an existing file. */
    IO_ERR_IO,           /* Read or write error reported by the device. */
    IO_ERR_NO_SPACE,     /* Disk full. */
    IO_ERR_INVALID,      /* Bad argument from the world (bad endpoint, bad path). */
    IO_ERR_LIMIT,        /* A bounded resource is exhausted (handles, buffers): back off. */
    IO_ERR_CLOSED,       /* The connection is closed. */
    IO_ERR_NOT_EMPTY,    /* A directory to remove still holds files. */
};

const char *io_result_name(enum io_result result);

/* ===== Connections ===== */

enum io_conn_event {
    IO_CONN_ACCEPTED,  /* A peer connected to one of our listeners; tag = listener tag. */
    IO_CONN_CONNECTED, /* An outgoing io_conn_connect() succeeded; tag = its user tag. */
    IO_CONN_CLOSED,    /* Refused, reset, timed out, closed by the peer, or frame too large. */
};

enum io_close_reason {
    IO_CLOSE_NONE = 0,
    IO_CLOSE_REFUSED,     /* Nobody listens at the endpoint (or the host is down). */
    IO_CLOSE_RESET,       /* The peer closed or crashed. */
    IO_CLOSE_TIMEOUT,     /* The network stalled longer than the connection timeout. */
    IO_CLOSE_FRAME_LIMIT, /* The peer sent a frame larger than the listener's limit. */
};

/* A message on a connection is a frame: a 4-byte big-endian length, then that many bytes (the
 * Kafka framing). Senders write the length prefix themselves (so a response can be assembled
 * from memory and file ranges); receivers get whole frames without the prefix. */
#define IO_FRAME_PREFIX_SIZE 4u

/* ===== Files ===== */

enum io_file_op {
    IO_FILE_OPEN,     /* Completion carries the handle and the file size. */
    IO_FILE_READ,     /* Completion carries bytes read (short at end of file). */
    IO_FILE_WRITE,    /* pwrite at an offset; completion carries bytes written. */
    IO_FILE_SYNC,     /* fsync: every write completed before the sync is durable after it. */
    IO_FILE_TRUNCATE, /* Set the file size; durable only after a later sync. */
    IO_FILE_RENAME,   /* Atomic replace of the target path; durable on completion. */
    IO_FILE_REMOVE,   /* Durable on completion. */
    IO_FILE_LIST,     /* Names of the regular files directly inside a directory. */
    IO_DIR_REMOVE,    /* Removes an empty directory; durable on completion. */
};

enum io_open_flags {
    IO_OPEN_CREATE = 1u << 0,    /* Create if missing. */
    IO_OPEN_EXCLUSIVE = 1u << 1, /* With CREATE: fail with IO_ERR_EXISTS if present. */
    IO_OPEN_TRUNCATE = 1u << 2,  /* Start empty. */
};

/* Paths are relative to the process's data directory (log.dirs in production, a per-node
 * namespace in the simulator), use '/' separators, and never contain "..". Directories are
 * created implicitly by IO_OPEN_CREATE. */
#define IO_PATH_MAX 256u

struct io_completion {
    enum io_file_op op;
    enum io_result result;
    u64 user_data;       /* Echoed from the request. */
    io_file file;        /* The handle (for OPEN, the new one). */
    u64 offset;          /* For READ/WRITE: where. For TRUNCATE: the new size. */
    u8 *buffer;          /* READ: the caller's buffer. LIST: names, each ending in '\0'. */
    u32 size;            /* READ/WRITE: bytes transferred. LIST: bytes of names. */
    u32 count;           /* LIST: number of names. */
    u64 file_size;       /* OPEN: size of the file when opened. */
};

/* ===== Observations: what the checkers in model/ judge ===== */

/* A structured fact a state machine reports about itself ("I became leader of epoch 7",
 * "offset 41 is committed with checksum x"). The simulator records them into the history that
 * model/ checks; the real runtime logs them. Kinds are defined in model/history.h, the
 * vocabulary shared by impl/ (which reports) and model/ (which judges). */
struct io_observation {
    u32 kind;
    u64 a, b, c, d;
    const u8 *data; /* Optional payload, copied by the backend. */
    u32 data_size;
};

enum io_log_level { IO_LOG_DEBUG, IO_LOG_INFO, IO_LOG_WARN, IO_LOG_ERROR };

/* ===== The interface a backend implements ===== */

struct io_vtable {
    u64 (*now_ns)(void *context);  /* Monotonic: never goes backwards. */
    u64 (*wall_ns)(void *context); /* Wall clock (Unix epoch ns): may jump and drift. */
    u64 (*random_u64)(void *context);

    void (*timer_set)(void *context, u32 timer_id, u64 deadline_ns); /* Replaces an armed one. */
    void (*timer_cancel)(void *context, u32 timer_id);

    /* Endpoints are "host:port". */
    enum io_result (*listen)(void *context, const char *endpoint, u64 tag, u32 frame_size_max);
    io_conn (*connect)(void *context, const char *endpoint, u64 tag, u32 frame_size_max);
    enum io_result (*send)(void *context, io_conn conn, const u8 *bytes, u32 size);
    enum io_result (*send_file)(void *context, io_conn conn, io_file file, u64 offset, u32 size);
    u64 (*send_queued)(void *context, io_conn conn); /* Bytes accepted but not yet sent. */
    void (*read_pause)(void *context, io_conn conn, bool paused); /* Back-pressure. */
    /* Frame holding, so a request can be served from the bytes it arrived in (no copy).
     * frame_hold is called from inside on_frame, with that call's frame and size: it returns a
     * writable pointer to the same bytes, which stay valid and unmoved after on_frame returns,
     * and reading on the connection stops, until frame_release(conn). The handler may modify
     * held bytes (a broker stamps offsets into a produced batch). A held frame outlives its
     * connection: after a CLOSED event or io_close() its bytes stay valid until the release,
     * which is still owed (it then only frees them). At most one held frame per connection;
     * never fails. A crash forgets held frames with the rest of the process's memory. */
    u8 *(*frame_hold)(void *context, io_conn conn, const u8 *frame, u32 size);
    void (*frame_release)(void *context, io_conn conn);
    void (*close)(void *context, io_conn conn);

    enum io_result (*file_open)(void *context, const char *path, u32 flags, u64 user_data);
    enum io_result (*file_read)(void *context, io_file file, u64 offset, u8 *buffer, u32 size,
                                u64 user_data);
    enum io_result (*file_write)(void *context, io_file file, u64 offset, const u8 *bytes,
                                 u32 size, u64 user_data);
    enum io_result (*file_sync)(void *context, io_file file, u64 user_data);
    enum io_result (*file_truncate)(void *context, io_file file, u64 size, u64 user_data);
    void (*file_close)(void *context, io_file file); /* Immediate; no completion. */
    enum io_result (*file_rename)(void *context, const char *source, const char *target,
                                  u64 user_data);
    enum io_result (*file_remove)(void *context, const char *path, u64 user_data);
    enum io_result (*file_list)(void *context, const char *directory, u8 *buffer, u32 size,
                                u64 user_data);
    /* IO_ERR_NOT_EMPTY when files remain; IO_ERR_NOT_FOUND when there is no such directory (a
     * backend whose directories are implied by file paths, as the simulator's disk, removes
     * one without files as IO_OK). */
    enum io_result (*dir_remove)(void *context, const char *path, u64 user_data);

    void (*log)(void *context, enum io_log_level level, const char *message);
    void (*observe)(void *context, const struct io_observation *observation);
    /* The simulator's buggify hook: true with probability ratio in swarm runs that enable it;
     * always false in production. */
    bool (*chance)(void *context, u32 numerator, u32 denominator);
};

struct io {
    void *context;
    const struct io_vtable *vtable;
    u32 node_id; /* For log prefixes; informational only. */
};

/* What a process (a broker node or a simulated client) implements. The backend calls these
 * from its event loop only. */
struct io_handler_vtable {
    void (*on_start)(void *process);
    void (*on_timer)(void *process, u32 timer_id);
    void (*on_conn)(void *process, io_conn conn, enum io_conn_event event,
                    enum io_close_reason reason, u64 tag);
    void (*on_frame)(void *process, io_conn conn, const u8 *frame, u32 size);
    void (*on_file)(void *process, const struct io_completion *completion);
    void (*on_stop)(void *process); /* Graceful shutdown was requested (SIGTERM). */
};

#define IO_TIMERS_MAX 64u

/* ===== Thin inline wrappers, so call sites read as plain function calls ===== */

static inline u64 io_now_ns(const struct io *io) { return io->vtable->now_ns(io->context); }
static inline u64 io_wall_ns(const struct io *io) { return io->vtable->wall_ns(io->context); }
static inline u64 io_random_u64(const struct io *io) { return io->vtable->random_u64(io->context); }

/* A uniform draw in [0, bound), bound > 0, without modulo bias worth caring about at 64 bits. */
static inline u64 io_random_below(const struct io *io, u64 bound)
{
    ASSERT(bound > 0);
    return io_random_u64(io) % bound;
}

static inline void io_timer_set(const struct io *io, u32 timer_id, u64 deadline_ns)
{
    ASSERT(timer_id < IO_TIMERS_MAX);
    io->vtable->timer_set(io->context, timer_id, deadline_ns);
}
static inline void io_timer_cancel(const struct io *io, u32 timer_id)
{
    ASSERT(timer_id < IO_TIMERS_MAX);
    io->vtable->timer_cancel(io->context, timer_id);
}

WARN_UNUSED static inline enum io_result io_listen(const struct io *io, const char *endpoint,
                                                   u64 tag, u32 frame_size_max)
{
    return io->vtable->listen(io->context, endpoint, tag, frame_size_max);
}
/* Returns 0 when the endpoint is malformed; otherwise CONNECTED or CLOSED follows. */
static inline io_conn io_connect(const struct io *io, const char *endpoint, u64 tag,
                                 u32 frame_size_max)
{
    return io->vtable->connect(io->context, endpoint, tag, frame_size_max);
}
WARN_UNUSED static inline enum io_result io_send(const struct io *io, io_conn conn,
                                                 const u8 *bytes, u32 size)
{
    ASSERT(conn != 0);
    return io->vtable->send(io->context, conn, bytes, size);
}
WARN_UNUSED static inline enum io_result io_send_file(const struct io *io, io_conn conn,
                                                      io_file file, u64 offset, u32 size)
{
    ASSERT(conn != 0);
    ASSERT(file != 0);
    return io->vtable->send_file(io->context, conn, file, offset, size);
}
static inline u64 io_send_queued(const struct io *io, io_conn conn)
{
    return io->vtable->send_queued(io->context, conn);
}
static inline void io_read_pause(const struct io *io, io_conn conn, bool paused)
{
    io->vtable->read_pause(io->context, conn, paused);
}
WARN_UNUSED static inline u8 *io_frame_hold(const struct io *io, io_conn conn, const u8 *frame,
                                            u32 size)
{
    return io->vtable->frame_hold(io->context, conn, frame, size);
}
static inline void io_frame_release(const struct io *io, io_conn conn)
{
    io->vtable->frame_release(io->context, conn);
}
static inline void io_close(const struct io *io, io_conn conn)
{
    ASSERT(conn != 0);
    io->vtable->close(io->context, conn);
}

WARN_UNUSED static inline enum io_result io_file_open(const struct io *io, const char *path,
                                                      u32 flags, u64 user_data)
{
    return io->vtable->file_open(io->context, path, flags, user_data);
}
WARN_UNUSED static inline enum io_result io_file_read(const struct io *io, io_file file,
                                                      u64 offset, u8 *buffer, u32 size,
                                                      u64 user_data)
{
    return io->vtable->file_read(io->context, file, offset, buffer, size, user_data);
}
WARN_UNUSED static inline enum io_result io_file_write(const struct io *io, io_file file,
                                                       u64 offset, const u8 *bytes, u32 size,
                                                       u64 user_data)
{
    return io->vtable->file_write(io->context, file, offset, bytes, size, user_data);
}
WARN_UNUSED static inline enum io_result io_file_sync(const struct io *io, io_file file,
                                                      u64 user_data)
{
    return io->vtable->file_sync(io->context, file, user_data);
}
WARN_UNUSED static inline enum io_result io_file_truncate(const struct io *io, io_file file,
                                                          u64 size, u64 user_data)
{
    return io->vtable->file_truncate(io->context, file, size, user_data);
}
static inline void io_file_close(const struct io *io, io_file file)
{
    io->vtable->file_close(io->context, file);
}
WARN_UNUSED static inline enum io_result io_file_rename(const struct io *io, const char *source,
                                                        const char *target, u64 user_data)
{
    return io->vtable->file_rename(io->context, source, target, user_data);
}
WARN_UNUSED static inline enum io_result io_file_remove(const struct io *io, const char *path,
                                                        u64 user_data)
{
    return io->vtable->file_remove(io->context, path, user_data);
}
WARN_UNUSED static inline enum io_result io_file_list(const struct io *io, const char *directory,
                                                      u8 *buffer, u32 size, u64 user_data)
{
    return io->vtable->file_list(io->context, directory, buffer, size, user_data);
}
WARN_UNUSED static inline enum io_result io_dir_remove(const struct io *io, const char *path,
                                                       u64 user_data)
{
    return io->vtable->dir_remove(io->context, path, user_data);
}

static inline void io_observe(const struct io *io, const struct io_observation *observation)
{
    io->vtable->observe(io->context, observation);
}
static inline bool io_chance(const struct io *io, u32 numerator, u32 denominator)
{
    ASSERT(denominator > 0);
    return io->vtable->chance(io->context, numerator, denominator);
}

/* printf-style logging through the backend (the simulator hashes it into the trace). */
void io_log(const struct io *io, enum io_log_level level, const char *format, ...)
    PRINTF_LIKE(3, 4);

/* Splits "host:port" into its parts. Returns false on a malformed endpoint. */
WARN_UNUSED bool io_endpoint_parse(const char *endpoint, char *host, u32 host_size, u16 *port);

#endif
