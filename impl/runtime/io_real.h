/* io_real.h: the production backend of io.h (Linux: epoll, TCP, files, signals).
 *
 * One struct io_real drives one process (a broker node, a client tool, a unit test): it owns the
 * sockets, the open files, the timers and a queue of completions, and delivers every event to
 * the bound io_handler from io_real_run() / io_real_run_once() only, never from inside a call
 * into io (io.h's rule). File operations run synchronously at call time (pread, pwrite,
 * fdatasync) and complete later from the loop; sends are queued per connection and flushed with
 * writev and sendfile(2) before the loop sleeps.
 *
 * Limits (connections, queued bytes per connection, completions in flight) are set at creation;
 * exhausting one makes a call return IO_ERR_LIMIT (or io_connect return 0), never grows memory
 * without bound.
 *
 * May depend on: impl/io.h, model/history.h (observation names for log lines), Linux. */
#ifndef IO_REAL_H
#define IO_REAL_H

#include "../io.h"

struct io_real_options {
    const char *data_dir;        /* Files are relative to it; it must exist. */
    u32 node_id;                 /* Log prefix only. */
    u32 connections_max;         /* 0: 1024. */
    u64 send_queue_bytes_max;    /* Per connection; 0: 256 MiB. */
    u64 connect_timeout_ms;      /* 0: 5000. */
    u64 stop_grace_ms;           /* After on_stop, flush for at most this long; 0: 2000. */
    enum io_log_level log_level; /* Log lines below this level are dropped. */
    bool handle_signals;         /* SIGTERM/SIGINT request a graceful stop (processes only). */
    bool listen_failure_fatal;   /* A listen that fails ends the loop (io_real_run returns 1),
                                  * as Kafka exits when it cannot bind its listeners. */
    /* Optional: called with every observation (the client tool prints outcomes with it). */
    void (*observer)(void *context, const struct io_observation *observation);
    void *observer_context;
};

struct io_real;

/* Returns NULL and a reason in error when the data directory, epoll or memory cannot be had. */
struct io_real *io_real_create(const struct io_real_options *options, char *error,
                               u32 error_size);
void io_real_destroy(struct io_real *real);

/* The io every state machine of this process acts through. */
struct io *io_real_io(struct io_real *real);

/* Binds the process whose handler receives the events. Must precede running. */
void io_real_bind(struct io_real *real, const struct io_handler_vtable *handler, void *process);

/* Calls on_start, then runs the loop until a stop completes: on SIGTERM/SIGINT or
 * io_real_stop(graceful) it calls on_stop, keeps running until every send queue is flushed or
 * the grace period ends, and returns 0. Returns 1 if the loop itself failed (epoll broken). */
int io_real_run(struct io_real *real);

/* One loop iteration, waiting at most timeout_ms for the world (tests drive the loop with it).
 * on_start is the caller's business here. */
void io_real_run_once(struct io_real *real, u64 timeout_ms);

/* Requests a stop from outside the handler's calls or from inside them (it only sets a flag):
 * graceful means on_stop then flush, like SIGTERM; otherwise the loop returns at once. */
void io_real_stop(struct io_real *real, bool graceful);

/* True once the loop has finished (io_real_run returned or would return). */
bool io_real_finished(const struct io_real *real);
/* True when the loop ended because it failed (io_real_run's exit status 1). */
bool io_real_failed(const struct io_real *real);

#endif
