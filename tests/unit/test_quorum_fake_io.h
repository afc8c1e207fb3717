/* test_quorum_fake_io.h: a small hand-driven io backend for the quorum's unit tests.
 *
 * Nothing happens by itself: sends are recorded, timers are remembered, file operations are
 * queued as completions the test delivers one by one (fake_file_next), so a test can stop the
 * world between "the vote was written" and "the vote is durable". Files keep a volatile and a
 * durable copy; fake_crash() drops what was not synced (or keeps it all, as a process crash
 * that leaves the page cache would). A rename takes effect, durably, when it completes (as a
 * rename followed by an fsync of the directory); an open handle follows its file across it.
 * Observations are recorded. */
#ifndef TEST_QUORUM_FAKE_IO_H
#define TEST_QUORUM_FAKE_IO_H

#include "../../impl/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_FILES_MAX 64
#define FAKE_FILE_BYTES (1u << 20)
#define FAKE_SENDS_MAX 256
#define FAKE_PENDING_MAX 64
#define FAKE_OBSERVATIONS_MAX 16384
#define FAKE_RENAMES_MAX 256

struct fake_file {
    char path[IO_PATH_MAX]; /* "" once unlinked (replaced by a rename). */
    u8 *bytes;   /* What reads see. */
    u32 size;
    u8 *durable; /* What survives a crash. */
    u32 durable_size;
};

struct fake_send {
    io_conn conn;
    u32 size;
    u8 *bytes; /* Whole frame, prefix included. */
};

struct fake_io {
    struct io io;
    u64 now_ns;
    u64 random_state;
    bool timer_armed[IO_TIMERS_MAX];
    u64 timer_deadline[IO_TIMERS_MAX];
    io_conn conn_next;
    struct fake_file files[FAKE_FILES_MAX];
    u32 file_count;
    struct io_completion pending[FAKE_PENDING_MAX];
    u32 pending_count;
    struct fake_send sends[FAKE_SENDS_MAX];
    u32 send_count;
    struct io_observation observations[FAKE_OBSERVATIONS_MAX];
    u32 observation_count;
    char rename_source[FAKE_RENAMES_MAX][IO_PATH_MAX];
    char rename_target[FAKE_RENAMES_MAX][IO_PATH_MAX];
    u32 rename_count;
    bool verbose;
};

static inline struct fake_io *fake_of(void *context) { return context; }

static inline u64 fake_now(void *context) { return fake_of(context)->now_ns; }
static inline u64 fake_random(void *context)
{
    struct fake_io *fake = fake_of(context);
    fake->random_state = fake->random_state * 6364136223846793005ull + 1442695040888963407ull;
    return fake->random_state >> 11;
}
static inline void fake_timer_set(void *context, u32 id, u64 deadline)
{
    fake_of(context)->timer_armed[id] = true;
    fake_of(context)->timer_deadline[id] = deadline;
}
static inline void fake_timer_cancel(void *context, u32 id)
{
    fake_of(context)->timer_armed[id] = false;
}
static inline enum io_result fake_listen(void *context, const char *endpoint, u64 tag, u32 max)
{
    (void)context, (void)endpoint, (void)tag, (void)max;
    return IO_OK;
}
static inline io_conn fake_connect(void *context, const char *endpoint, u64 tag, u32 max)
{
    (void)endpoint, (void)tag, (void)max;
    return ++fake_of(context)->conn_next;
}
static inline enum io_result fake_send(void *context, io_conn conn, const u8 *bytes, u32 size)
{
    struct fake_io *fake = fake_of(context);
    ASSERT(fake->send_count < FAKE_SENDS_MAX);
    struct fake_send *send = &fake->sends[fake->send_count++];
    send->conn = conn;
    send->size = size;
    send->bytes = malloc(size);
    memcpy(send->bytes, bytes, size);
    return IO_OK;
}
static inline enum io_result fake_send_file(void *c, io_conn conn, io_file f, u64 o, u32 s)
{
    (void)c, (void)conn, (void)f, (void)o, (void)s;
    return IO_ERR_INVALID;
}
static inline u64 fake_send_queued(void *context, io_conn conn)
{
    (void)context, (void)conn; return 0;
}
static inline void fake_read_pause(void *context, io_conn conn, bool paused)
{
    (void)context, (void)conn, (void)paused;
}
static inline void fake_close(void *context, io_conn conn) { (void)context, (void)conn; }
/* The quorum never holds frames (it decodes each one at once). */
static inline u8 *fake_frame_hold(void *context, io_conn conn, const u8 *frame, u32 size)
{
    (void)context, (void)conn, (void)frame, (void)size;
    ASSERT(false);
    return NULL;
}
static inline void fake_frame_release(void *context, io_conn conn)
{
    (void)context, (void)conn;
    ASSERT(false);
}

static inline struct fake_file *fake_file_by_path(struct fake_io *fake, const char *path,
                                                  bool create)
{
    for (u32 i = 0; i < fake->file_count; i++) {
        if (strcmp(fake->files[i].path, path) == 0) return &fake->files[i];
    }
    if (!create || path[0] == '\0') return NULL;
    ASSERT(fake->file_count < FAKE_FILES_MAX);
    struct fake_file *file = &fake->files[fake->file_count++];
    snprintf(file->path, sizeof(file->path), "%s", path);
    file->bytes = calloc(1, FAKE_FILE_BYTES);
    file->durable = calloc(1, FAKE_FILE_BYTES);
    return file;
}

static inline struct io_completion *fake_queue(struct fake_io *fake, enum io_file_op op,
                                               io_file file,
                                        u64 user_data)
{
    ASSERT(fake->pending_count < FAKE_PENDING_MAX);
    struct io_completion *c = &fake->pending[fake->pending_count++];
    memset(c, 0, sizeof(*c));
    c->op = op;
    c->result = IO_OK;
    c->file = file;
    c->user_data = user_data;
    return c;
}

static inline enum io_result fake_open(void *context, const char *path, u32 flags, u64 user_data)
{
    struct fake_io *fake = fake_of(context);
    struct fake_file *file = fake_file_by_path(fake, path, (flags & IO_OPEN_CREATE) != 0);
    if (file == NULL) return IO_ERR_NOT_FOUND;
    if (flags & IO_OPEN_TRUNCATE) { /* Durable only after a sync, like any truncation. */
        memset(file->bytes, 0, file->size);
        file->size = 0;
    }
    struct io_completion *c = fake_queue(fake, IO_FILE_OPEN, (io_file)(file - fake->files) + 1,
                                         user_data);
    c->file_size = file->size;
    return IO_OK;
}
static inline enum io_result fake_read(void *context, io_file handle, u64 offset, u8 *buffer,
                                       u32 size,
                                u64 user_data)
{
    struct fake_io *fake = fake_of(context);
    struct fake_file *file = &fake->files[handle - 1];
    u32 n = offset >= file->size ? 0 : (u32)MIN((u64)size, file->size - offset);
    memcpy(buffer, file->bytes + offset, n);
    struct io_completion *c = fake_queue(fake, IO_FILE_READ, handle, user_data);
    c->offset = offset;
    c->buffer = buffer;
    c->size = n;
    return IO_OK;
}
static inline enum io_result fake_write(void *context, io_file handle, u64 offset, const u8 *bytes,
                                 u32 size, u64 user_data)
{
    struct fake_io *fake = fake_of(context);
    struct fake_file *file = &fake->files[handle - 1];
    ASSERT(offset + size <= FAKE_FILE_BYTES);
    memcpy(file->bytes + offset, bytes, size);
    if (offset + size > file->size) file->size = (u32)(offset + size);
    struct io_completion *c = fake_queue(fake, IO_FILE_WRITE, handle, user_data);
    c->offset = offset;
    c->size = size;
    return IO_OK;
}
static inline enum io_result fake_sync(void *context, io_file handle, u64 user_data)
{
    fake_queue(fake_of(context), IO_FILE_SYNC, handle, user_data);
    return IO_OK;
}
static inline enum io_result fake_truncate(void *context, io_file handle, u64 size, u64 user_data)
{
    struct fake_io *fake = fake_of(context);
    struct fake_file *file = &fake->files[handle - 1];
    if (size < file->size) memset(file->bytes + size, 0, file->size - size);
    file->size = (u32)size;
    fake_queue(fake, IO_FILE_TRUNCATE, handle, user_data)->offset = size;
    return IO_OK;
}
static inline void fake_file_close(void *context, io_file file) { (void)context, (void)file; }
static inline enum io_result fake_rename(void *context, const char *source, const char *target,
                                        u64 user_data)
{
    struct fake_io *fake = fake_of(context);
    ASSERT(fake->rename_count < FAKE_RENAMES_MAX);
    u32 index = fake->rename_count++;
    snprintf(fake->rename_source[index], IO_PATH_MAX, "%s", source);
    snprintf(fake->rename_target[index], IO_PATH_MAX, "%s", target);
    fake_queue(fake, IO_FILE_RENAME, 0, user_data)->offset = index;
    return IO_OK;
}
static inline enum io_result fake_remove(void *c, const char *p, u64 u)
{
    (void)c, (void)p, (void)u;
    return IO_ERR_INVALID;
}
static inline enum io_result fake_list(void *c, const char *d, u8 *b, u32 s, u64 u)
{
    (void)c, (void)d, (void)b, (void)s, (void)u;
    return IO_ERR_INVALID;
}
static inline enum io_result fake_dir_remove(void *c, const char *p, u64 u)
{
    (void)c, (void)p, (void)u;
    return IO_ERR_INVALID;
}
static inline void fake_log(void *context, enum io_log_level level, const char *message)
{
    if (fake_of(context)->verbose) fprintf(stderr, "    log %d: %s\n", (int)level, message);
}
static inline void fake_observe(void *context, const struct io_observation *observation)
{
    struct fake_io *fake = fake_of(context);
    ASSERT(fake->observation_count < FAKE_OBSERVATIONS_MAX);
    fake->observations[fake->observation_count++] = *observation;
}
static inline bool fake_chance(void *context, u32 n, u32 d)
{
    (void)context, (void)n, (void)d; return false;
}

static const struct io_vtable fake_vtable = {
    .now_ns = fake_now, .wall_ns = fake_now, .random_u64 = fake_random,
    .timer_set = fake_timer_set, .timer_cancel = fake_timer_cancel, .listen = fake_listen,
    .connect = fake_connect, .send = fake_send, .send_file = fake_send_file,
    .send_queued = fake_send_queued, .read_pause = fake_read_pause, .close = fake_close,
    .frame_hold = fake_frame_hold, .frame_release = fake_frame_release,
    .file_open = fake_open, .file_read = fake_read, .file_write = fake_write,
    .file_sync = fake_sync, .file_truncate = fake_truncate, .file_close = fake_file_close,
    .file_rename = fake_rename, .file_remove = fake_remove, .file_list = fake_list,
    .dir_remove = fake_dir_remove, .log = fake_log, .observe = fake_observe, .chance = fake_chance,
};

static inline struct fake_io *fake_create(u32 node_id)
{
    struct fake_io *fake = calloc(1, sizeof(*fake));
    fake->io.context = fake;
    fake->io.vtable = &fake_vtable;
    fake->io.node_id = node_id;
    fake->now_ns = NS_PER_S;
    fake->random_state = 42 + node_id;
    fake->conn_next = 100;
    fake->verbose = getenv("FAKE_VERBOSE") != NULL;
    return fake;
}

static inline void fake_destroy(struct fake_io *fake)
{
    for (u32 i = 0; i < fake->file_count; i++) {
        free(fake->files[i].bytes);
        free(fake->files[i].durable);
    }
    for (u32 i = 0; i < fake->send_count; i++) free(fake->sends[i].bytes);
    free(fake);
}

/* Pops the oldest pending completion; a SYNC makes its file durable as it completes, a RENAME
 * moves the name (replacing the target's file) as it completes. */
static inline bool fake_file_next(struct fake_io *fake, struct io_completion *completion)
{
    if (fake->pending_count == 0) return false;
    *completion = fake->pending[0];
    memmove(fake->pending, fake->pending + 1, sizeof(fake->pending[0]) * --fake->pending_count);
    if (completion->op == IO_FILE_SYNC) {
        /* Beyond both sizes both images are zero, so copying that far is enough. */
        struct fake_file *file = &fake->files[completion->file - 1];
        memcpy(file->durable, file->bytes, MAX(file->size, file->durable_size));
        file->durable_size = file->size;
    }
    if (completion->op == IO_FILE_RENAME) {
        u32 index = (u32)completion->offset;
        struct fake_file *source = fake_file_by_path(fake, fake->rename_source[index], false);
        if (source == NULL) {
            completion->result = IO_ERR_NOT_FOUND;
        } else {
            struct fake_file *target = fake_file_by_path(fake, fake->rename_target[index], false);
            if (target != NULL && target != source) target->path[0] = '\0';
            snprintf(source->path, sizeof(source->path), "%s", fake->rename_target[index]);
        }
        completion->offset = 0;
    }
    return true;
}

/* The process crashed: operations in flight are forgotten, each file keeps what was synced
 * (keep_unsynced: everything written, as when only the process died). Names stay as the
 * completed renames left them. */
static inline void fake_crash(struct fake_io *fake, bool keep_unsynced)
{
    fake->pending_count = 0;
    for (u32 i = 0; i < fake->file_count; i++) {
        struct fake_file *file = &fake->files[i];
        u32 extent = MAX(file->size, file->durable_size);
        if (keep_unsynced) {
            memcpy(file->durable, file->bytes, extent);
            file->durable_size = file->size;
        } else {
            memcpy(file->bytes, file->durable, extent);
            file->size = file->durable_size;
        }
    }
}

/* Writes bytes as the durable content of path (a disk image from before the process). */
static inline void fake_file_preset(struct fake_io *fake, const char *path, const u8 *bytes,
                                    u32 size)
{
    struct fake_file *file = fake_file_by_path(fake, path, true);
    memcpy(file->bytes, bytes, size);
    memcpy(file->durable, bytes, size);
    file->size = size;
    file->durable_size = size;
}

static inline u32 fake_count_observations(const struct fake_io *fake, u32 kind)
{
    u32 count = 0;
    for (u32 i = 0; i < fake->observation_count; i++) count += fake->observations[i].kind == kind;
    return count;
}

static inline const struct io_observation *fake_last_observation(const struct fake_io *fake,
                                                                 u32 kind)
{
    for (u32 i = fake->observation_count; i > 0; i--) {
        if (fake->observations[i - 1].kind == kind) return &fake->observations[i - 1];
    }
    return NULL;
}

#endif
