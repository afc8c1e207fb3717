/* io_sim.c: the io interface of one simulated process (struct io_vtable over the world).
 *
 * Clocks read the world's virtual time and the process's clock model; randomness comes from
 * the process's own stream; connections go to the network model (net.c). File operations are
 * modelled here on top of the disk model (disk.c): each one is queued with a latency drawn from
 * [disk_latency_min_ns, disk_latency_max_ns] (times the slow-disk multiplier) and takes effect
 * when it completes, so completions may reorder, except that a sync completes only after every
 * write and truncate issued before it on that file. Reads see the current image at completion.
 *
 * Invariants: every call returning IO_OK yields exactly one completion unless the process
 * crashes first; a crash frees every operation in flight and closes every handle; calls made
 * by a process that is not alive (from its destructor, say) do nothing. Tested through the
 * unit tests' processes (tests/unit/test_sim_disk.c, test_sim_net.c, test_sim_clock.c). */
#include "world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct world_disk_op {
    struct world_disk_op *prev;
    struct world_disk_op *next;
    enum io_file_op op;
    u64 user_data;
    io_file handle;
    i32 file; /* Disk slot the op holds a reference on, or -1. */
    u64 offset;
    u32 size;
    u32 flags;
    u8 *buffer; /* READ/LIST: the caller's buffer. */
    u8 *bytes;  /* WRITE: a copy taken at issue. */
    u64 issue_seq;
    char path[IO_PATH_MAX];
    char target[IO_PATH_MAX];
};

static struct world_process *io_sim_process(void *context)
{
    struct world_process *process = context;
    ASSERT(process != NULL);
    ASSERT(process->index < process->world->process_count);
    return process;
}

/* A process may act only while its handler runs; a dead one (in its destructor) is ignored. */
static bool io_sim_acting(struct world_process *process)
{
    if (!process->alive) return false;
    ASSERT(process->world->running == process);
    return true;
}

/* ===== Clocks, randomness, timers ===== */

static u64 io_sim_now_ns(void *context) { return world_now_ns(io_sim_process(context)->world); }

static u64 io_sim_wall_ns(void *context)
{
    struct world_process *process = io_sim_process(context);
    return clock_wall_ns(&process->clock, world_now_ns(process->world));
}

static u64 io_sim_random_u64(void *context) { return prng_next(&io_sim_process(context)->random); }

static void io_sim_timer_set(void *context, u32 timer_id, u64 deadline_ns)
{
    struct world_process *process = io_sim_process(context);
    ASSERT(timer_id < IO_TIMERS_MAX);
    if (!io_sim_acting(process)) return;
    process->timer_generation[timer_id]++;
    process->timer_armed[timer_id] = true;
    u64 at = MAX(deadline_ns, world_now_ns(process->world));
    ASSERT(at >= deadline_ns);
    world_push(process->world, at, WORLD_EVENT_TIMER, process->index, timer_id,
               process->timer_generation[timer_id], 0);
}

static void io_sim_timer_cancel(void *context, u32 timer_id)
{
    struct world_process *process = io_sim_process(context);
    ASSERT(timer_id < IO_TIMERS_MAX);
    if (!io_sim_acting(process)) return;
    process->timer_generation[timer_id]++;
    process->timer_armed[timer_id] = false;
}

/* ===== Connections ===== */

static enum io_result io_sim_listen(void *context, const char *endpoint, u64 tag,
                                    u32 frame_size_max)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    return net_listen(process, endpoint, tag, frame_size_max);
}

static io_conn io_sim_connect(void *context, const char *endpoint, u64 tag, u32 frame_size_max)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return 0;
    return net_connect(process, endpoint, tag, frame_size_max);
}

static enum io_result io_sim_send(void *context, io_conn conn, const u8 *bytes, u32 size)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    return net_send(process, conn, bytes, size);
}

static bool io_sim_handle_valid(const struct world_process *process, io_file file)
{
    return file != 0 && file <= process->file_handle_count && process->files[file - 1].open;
}

/* Snapshots the file range at send time, as sendfile reads the page cache when it runs. */
static enum io_result io_sim_send_file(void *context, io_conn conn, io_file file, u64 offset,
                                       u32 size)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_handle_valid(process, file)) return IO_ERR_INVALID;
    u32 slot = process->files[file - 1].file;
    ASSERT(slot < process->disk.file_count);
    if (offset + size > disk_size(&process->disk, slot)) return IO_ERR_INVALID;
    u8 *bytes = malloc(MAX(size, 1u));
    ASSERT(bytes != NULL);
    u32 read = disk_read(&process->disk, slot, offset, bytes, size);
    ASSERT(read == size);
    enum io_result result = net_send(process, conn, bytes, size);
    free(bytes);
    return result;
}

static u64 io_sim_send_queued(void *context, io_conn conn)
{
    struct world_process *process = io_sim_process(context);
    if (!process->alive) return 0;
    return net_send_queued(process, conn);
}

static void io_sim_read_pause(void *context, io_conn conn, bool paused)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return;
    net_read_pause(process, conn, paused);
}

static u8 *io_sim_frame_hold(void *context, io_conn conn, const u8 *frame, u32 size)
{
    struct world_process *process = io_sim_process(context);
    ASSERT(io_sim_acting(process)); /* Only from inside on_frame. */
    return net_frame_hold(process, conn, frame, size);
}

static void io_sim_frame_release(void *context, io_conn conn)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return;
    net_frame_release(process, conn);
}

static void io_sim_close(void *context, io_conn conn)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return;
    net_close(process, conn);
}

/* ===== Files ===== */

static bool io_sim_path_valid(const char *path)
{
    size_t length = strlen(path);
    if (length == 0 || length >= IO_PATH_MAX) return false;
    if (path[0] == '/') return false;
    return strstr(path, "..") == NULL;
}

static struct world_disk_op *io_sim_op_new(struct world_process *process, enum io_file_op kind,
                                           u64 user_data)
{
    ASSERT(process->alive);
    struct world_disk_op *op = calloc(1, sizeof(*op));
    ASSERT(op != NULL);
    op->op = kind;
    op->user_data = user_data;
    op->file = -1;
    op->issue_seq = disk_issue_seq(&process->disk);
    op->next = process->ops;
    if (process->ops != NULL) process->ops->prev = op;
    process->ops = op;
    ASSERT(op->issue_seq > 0);
    return op;
}

static void io_sim_op_unlink(struct world_process *process, struct world_disk_op *op)
{
    ASSERT(op->prev != NULL || process->ops == op); /* The list head has no predecessor. */
    ASSERT(op->next == NULL || op->next->prev == op);
    if (op->prev != NULL) op->prev->next = op->next;
    else process->ops = op->next;
    if (op->next != NULL) op->next->prev = op->prev;
    if (op->file >= 0) disk_unref(&process->disk, (u32)op->file);
    free(op->bytes);
    free(op);
}

/* Binds the op to the file behind handle (holding a reference so a remove cannot free it). */
static void io_sim_op_bind(struct world_process *process, struct world_disk_op *op, io_file file)
{
    ASSERT(io_sim_handle_valid(process, file));
    op->handle = file;
    op->file = (i32)process->files[file - 1].file;
    disk_ref(&process->disk, (u32)op->file);
}

/* Queues the completion after the drawn latency, not before not_before_ns. Returns its time. */
static u64 io_sim_op_schedule(struct world_process *process, struct world_disk_op *op,
                              u64 not_before_ns)
{
    const struct scenario *scenario = process->world->scenario;
    u64 latency = prng_range(&process->disk_prng, scenario->disk_latency_min_ns,
                             scenario->disk_latency_max_ns);
    ASSERT(process->disk_slow_multiplier >= 1);
    if (process->disk_slow_multiplier > 1) process->disk_ops_slowed++;
    latency *= process->disk_slow_multiplier;
    u64 at = MAX(world_now_ns(process->world) + latency, not_before_ns);
    world_push(process->world, at, WORLD_EVENT_DISK, process->index, 0, (u64)(uintptr_t)op, 0);
    ASSERT(at >= world_now_ns(process->world) + scenario->disk_latency_min_ns);
    return at;
}

static enum io_result io_sim_file_open(void *context, const char *path, u32 flags, u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_path_valid(path)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_OPEN, user_data);
    snprintf(op->path, sizeof(op->path), "%s", path);
    op->flags = flags;
    io_sim_op_schedule(process, op, 0);
    return IO_OK;
}

static enum io_result io_sim_file_read(void *context, io_file file, u64 offset, u8 *buffer,
                                       u32 size, u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_handle_valid(process, file)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_READ, user_data);
    io_sim_op_bind(process, op, file);
    op->offset = offset;
    op->buffer = buffer;
    op->size = size;
    io_sim_op_schedule(process, op, 0);
    return IO_OK;
}

/* Writes and truncates: a later sync on the file must wait for them. */
static void io_sim_op_schedule_mutation(struct world_process *process, struct world_disk_op *op)
{
    u64 at = io_sim_op_schedule(process, op, 0);
    struct disk_file *file = &process->disk.files[op->file];
    file->settled_by_ns = MAX(file->settled_by_ns, at);
}

static enum io_result io_sim_file_write(void *context, io_file file, u64 offset, const u8 *bytes,
                                        u32 size, u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_handle_valid(process, file)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_WRITE, user_data);
    io_sim_op_bind(process, op, file);
    op->offset = offset;
    op->size = size;
    op->bytes = malloc(MAX(size, 1u));
    ASSERT(op->bytes != NULL);
    if (size > 0) memcpy(op->bytes, bytes, size);
    io_sim_op_schedule_mutation(process, op);
    return IO_OK;
}

static enum io_result io_sim_file_truncate(void *context, io_file file, u64 size, u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_handle_valid(process, file)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_TRUNCATE, user_data);
    io_sim_op_bind(process, op, file);
    op->offset = size;
    io_sim_op_schedule_mutation(process, op);
    return IO_OK;
}

static enum io_result io_sim_file_sync(void *context, io_file file, u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_handle_valid(process, file)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_SYNC, user_data);
    io_sim_op_bind(process, op, file);
    /* Events due at the same time fire in push order, so the sync follows the writes. */
    io_sim_op_schedule(process, op, process->disk.files[op->file].settled_by_ns);
    return IO_OK;
}

static void io_sim_file_close(void *context, io_file file)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return;
    if (!io_sim_handle_valid(process, file)) return;
    process->files[file - 1].open = false;
    disk_unref(&process->disk, process->files[file - 1].file);
}

static enum io_result io_sim_file_rename(void *context, const char *source, const char *target,
                                         u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_path_valid(source) || !io_sim_path_valid(target)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_RENAME, user_data);
    snprintf(op->path, sizeof(op->path), "%s", source);
    snprintf(op->target, sizeof(op->target), "%s", target);
    io_sim_op_schedule(process, op, 0);
    return IO_OK;
}

static enum io_result io_sim_file_remove(void *context, const char *path, u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_path_valid(path)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_REMOVE, user_data);
    snprintf(op->path, sizeof(op->path), "%s", path);
    io_sim_op_schedule(process, op, 0);
    return IO_OK;
}

static enum io_result io_sim_file_list(void *context, const char *directory, u8 *buffer, u32 size,
                                       u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (strlen(directory) >= IO_PATH_MAX || strstr(directory, "..") != NULL) {
        return IO_ERR_INVALID;
    }
    struct world_disk_op *op = io_sim_op_new(process, IO_FILE_LIST, user_data);
    snprintf(op->path, sizeof(op->path), "%s", directory);
    op->buffer = buffer;
    op->size = size;
    io_sim_op_schedule(process, op, 0);
    return IO_OK;
}

static enum io_result io_sim_dir_remove(void *context, const char *path, u64 user_data)
{
    struct world_process *process = io_sim_process(context);
    if (!io_sim_acting(process)) return IO_ERR_CLOSED;
    if (!io_sim_path_valid(path)) return IO_ERR_INVALID;
    struct world_disk_op *op = io_sim_op_new(process, IO_DIR_REMOVE, user_data);
    snprintf(op->path, sizeof(op->path), "%s", path);
    io_sim_op_schedule(process, op, 0);
    return IO_OK;
}

static io_file io_sim_handle_new(struct world_process *process, u32 slot)
{
    if (process->file_handle_count == process->file_handle_capacity) {
        u32 capacity = process->file_handle_capacity == 0 ? 16 : process->file_handle_capacity * 2;
        process->files = realloc(process->files, sizeof(*process->files) * capacity);
        ASSERT(process->files != NULL);
        process->file_handle_capacity = capacity;
    }
    process->files[process->file_handle_count].file = slot;
    process->files[process->file_handle_count].open = true;
    process->file_handle_count++;
    disk_ref(&process->disk, slot);
    ASSERT(process->file_handle_count != 0); /* Handle 0 means none. */
    ASSERT(io_sim_handle_valid(process, process->file_handle_count));
    return process->file_handle_count;
}

static enum io_result io_sim_complete_open(struct world_process *process,
                                           const struct world_disk_op *op,
                                           struct io_completion *completion)
{
    i32 slot = disk_find(&process->disk, op->path);
    if (slot < 0) {
        if ((op->flags & IO_OPEN_CREATE) == 0) return IO_ERR_NOT_FOUND;
        slot = (i32)disk_create(&process->disk, op->path);
    } else if ((op->flags & IO_OPEN_CREATE) && (op->flags & IO_OPEN_EXCLUSIVE)) {
        return IO_ERR_EXISTS;
    }
    if (op->flags & IO_OPEN_TRUNCATE) disk_truncate(&process->disk, (u32)slot, 0, op->issue_seq);
    completion->file = io_sim_handle_new(process, (u32)slot);
    completion->file_size = disk_size(&process->disk, (u32)slot);
    return IO_OK;
}

/* Applies the operation to the disk model and fills its completion. */
static enum io_result io_sim_complete(struct world_process *process,
                                      const struct world_disk_op *op,
                                      struct io_completion *completion)
{
    struct disk *disk = &process->disk;
    switch (op->op) {
    case IO_FILE_OPEN: return io_sim_complete_open(process, op, completion);
    case IO_FILE_READ:
        if (process->read_errors_pending > 0) {
            process->read_errors_pending--;
            process->world->stats.read_errors++;
            return IO_ERR_IO;
        }
        completion->size = disk_read(disk, (u32)op->file, op->offset, op->buffer, op->size);
        return IO_OK;
    case IO_FILE_WRITE:
        disk_write(disk, (u32)op->file, op->offset, op->bytes, op->size, op->issue_seq);
        completion->size = op->size;
        return IO_OK;
    case IO_FILE_SYNC: disk_sync(disk, (u32)op->file, op->issue_seq); return IO_OK;
    case IO_FILE_TRUNCATE:
        disk_truncate(disk, (u32)op->file, op->offset, op->issue_seq);
        return IO_OK;
    case IO_FILE_RENAME: return disk_rename(disk, op->path, op->target);
    case IO_FILE_REMOVE: return disk_remove(disk, op->path);
    case IO_DIR_REMOVE: return disk_remove_directory(disk, op->path);
    case IO_FILE_LIST:
        return disk_list(disk, op->path, op->buffer, op->size, &completion->size,
                         &completion->count);
    }
    ASSERT(false);
    return IO_ERR_INVALID;
}

void io_sim_on_disk_event(struct world_process *process, const struct sched_event *event)
{
    ASSERT(process->alive);
    ASSERT(event->incarnation == process->incarnation); /* Else the op was freed by a crash. */
    struct world_disk_op *op = (struct world_disk_op *)(uintptr_t)event->a;
    ASSERT(op != NULL);
    struct io_completion completion = {0};
    completion.op = op->op;
    completion.user_data = op->user_data;
    completion.file = op->handle;
    completion.offset = op->offset;
    completion.buffer = op->buffer;
    completion.result = io_sim_complete(process, op, &completion);
    io_sim_op_unlink(process, op);
    world_trace(process->world, TRACE_DISK, process->index, completion.op, completion.result,
                completion.size, NULL);
    process->world->running = process;
    process->handler->on_file(process->instance, &completion);
    process->world->running = NULL;
}

void io_sim_crash_disk(struct world_process *process)
{
    for (u32 guard = 0; process->ops != NULL; guard++) {
        ASSERT(guard < UINT32_MAX);
        io_sim_op_unlink(process, process->ops);
    }
    for (u32 i = 0; i < process->file_handle_count; i++) {
        if (!process->files[i].open) continue;
        process->files[i].open = false;
        disk_unref(&process->disk, process->files[i].file);
    }
    /* Pending read errors are latent sector errors: they stay with the disk across a crash. */
    ASSERT(process->ops == NULL);
}

/* ===== Log, observations, buggify ===== */

static void io_sim_log(void *context, enum io_log_level level, const char *message)
{
    struct world_process *process = io_sim_process(context);
    if (!process->alive) return;
    world_trace(process->world, TRACE_LOG, process->index, level, 0, 0, message);
}

static void io_sim_observe(void *context, const struct io_observation *observation)
{
    struct world_process *process = io_sim_process(context);
    if (!process->alive) return;
    struct world *world = process->world;
    /* Every field is folded into the hashed words; the readable note is only for the text. */
    u64 data_hash = observation->data_size > 0
                        ? trace_hash_bytes(observation->data, observation->data_size)
                        : 0;
    u64 folded = prng_mix64(prng_mix64(prng_mix64(observation->b) ^ observation->c) ^
                            observation->d) ^ data_hash;
    char note[160];
    note[0] = '\0';
    if (trace_wants_text(&world->trace)) {
        snprintf(note, sizeof(note), "kind=%u a=%llu b=%llu c=%llu d=%llu data=%u",
                 observation->kind, (unsigned long long)observation->a,
                 (unsigned long long)observation->b, (unsigned long long)observation->c,
                 (unsigned long long)observation->d, observation->data_size);
    }
    trace_record_note(&world->trace, world_now_ns(world), TRACE_OBSERVE, process->index,
                      observation->kind, observation->a, folded, note);
    if (world->observer == NULL) return;
    struct history_event event = {0};
    event.time_ns = world_now_ns(world);
    event.node = process->id;
    event.kind = observation->kind;
    event.a = observation->a;
    event.b = observation->b;
    event.c = observation->c;
    event.d = observation->d;
    event.data_size = observation->data_size;
    world->observer(world->observer_context, &event, observation->data);
}

static bool io_sim_chance(void *context, u32 numerator, u32 denominator)
{
    struct world_process *process = io_sim_process(context);
    ASSERT(denominator > 0);
    if (!process->world->buggify) return false;
    return prng_chance(&process->buggify, MIN(numerator, denominator), denominator);
}

const struct io_vtable io_sim_vtable = {
    .now_ns = io_sim_now_ns,
    .wall_ns = io_sim_wall_ns,
    .random_u64 = io_sim_random_u64,
    .timer_set = io_sim_timer_set,
    .timer_cancel = io_sim_timer_cancel,
    .listen = io_sim_listen,
    .connect = io_sim_connect,
    .send = io_sim_send,
    .send_file = io_sim_send_file,
    .send_queued = io_sim_send_queued,
    .read_pause = io_sim_read_pause,
    .frame_hold = io_sim_frame_hold,
    .frame_release = io_sim_frame_release,
    .close = io_sim_close,
    .file_open = io_sim_file_open,
    .file_read = io_sim_file_read,
    .file_write = io_sim_file_write,
    .file_sync = io_sim_file_sync,
    .file_truncate = io_sim_file_truncate,
    .file_close = io_sim_file_close,
    .file_rename = io_sim_file_rename,
    .file_remove = io_sim_file_remove,
    .dir_remove = io_sim_dir_remove,
    .file_list = io_sim_file_list,
    .log = io_sim_log,
    .observe = io_sim_observe,
    .chance = io_sim_chance,
};
