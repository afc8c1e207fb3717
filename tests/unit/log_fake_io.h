/* log_fake_io.h: a small in-memory io backend for the partition log's unit tests.
 *
 * Files are byte arrays with two images, as in the simulator's disk model: `current` (what
 * reads see) and `durable` (what survives a crash), plus the unsynced writes and truncates
 * applied to current since the last sync, in order. A sync makes them durable. A crash keeps a
 * chosen prefix of the unsynced operations, may tear the next write at a 512-byte sector
 * boundary, drops the rest, and forgets every handle and operation in flight. Creating,
 * renaming and removing are durable at completion.
 *
 * Every operation takes effect when issued and its completion is queued; fake_io_run()
 * delivers the queue to the log until nothing is left (the log keeps at most one operation in
 * flight). Deterministic: no clock, no randomness but a seeded xorshift.
 *
 * Only the file, clock, random and log parts of io.h are implemented; the rest asserts. */
#ifndef LOG_FAKE_IO_H
#define LOG_FAKE_IO_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../impl/io.h"
#include "../../impl/log/crc32c.h"
#include "../../impl/log/partition_log.h"

#define FAKE_FILES_MAX 1024u
#define FAKE_HANDLES_MAX 16384u
#define FAKE_PENDING_MAX 2048u
#define FAKE_QUEUE_MAX 16u
#define FAKE_SECTOR 512u

struct fake_image {
    u8 *bytes;
    u64 size;
    u64 capacity;
};

struct fake_pending {
    bool truncate;
    u64 offset; /* WRITE: where; TRUNCATE: the new size. */
    u8 *bytes;
    u32 size;
};

struct fake_file {
    char path[IO_PATH_MAX];
    bool used;
    bool linked;
    struct fake_image current;
    struct fake_image durable;
    struct fake_pending *pending;
    u32 pending_count;
};

struct fake_io {
    struct io io;
    struct fake_file *files;
    u32 file_count;
    u32 *handles; /* handle - 1 -> file slot + 1; 0 = closed. */
    u32 handle_count;
    struct io_completion queue[FAKE_QUEUE_MAX];
    u32 queue_count;
    u64 now_ns;
    u64 wall_ns;
    u64 random_state;
    u64 operations;     /* Issued so far. */
    u64 fail_at;        /* Fail operations fail_at.. (1-based) with fail_result, */
    u64 fail_count;     /* this many of them (0 counts as 1). */
    enum io_result fail_result;
    bool fail_sync_reject; /* Reject at issue instead of failing the completion. */
    bool quiet;
    u64 syncs;
    u64 bytes_written;
    u64 directories_removed;
};

static inline u64 fake_random(struct fake_io *fake)
{
    u64 x = fake->random_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    fake->random_state = x;
    return x;
}

static inline void fake_image_set(struct fake_image *image, u64 offset, const u8 *bytes, u64 size)
{
    u64 end = offset + size;
    if (end > image->capacity) {
        u64 capacity = MAX(end, image->capacity * 2);
        image->bytes = realloc(image->bytes, capacity);
        ASSERT(image->bytes != NULL);
        image->capacity = capacity;
    }
    if (offset > image->size) memset(image->bytes + image->size, 0, offset - image->size);
    memcpy(image->bytes + offset, bytes, size);
    if (end > image->size) image->size = end;
}

static inline void fake_image_truncate(struct fake_image *image, u64 size)
{
    if (size > image->capacity) {
        image->bytes = realloc(image->bytes, size);
        ASSERT(image->bytes != NULL);
        image->capacity = size;
    }
    if (size > image->size) memset(image->bytes + image->size, 0, size - image->size);
    image->size = size;
}

static inline void fake_image_copy(struct fake_image *target, const struct fake_image *source)
{
    target->size = 0;
    if (source->size > 0) fake_image_set(target, 0, source->bytes, source->size);
    target->size = source->size;
}

static inline void fake_pending_apply(struct fake_image *image, const struct fake_pending *pending)
{
    if (pending->truncate) {
        fake_image_truncate(image, pending->offset);
    } else {
        fake_image_set(image, pending->offset, pending->bytes, pending->size);
    }
}

static inline void fake_pending_clear(struct fake_file *file)
{
    for (u32 i = 0; i < file->pending_count; i++) free(file->pending[i].bytes);
    file->pending_count = 0;
}

static inline void fake_pending_add(struct fake_file *file, bool truncate, u64 offset,
                                    const u8 *bytes,
                             u32 size)
{
    ASSERT(file->pending_count < FAKE_PENDING_MAX);
    if (file->pending == NULL) file->pending = calloc(FAKE_PENDING_MAX, sizeof(*file->pending));
    struct fake_pending *pending = &file->pending[file->pending_count++];
    pending->truncate = truncate;
    pending->offset = offset;
    pending->size = size;
    pending->bytes = NULL;
    if (size > 0) {
        pending->bytes = malloc(size);
        memcpy(pending->bytes, bytes, size);
    }
}

static inline i32 fake_find(const struct fake_io *fake, const char *path)
{
    for (u32 i = 0; i < fake->file_count; i++) {
        const struct fake_file *file = &fake->files[i];
        if (file->used && file->linked && strcmp(file->path, path) == 0) {
            return (i32)i;
        }
    }
    return -1;
}

static inline struct fake_file *fake_file_of(struct fake_io *fake, io_file handle)
{
    ASSERT(handle > 0 && handle <= fake->handle_count);
    ASSERT(fake->handles[handle - 1] != 0); /* Use of a closed handle is a bug in the log. */
    return &fake->files[fake->handles[handle - 1] - 1];
}

static inline bool fake_failing(const struct fake_io *fake, u64 operation)
{
    return fake->fail_at != 0 && operation >= fake->fail_at &&
           operation < fake->fail_at + MAX(fake->fail_count, 1);
}

static inline enum io_result fake_complete(struct fake_io *fake, struct io_completion *completion)
{
    fake->operations++;
    if (fake_failing(fake, fake->operations)) {
        if (fake->fail_sync_reject) return fake->fail_result;
        completion->result = fake->fail_result;
    }
    ASSERT(fake->queue_count < FAKE_QUEUE_MAX);
    fake->queue[fake->queue_count++] = *completion;
    return IO_OK;
}

/* ----- The vtable ----- */

static inline u64 fake_now_ns(void *context) { return ((struct fake_io *)context)->now_ns; }
static inline u64 fake_wall_ns(void *context) { return ((struct fake_io *)context)->wall_ns; }
static inline u64 fake_random_u64(void *context) { return fake_random(context); }
static inline void fake_timer_set(void *context, u32 id, u64 deadline)
{
    (void)context, (void)id, (void)deadline;
}
static inline void fake_timer_cancel(void *context, u32 id) { (void)context, (void)id; }
static inline enum io_result fake_listen(void *context, const char *e, u64 t, u32 m)
{
    (void)context, (void)e, (void)t, (void)m;
    ASSERT(false);
    return IO_ERR_INVALID;
}
static inline io_conn fake_connect(void *context, const char *e, u64 t, u32 m)
{
    (void)context, (void)e, (void)t, (void)m;
    ASSERT(false);
    return 0;
}
static inline enum io_result fake_send(void *context, io_conn c, const u8 *b, u32 s)
{
    (void)context, (void)c, (void)b, (void)s;
    ASSERT(false);
    return IO_ERR_INVALID;
}
static inline enum io_result fake_send_file(void *context, io_conn c, io_file f, u64 o, u32 s)
{
    (void)context, (void)c, (void)f, (void)o, (void)s;
    ASSERT(false);
    return IO_ERR_INVALID;
}
static inline u64 fake_send_queued(void *context, io_conn c)
{
    (void)context, (void)c;
    return 0;
}
static inline void fake_read_pause(void *context, io_conn c, bool p)
{
    (void)context, (void)c, (void)p;
}
static inline void fake_close(void *context, io_conn c) { (void)context, (void)c; }
/* Held frames, by connection: a copy, as the simulator hands (tests look at fake_held[conn]). A
 * release scribbles over the copy before freeing it, so a view used after it reads garbage. */
static u8 *fake_held[1024];

static inline u8 *fake_frame_hold(void *context, io_conn c, const u8 *frame, u32 size)
{
    (void)context;
    ASSERT(c < ARRAY_LEN(fake_held) && fake_held[c] == NULL);
    fake_held[c] = malloc(MAX(size, 1u));
    ASSERT(fake_held[c] != NULL);
    memcpy(fake_held[c], frame, size);
    return fake_held[c];
}
static inline void fake_frame_release(void *context, io_conn c)
{
    (void)context;
    ASSERT(c < ARRAY_LEN(fake_held) && fake_held[c] != NULL);
    memset(fake_held[c], 0xEE, 1);
    free(fake_held[c]);
    fake_held[c] = NULL;
}
/* The process is gone: its held frames with it. */
static inline void fake_held_drop_all(void)
{
    for (u32 c = 0; c < ARRAY_LEN(fake_held); c++) {
        free(fake_held[c]);
        fake_held[c] = NULL;
    }
}

static inline enum io_result fake_file_open(void *context, const char *path, u32 flags,
                                            u64 user_data)
{
    struct fake_io *fake = context;
    struct io_completion completion = {.op = IO_FILE_OPEN, .user_data = user_data};
    if (getenv("FAKE_TRACE")) fprintf(stderr, "open %s %u\n", path, flags);
    i32 slot = fake_find(fake, path);
    if (slot >= 0 && (flags & IO_OPEN_CREATE) && (flags & IO_OPEN_EXCLUSIVE)) {
        completion.result = IO_ERR_EXISTS;
    } else if (slot < 0 && !(flags & IO_OPEN_CREATE)) {
        completion.result = IO_ERR_NOT_FOUND;
    } else {
        if (slot < 0) {
            ASSERT(fake->file_count < FAKE_FILES_MAX);
            slot = (i32)fake->file_count++;
            struct fake_file *file = &fake->files[slot];
            memset(file, 0, sizeof(*file));
            snprintf(file->path, sizeof(file->path), "%s", path);
            file->used = true;
            file->linked = true;
        }
        struct fake_file *file = &fake->files[slot];
        if (flags & IO_OPEN_TRUNCATE) {
            fake_image_truncate(&file->current, 0);
            fake_pending_add(file, true, 0, NULL, 0);
        }
        ASSERT(fake->handle_count < FAKE_HANDLES_MAX);
        fake->handles[fake->handle_count++] = (u32)slot + 1;
        completion.file = fake->handle_count;
        completion.file_size = file->current.size;
    }
    return fake_complete(fake, &completion);
}

static inline enum io_result fake_file_read(void *context, io_file handle, u64 offset, u8 *buffer,
                                     u32 size, u64 user_data)
{
    struct fake_io *fake = context;
    struct fake_file *file = fake_file_of(fake, handle);
    struct io_completion completion = {
        .op = IO_FILE_READ, .user_data = user_data, .file = handle, .offset = offset,
        .buffer = buffer,
    };
    u64 available = offset < file->current.size ? file->current.size - offset : 0;
    completion.size = (u32)MIN((u64)size, available);
    if (completion.size > 0) memcpy(buffer, file->current.bytes + offset, completion.size);
    return fake_complete(fake, &completion);
}

static inline enum io_result fake_file_write(void *context, io_file handle, u64 offset,
                                             const u8 *bytes,
                                      u32 size, u64 user_data)
{
    struct fake_io *fake = context;
    struct fake_file *file = fake_file_of(fake, handle);
    struct io_completion completion = {
        .op = IO_FILE_WRITE, .user_data = user_data, .file = handle, .offset = offset,
        .size = size,
    };
    if (fake_failing(fake, fake->operations + 1)) return fake_complete(fake, &completion);
    fake_image_set(&file->current, offset, bytes, size);
    fake_pending_add(file, false, offset, bytes, size);
    fake->bytes_written += size;
    return fake_complete(fake, &completion);
}

static inline enum io_result fake_file_sync(void *context, io_file handle, u64 user_data)
{
    struct fake_io *fake = context;
    struct fake_file *file = fake_file_of(fake, handle);
    struct io_completion completion = {.op = IO_FILE_SYNC, .user_data = user_data, .file = handle};
    fake_image_copy(&file->durable, &file->current);
    fake_pending_clear(file);
    fake->syncs++;
    return fake_complete(fake, &completion);
}

static inline enum io_result fake_file_truncate(void *context, io_file handle, u64 size,
                                                u64 user_data)
{
    struct fake_io *fake = context;
    struct fake_file *file = fake_file_of(fake, handle);
    struct io_completion completion = {
        .op = IO_FILE_TRUNCATE, .user_data = user_data, .file = handle, .offset = size,
    };
    fake_image_truncate(&file->current, size);
    fake_pending_add(file, true, size, NULL, 0);
    return fake_complete(fake, &completion);
}

static inline void fake_file_close(void *context, io_file handle)
{
    struct fake_io *fake = context;
    ASSERT(handle > 0 && handle <= fake->handle_count);
    ASSERT(fake->handles[handle - 1] != 0); /* Double close is a bug. */
    fake->handles[handle - 1] = 0;
}

static inline enum io_result fake_file_rename(void *context, const char *source, const char *target,
                                       u64 user_data)
{
    struct fake_io *fake = context;
    struct io_completion completion = {.op = IO_FILE_RENAME, .user_data = user_data};
    i32 from = fake_find(fake, source);
    if (from < 0) {
        completion.result = IO_ERR_NOT_FOUND;
    } else {
        i32 to = fake_find(fake, target);
        if (to >= 0) fake->files[to].linked = false;
        snprintf(fake->files[from].path, IO_PATH_MAX, "%s", target);
    }
    return fake_complete(fake, &completion);
}

static inline enum io_result fake_file_remove(void *context, const char *path, u64 user_data)
{
    struct fake_io *fake = context;
    struct io_completion completion = {.op = IO_FILE_REMOVE, .user_data = user_data};
    i32 slot = fake_find(fake, path);
    if (slot < 0) {
        completion.result = IO_ERR_NOT_FOUND;
    } else {
        fake->files[slot].linked = false;
    }
    return fake_complete(fake, &completion);
}

/* Directories are implied by file paths, as on the simulator's disk. */
static inline enum io_result fake_dir_remove(void *context, const char *path, u64 user_data)
{
    struct fake_io *fake = context;
    struct io_completion completion = {.op = IO_DIR_REMOVE, .user_data = user_data};
    size_t length = strlen(path);
    for (u32 i = 0; i < fake->file_count && length > 0; i++) {
        const struct fake_file *file = &fake->files[i];
        if (!file->used || !file->linked) continue;
        if (strncmp(file->path, path, length) == 0 && file->path[length] == '/') {
            completion.result = IO_ERR_NOT_EMPTY;
        }
    }
    if (length == 0) completion.result = IO_ERR_INVALID;
    if (completion.result == IO_OK) fake->directories_removed++;
    return fake_complete(fake, &completion);
}

/* Names in reverse creation order, so the log cannot rely on sorted listings. */
static inline enum io_result fake_file_list(void *context, const char *directory, u8 *buffer,
                                            u32 size,
                                     u64 user_data)
{
    struct fake_io *fake = context;
    struct io_completion completion = {
        .op = IO_FILE_LIST, .user_data = user_data, .buffer = buffer,
    };
    size_t prefix = strlen(directory);
    bool any = false;
    for (u32 i = fake->file_count; i > 0; i--) {
        const struct fake_file *file = &fake->files[i - 1];
        if (!file->used || !file->linked) continue;
        if (strncmp(file->path, directory, prefix) != 0 || file->path[prefix] != '/') continue;
        const char *name = file->path + prefix + 1;
        if (strchr(name, '/') != NULL) continue;
        any = true;
        u32 length = (u32)strlen(name) + 1;
        if (completion.size + length > size) {
            completion.result = IO_ERR_LIMIT;
            break;
        }
        memcpy(buffer + completion.size, name, length);
        completion.size += length;
        completion.count++;
    }
    if (!any && completion.result == IO_OK) completion.result = IO_ERR_NOT_FOUND;
    return fake_complete(fake, &completion);
}

static inline void fake_log(void *context, enum io_log_level level, const char *message)
{
    struct fake_io *fake = context;
    if (!fake->quiet && level >= IO_LOG_WARN) fprintf(stderr, "    [log] %s\n", message);
}
static inline void fake_observe(void *context, const struct io_observation *o)
{
    (void)context, (void)o;
}
static inline bool fake_chance(void *context, u32 n, u32 d)
{
    (void)context, (void)n, (void)d;
    return false;
}

static const struct io_vtable fake_vtable = {
    .now_ns = fake_now_ns, .wall_ns = fake_wall_ns, .random_u64 = fake_random_u64,
    .timer_set = fake_timer_set, .timer_cancel = fake_timer_cancel, .listen = fake_listen,
    .connect = fake_connect, .send = fake_send, .send_file = fake_send_file,
    .send_queued = fake_send_queued, .read_pause = fake_read_pause, .close = fake_close,
    .frame_hold = fake_frame_hold, .frame_release = fake_frame_release,
    .file_open = fake_file_open, .file_read = fake_file_read, .file_write = fake_file_write,
    .file_sync = fake_file_sync, .file_truncate = fake_file_truncate,
    .file_close = fake_file_close, .file_rename = fake_file_rename,
    .file_remove = fake_file_remove, .file_list = fake_file_list,
    .dir_remove = fake_dir_remove, .log = fake_log,
    .observe = fake_observe, .chance = fake_chance,
};

static inline struct fake_io *fake_io_create(u64 seed)
{
    struct fake_io *fake = calloc(1, sizeof(*fake));
    ASSERT(fake != NULL);
    fake->files = calloc(FAKE_FILES_MAX, sizeof(struct fake_file));
    fake->handles = calloc(FAKE_HANDLES_MAX, sizeof(u32));
    fake->io.context = fake;
    fake->io.vtable = &fake_vtable;
    fake->random_state = seed * 0x9E3779B97F4A7C15ull + 1;
    fake->now_ns = 1000 * NS_PER_S;
    fake->wall_ns = 1700000000ull * NS_PER_S;
    fake->quiet = true;
    return fake;
}

static inline void fake_io_destroy(struct fake_io *fake)
{
    for (u32 i = 0; i < fake->file_count; i++) {
        fake_pending_clear(&fake->files[i]);
        free(fake->files[i].pending);
        free(fake->files[i].current.bytes);
        free(fake->files[i].durable.bytes);
    }
    free(fake->files);
    free(fake->handles);
    free(fake);
}

/* Delivers queued completions to the log until none is left. */
static inline void fake_io_run(struct fake_io *fake, struct partition_log *log)
{
    for (u32 guard = 0; fake->queue_count > 0; guard++) {
        ASSERT(guard < 10000000u);
        struct io_completion completion = fake->queue[0];
        memmove(&fake->queue[0], &fake->queue[1], sizeof(fake->queue[0]) * (fake->queue_count - 1));
        fake->queue_count--;
        partition_log_on_file(log, &completion);
    }
}

/* The process dies: completions in flight vanish, handles close, and each file keeps its
 * durable image plus a random prefix of its unsynced operations, the next write maybe torn at
 * a sector boundary (tear = false: drop every unsynced byte). */
static inline void fake_io_crash(struct fake_io *fake, bool keep_some)
{
    fake->queue_count = 0;
    memset(fake->handles, 0, sizeof(u32) * fake->handle_count);
    for (u32 i = 0; i < fake->file_count; i++) {
        struct fake_file *file = &fake->files[i];
        if (!file->used) continue;
        u32 keep = keep_some ? (u32)(fake_random(fake) % (file->pending_count + 1)) : 0;
        for (u32 p = 0; p < keep; p++) fake_pending_apply(&file->durable, &file->pending[p]);
        if (keep_some && keep < file->pending_count && !file->pending[keep].truncate &&
            fake_random(fake) % 2 == 0) {
            /* Tear: only whole sectors before a boundary inside the write reach the disk. */
            const struct fake_pending *torn = &file->pending[keep];
            u64 end = torn->offset + torn->size;
            u64 boundary = (torn->offset / FAKE_SECTOR + 1 +
                            fake_random(fake) % (torn->size / FAKE_SECTOR + 1)) * FAKE_SECTOR;
            if (boundary < end) {
                fake_image_set(&file->durable, torn->offset, torn->bytes, boundary - torn->offset);
            }
        }
        fake_pending_clear(file);
        fake_image_copy(&file->current, &file->durable);
    }
}

/* ----- Test helpers ----- */

static inline struct fake_file *fake_io_file(struct fake_io *fake, const char *path)
{
    i32 slot = fake_find(fake, path);
    return slot < 0 ? NULL : &fake->files[slot];
}

/* Flips one bit in both images of a file (bit rot). */
static inline void fake_io_flip(struct fake_io *fake, const char *path, u64 offset)
{
    struct fake_file *file = fake_io_file(fake, path);
    ASSERT(file != NULL);
    ASSERT(offset < file->current.size && offset < file->durable.size);
    file->current.bytes[offset] ^= 0x10;
    file->durable.bytes[offset] ^= 0x10;
}

/* Sets a file's size in both images (a tail cut off or garbage appended as zeros). */
static inline void fake_io_resize(struct fake_io *fake, const char *path, u64 size)
{
    struct fake_file *file = fake_io_file(fake, path);
    ASSERT(file != NULL);
    fake_image_truncate(&file->current, size);
    fake_image_truncate(&file->durable, size);
}

static inline void fake_io_unlink(struct fake_io *fake, const char *path)
{
    struct fake_file *file = fake_io_file(fake, path);
    ASSERT(file != NULL);
    file->linked = false;
}

/* ===== A harness: one partition log over a fake io, and batch builders ===== */

#define HARNESS_EVENTS_MAX 4096u

struct log_harness {
    struct fake_io *fake;
    struct partition_log log;
    struct log_config config;
    struct log_event events[HARNESS_EVENTS_MAX];
    u32 event_count;
    bool initialised;
};

static inline void harness_on_event(void *owner, const struct log_event *event)
{
    struct log_harness *harness = owner;
    ASSERT(harness->event_count < HARNESS_EVENTS_MAX);
    harness->events[harness->event_count++] = *event;
}

/* Small segments and indexes by default, so tests roll and index often. */
static inline void harness_config(struct log_config *config)
{
    log_config_defaults(config);
    config->segment_bytes = 16 * 1024;
    config->segment_index_bytes = 4096;
    config->index_interval_bytes = 1024;
    config->max_message_bytes = 64 * 1024;
    config->segments_max = 256;
    config->requests_max = 64;
}

static inline bool harness_open(struct log_harness *harness)
{
    struct partition_log_params params = {
        .topic = "t", .partition = 0, .root = "", .config = harness->config, .io_tag = 7,
        .on_event = harness_on_event, .owner = harness,
    };
    ASSERT(partition_log_init(&harness->log, &harness->fake->io, &params));
    harness->initialised = true;
    harness->event_count = 0;
    ASSERT(partition_log_open(&harness->log, 1) == LOG_OK);
    ASSERT(harness->event_count == 0); /* Never inside the call. */
    fake_io_run(harness->fake, &harness->log);
    ASSERT(harness->event_count == 1);
    ASSERT(harness->events[0].kind == LOG_EVENT_OPENED);
    return harness->events[0].result == LOG_OK;
}

static inline struct log_harness *harness_create(const struct log_config *config, u64 seed)
{
    struct log_harness *harness = calloc(1, sizeof(*harness));
    ASSERT(harness != NULL);
    harness->fake = fake_io_create(seed);
    if (config != NULL) {
        harness->config = *config;
    } else {
        harness_config(&harness->config);
    }
    ASSERT(harness_open(harness));
    return harness;
}

/* Crash (keep_some: a random prefix of unsynced operations survives, maybe torn), then
 * reopen with recovery. Returns whether the open succeeded. */
static inline bool harness_crash_reopen(struct log_harness *harness, bool keep_some)
{
    fake_io_crash(harness->fake, keep_some);
    partition_log_drop(&harness->log);
    harness->initialised = false;
    return harness_open(harness);
}

static inline void harness_destroy(struct log_harness *harness)
{
    if (harness->initialised) partition_log_deinit(&harness->log);
    fake_io_destroy(harness->fake);
    free(harness);
}

/* Runs the fake until idle; returns the single event that resulted. */
static inline struct log_event harness_wait(struct log_harness *harness)
{
    u32 before = harness->event_count;
    ASSERT(before == 0 || true);
    fake_io_run(harness->fake, &harness->log);
    ASSERT(harness->event_count == before + 1);
    return harness->events[before];
}

/* Builds a batch of count records (keys "k<tag>-<i>", values of value_size bytes derived from
 * tag and i), timestamps timestamp + i. Returns its size. */
static inline u32 harness_batch(u8 *buffer, u64 capacity, i64 timestamp, u32 count, u32 value_size,
                         u32 tag)
{
    struct batch_builder builder;
    batch_builder_init(&builder, buffer, capacity, 0, timestamp);
    u8 value[4096];
    ASSERT(value_size <= sizeof(value));
    for (u32 i = 0; i < count; i++) {
        char key[32];
        int key_length = snprintf(key, sizeof(key), "k%06u-%06u", tag, i);
        for (u32 b = 0; b < value_size; b++) value[b] = (u8)(tag * 31 + i * 7 + b);
        batch_builder_add(&builder, timestamp + i, (const u8 *)key, key_length, value,
                          (i32)value_size, NULL, 0);
    }
    u64 size = batch_builder_finish(&builder);
    ASSERT(size > 0);
    return (u32)size;
}

static inline struct log_event harness_append(struct log_harness *harness, u8 *batch, u32 size)
{
    ASSERT(partition_log_append(&harness->log, batch, size, -1, true, 2) == LOG_OK);
    struct log_event event = harness_wait(harness);
    ASSERT(event.kind == LOG_EVENT_APPENDED);
    return event;
}

static inline struct log_event harness_read(struct log_harness *harness, i64 offset, u32 max_bytes,
                                     i64 limit)
{
    ASSERT(partition_log_read(&harness->log, offset, max_bytes, limit, 3) == LOG_OK);
    struct log_event event = harness_wait(harness);
    ASSERT(event.kind == LOG_EVENT_READ);
    return event;
}

/* The bytes of a read range, from the fake file behind its handle. */
static inline const u8 *harness_range_bytes(struct log_harness *harness,
                                            const struct log_range *range)
{
    struct fake_file *file = fake_file_of(harness->fake, range->file);
    ASSERT(range->position + range->size <= file->current.size);
    return file->current.bytes + range->position;
}

static inline char *harness_path(char *path, i64 base, const char *suffix)
{
    snprintf(path, IO_PATH_MAX, "t-0/%020lld%s", (long long)base, suffix);
    return path;
}

#endif
