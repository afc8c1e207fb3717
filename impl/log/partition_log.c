/* partition_log.c: the request machinery of a partition log, its public API, and append.
 *
 * Method. Requests wait in a bounded ring and run one at a time. A running request (struct
 * log_op) issues one file operation, records the step to resume at, and returns; the completion
 * comes back through partition_log_on_file(), which checks it is the one expected (tag and
 * sequence) and resumes the step. Shared sub-machines (the batch scanner here; segment file
 * creation and removal, flush and checkpoints in log_maintenance.c; recovery in log_recovery.c)
 * end by calling log_op_continue(), which resumes the op at its phase. A request that can end
 * without I/O while the owner is inside a request call is deferred behind a directory listing,
 * so events only ever reach the owner from partition_log_on_file().
 *
 * Invariants (partition_log_invariants, after every request): segments sorted with contiguous
 * offsets (each base >= the previous segment's next offset), only the last one open for
 * appends, log start <= log end, recovery point <= log end, the epoch cache increasing in both
 * epoch and start offset, at most one file operation in flight.
 *
 * Reads and ListOffsets are in log_read.c, recovery in log_recovery.c, flush, truncation and
 * deletion in log_maintenance.c, the cleaner in log_compaction.c.
 *
 * Tested by tests/unit/test_log.c (API behaviour over an in-memory fake io), test_log_recovery.c
 * (crashes, torn writes, corruption), test_log_format.c (files decoded independently),
 * test_log_sim.c (crashes on the simulated disk). */
#include "log_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_INTERNAL_REQUESTS 8u /* Slack for the log's own flushes and checkpoints. */
#define LOG_SCAN_HEADER_READ 8192u

void log_config_defaults(struct log_config *config)
{
    memset(config, 0, sizeof(*config));
    config->segment_bytes = 1024ull * 1024 * 1024;
    config->segment_ms = 7ll * 24 * 3600 * 1000;
    config->segment_index_bytes = 10u * 1024 * 1024;
    config->index_interval_bytes = 4096;
    config->flush_messages = (u64)INT64_MAX;
    config->flush_ms = (u64)INT64_MAX;
    config->retention_ms = 7ll * 24 * 3600 * 1000;
    config->retention_bytes = -1;
    config->max_message_bytes = 1048588;
    config->segments_max = 4096;
    config->requests_max = 256;
    config->cleanup_policy = LOG_CLEANUP_DELETE;
    config->delete_retention_ms = 24ll * 3600 * 1000;
    config->cleaner_map_slots = 1u << 16;
    config->producer_id_expiration_ms = 24ll * 3600 * 1000;
    config->producers_max = 8192;
}

const char *log_result_name(enum log_result result)
{
    switch (result) {
    case LOG_OK: return "ok";
    case LOG_ERR_BUSY: return "busy";
    case LOG_ERR_INVALID_BATCH: return "invalid batch";
    case LOG_ERR_TOO_LARGE: return "batch too large";
    case LOG_ERR_OUT_OF_ORDER: return "offset out of order";
    case LOG_ERR_OUT_OF_RANGE: return "offset out of range";
    case LOG_ERR_CORRUPT: return "corrupt data";
    case LOG_ERR_LIMIT: return "limit reached";
    case LOG_ERR_IO: return "i/o error";
    case LOG_ERR_OFFLINE: return "log offline";
    case LOG_ERR_PRODUCER_FENCED: return "producer epoch fenced";
    case LOG_ERR_OUT_OF_SEQUENCE: return "producer sequence out of order";
    case LOG_ERR_PRODUCERS_FULL: return "too many producers";
    }
    return "unknown";
}

/* ===== Lifecycle ===== */

bool partition_log_init(struct partition_log *log, struct io *io,
                        const struct partition_log_params *params)
{
    const struct log_config *config = &params->config;
    ASSERT(config->segment_bytes > 0 && config->segment_bytes <= INT32_MAX);
    ASSERT(config->index_interval_bytes > 0);
    ASSERT(config->segment_index_bytes >= 4 * TIME_INDEX_ENTRY_SIZE);
    ASSERT(config->segments_max > 0 && config->requests_max > 0);
    ASSERT(params->partition >= 0);
    ASSERT(strlen(params->topic) > 0 && strlen(params->topic) < CHECKPOINT_TOPIC_MAX);
    memset(log, 0, sizeof(*log));
    log->io = io;
    log->config = *config;
    snprintf(log->topic, sizeof(log->topic), "%s", params->topic);
    log->partition = params->partition;
    int written = snprintf(log->directory, sizeof(log->directory), "%s%s%s-%d", params->root,
                           params->root[0] != '\0' ? "/" : "", params->topic, params->partition);
    ASSERT(written > 0 && (u32)written + 32 < sizeof(log->directory));
    log->io_tag = params->io_tag;
    log->on_event = params->on_event;
    log->owner = params->owner;
    log->scratch = params->scratch;
    log->scratch_size = params->scratch_size;
    log->state = LOG_STATE_CREATED;
    log->recovery_point_checkpointed = -1;
    log->log_start_checkpointed = -1;
    /* The buffer holds the largest batch recovery must validate whole, and a chunk of index
     * entries of both sizes (a multiple of 24 bytes is written at a time). */
    log->buffer_capacity = MAX(PARTITION_LOG_BUFFER_MIN,
                               config->max_message_bytes + RECORD_BATCH_LOG_OVERHEAD);
    log->buffer = malloc(log->buffer_capacity);
    log->segments = calloc(config->segments_max, sizeof(struct segment));
    log->request_capacity = config->requests_max + LOG_INTERNAL_REQUESTS;
    log->requests = calloc(log->request_capacity, sizeof(struct log_request));
    producer_state_init(&log->producers, MAX(config->producers_max, 1u));
    if (log->buffer == NULL || log->segments == NULL || log->requests == NULL) {
        partition_log_deinit(log);
        return false;
    }
    if ((config->cleanup_policy & LOG_CLEANUP_COMPACT) == 0) return true;
    /* A power of two, so the map probes with a mask. */
    ASSERT(config->cleaner_map_slots >= 16);
    ASSERT((config->cleaner_map_slots & (config->cleaner_map_slots - 1)) == 0);
    log->cleaner_map = calloc(config->cleaner_map_slots, sizeof(struct compaction_slot));
    /* First half: a rewritten batch, uncompressed; second half: the same, compressed. */
    u32 plain = MAX(log->buffer_capacity, log->scratch_size + RECORD_BATCH_HEADER_SIZE);
    log->cleaner_output_size = 2 * plain + 4096;
    log->cleaner_output = malloc(log->cleaner_output_size);
    if (log->cleaner_map == NULL || log->cleaner_output == NULL) {
        partition_log_deinit(log);
        return false;
    }
    return true;
}

void partition_log_deinit(struct partition_log *log)
{
    for (u32 i = 0; i < log->segment_count; i++) log_segment_release(log, &log->segments[i]);
    log->segment_count = 0;
    partition_log_drop(log);
}

void partition_log_drop(struct partition_log *log)
{
    for (u32 i = 0; i < log->segment_count; i++) segment_free(&log->segments[i]);
    log->segment_count = 0;
    segment_free(&log->op.cleaned);
    free(log->buffer);
    free(log->segments);
    free(log->requests);
    free(log->cleaner_map);
    free(log->cleaner_output);
    producer_state_deinit(&log->producers);
    log->cleaner_map = NULL;
    log->cleaner_output = NULL;
    log->buffer = NULL;
    log->segments = NULL;
    log->requests = NULL;
}

/* ===== File operations: one in flight, stamped with tag and sequence ===== */

static u64 log_user_data_next(struct partition_log *log, enum log_step step)
{
    ASSERT(!log->io_in_flight);
    ASSERT(log->op.active);
    log->io_sequence++;
    log->io_in_flight = true;
    log->op.step = step;
    return (u64)log->io_tag << 32 | log->io_sequence;
}

/* Undoes log_user_data_next when the backend refused the request at once. */
static bool log_issued(struct partition_log *log, enum io_result result, const char *what)
{
    if (result == IO_OK) return true;
    log->io_in_flight = false;
    log_op_fail_io(log, what, result);
    return false;
}

bool log_issue_open(struct partition_log *log, enum log_step step, const char *path, u32 flags)
{
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_open(log->io, path, flags, user_data), "open");
}

bool log_issue_read(struct partition_log *log, enum log_step step, io_file file, u64 offset,
                    u8 *buffer, u32 size)
{
    ASSERT(file != 0);
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_read(log->io, file, offset, buffer, size, user_data), "read");
}

bool log_issue_write(struct partition_log *log, enum log_step step, io_file file, u64 offset,
                     const u8 *bytes, u32 size)
{
    ASSERT(file != 0);
    ASSERT(size > 0);
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_write(log->io, file, offset, bytes, size, user_data), "write");
}

bool log_issue_sync(struct partition_log *log, enum log_step step, io_file file)
{
    ASSERT(file != 0);
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_sync(log->io, file, user_data), "sync");
}

bool log_issue_truncate(struct partition_log *log, enum log_step step, io_file file, u64 size)
{
    ASSERT(file != 0);
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_truncate(log->io, file, size, user_data), "truncate");
}

bool log_issue_rename(struct partition_log *log, enum log_step step, const char *source,
                      const char *target)
{
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_rename(log->io, source, target, user_data), "rename");
}

bool log_issue_remove(struct partition_log *log, enum log_step step, const char *path)
{
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_remove(log->io, path, user_data), "remove");
}

bool log_issue_list(struct partition_log *log, enum log_step step)
{
    u64 user_data = log_user_data_next(log, step);
    return log_issued(log, io_file_list(log->io, log->directory, log->buffer,
                                        log->buffer_capacity, user_data), "list");
}

/* ===== Requests ===== */

static void log_op_start(struct partition_log *log);

/* Delivers op.event to the owner (unless internal), then runs queued requests. */
static void log_op_deliver(struct partition_log *log)
{
    ASSERT(log->op.active);
    ASSERT(!log->io_in_flight);
    struct log_event event = log->op.event;
    bool internal = log->op.request.internal;
    /* A compaction that ended early leaves its half-written segment: drop it. */
    for (u32 kind = 0; kind < SEGMENT_FILE_KIND_COUNT; kind++) {
        if (log->op.cleaned.files[kind] != 0) io_file_close(log->io, log->op.cleaned.files[kind]);
    }
    segment_free(&log->op.cleaned);
    event.user_data = log->op.request.user_data;
    event.log_start_offset = log->log_start_offset;
    event.log_end_offset = log->segment_count > 0 ? log_end_offset(log) : -1;
    event.recovery_point = log->recovery_point;
    memset(&log->op, 0, sizeof(log->op));
    if (log->state != LOG_STATE_FAILED && log->segment_count > 0) partition_log_invariants(log);
    if (!internal && log->on_event != NULL) log->on_event(log->owner, &event);
    /* The handler may have started a request; otherwise take the next queued one. */
    while (!log->op.active && log->request_count > 0) log_op_start(log);
}

void log_op_finish(struct partition_log *log, enum log_result result)
{
    ASSERT(log->op.active);
    ASSERT(!log->io_in_flight);
    log->op.event.result = result;
    if (log->in_call) {
        /* Inside a request call: complete after a harmless listing, never re-entrantly. */
        log->op.deferred = true;
        u64 user_data = log_user_data_next(log, LOG_STEP_NOP);
        enum io_result issued = io_file_list(log->io, log->directory, log->buffer,
                                             log->buffer_capacity, user_data);
        if (issued == IO_OK) return;
        /* Not even a listing: the request call reports LOG_ERR_IO and no event follows. */
        log->io_in_flight = false;
        log->state = LOG_STATE_FAILED;
        memset(&log->op, 0, sizeof(log->op));
        return;
    }
    log_op_deliver(log);
}

void log_op_fail_io(struct partition_log *log, const char *what, enum io_result result)
{
    io_log(log->io, IO_LOG_ERROR, "log %s: %s failed: %s; taking the log offline",
           log->directory, what, io_result_name(result));
    log->state = LOG_STATE_FAILED;
    log_op_finish(log, LOG_ERR_IO);
}

bool log_enqueue_internal(struct partition_log *log, const struct log_request *request)
{
    ASSERT(request->internal);
    if (log->request_count == log->request_capacity) return false;
    u32 slot = (log->request_head + log->request_count) % log->request_capacity;
    log->requests[slot] = *request;
    log->request_count++;
    return true;
}

static void log_op_start_kind(struct partition_log *log);

static enum log_event_kind log_event_kind_of(enum log_op_kind kind)
{
    static const enum log_event_kind kinds[] = {
        [LOG_OP_NONE] = LOG_EVENT_FLUSHED,
        [LOG_OP_OPEN] = LOG_EVENT_OPENED,
        [LOG_OP_APPEND] = LOG_EVENT_APPENDED,
        [LOG_OP_READ] = LOG_EVENT_READ,
        [LOG_OP_LIST_OFFSET] = LOG_EVENT_OFFSET_FOUND,
        [LOG_OP_FLUSH] = LOG_EVENT_FLUSHED,
        [LOG_OP_TRUNCATE] = LOG_EVENT_TRUNCATED,
        [LOG_OP_DELETE_PREFIX] = LOG_EVENT_START_ADVANCED,
        [LOG_OP_EPOCH_CHECKPOINT] = LOG_EVENT_FLUSHED,
        [LOG_OP_CLOSE] = LOG_EVENT_CLOSED,
        [LOG_OP_COMPACT] = LOG_EVENT_COMPACTED,
        [LOG_OP_TRUNCATE_FULLY] = LOG_EVENT_TRUNCATED,
    };
    ASSERT((u32)kind < ARRAY_LEN(kinds));
    return kinds[kind];
}

static void log_op_start(struct partition_log *log)
{
    ASSERT(!log->op.active);
    ASSERT(log->request_count > 0);
    memset(&log->op, 0, sizeof(log->op));
    log->op.request = log->requests[log->request_head];
    log->request_head = (log->request_head + 1) % log->request_capacity;
    log->request_count--;
    log->op.active = true;
    log->op.event.kind = log_event_kind_of(log->op.request.kind);
    log->op.event.offset = -1;
    log->op.event.last_offset = -1;
    log->op.event.timestamp = -1;
    if (log->state == LOG_STATE_FAILED || log->state == LOG_STATE_CLOSED) {
        log_op_finish(log, LOG_ERR_OFFLINE);
        return;
    }
    log_op_start_kind(log);
}

/* Queues a request from the owner and starts it if the log is idle. */
static enum log_result log_submit(struct partition_log *log, const struct log_request *request)
{
    ASSERT(!request->internal);
    ASSERT(!log->in_call); /* Event handlers may submit; request calls do not nest. */
    if (log->state == LOG_STATE_FAILED || log->state == LOG_STATE_CLOSED) return LOG_ERR_OFFLINE;
    if (request->kind != LOG_OP_OPEN && log->state == LOG_STATE_CREATED) return LOG_ERR_OFFLINE;
    if (log->request_count >= log->config.requests_max) return LOG_ERR_BUSY;
    u32 slot = (log->request_head + log->request_count) % log->request_capacity;
    log->requests[slot] = *request;
    log->request_count++;
    if (log->op.active) return LOG_OK;
    log->in_call = true;
    log_op_start(log);
    log->in_call = false;
    if (!log->op.active) return LOG_ERR_IO; /* See log_op_finish: nothing ran. */
    return LOG_OK;
}

bool partition_log_owns(const struct partition_log *log, u64 user_data)
{
    return (u32)(user_data >> 32) == log->io_tag;
}

static void log_dispatch(struct partition_log *log, enum log_step step,
                         const struct io_completion *completion);

void partition_log_on_file(struct partition_log *log, const struct io_completion *completion)
{
    ASSERT(partition_log_owns(log, completion->user_data));
    ASSERT(log->io_in_flight);
    ASSERT(log->op.active);
    ASSERT((u32)completion->user_data == log->io_sequence);
    log->io_in_flight = false;
    enum log_step step = log->op.step;
    log->op.step = LOG_STEP_NONE;
    if (step == LOG_STEP_NOP) {
        ASSERT(log->op.deferred);
        log_op_deliver(log);
        return;
    }
    log_dispatch(log, step, completion);
    if (log->op.active) ASSERT(log->io_in_flight); /* Every live op waits on one operation. */
}

/* ===== Leader epoch cache ===== */

void log_epochs_assign(struct partition_log *log, i32 epoch, i64 start_offset)
{
    if (epoch < 0) return;
    /* The entry covering start_offset already names this epoch: nothing new (every append
     * of a leader's own epoch, and recovery re-reading batches the checkpoint knew). */
    u32 covering = log->epoch_count;
    while (covering > 0 && log->epochs[covering - 1].start_offset > start_offset) covering--;
    if (covering > 0 && log->epochs[covering - 1].epoch == epoch) return;
    /* Otherwise the batch is the truth and entries that contradict it go, as in Kafka's
     * assign (maybeTruncateNonMonotonicEntries): those starting after it (a checkpoint ahead
     * of what survived a crash) and those of a newer epoch (a checkpoint whose bytes were
     * damaged into other valid numbers, which recovery would else never repair: a leader
     * answering DivergingEpoch from such a cache sends followers below committed offsets). */
    while (log->epoch_count > 0) {
        const struct epoch_entry *last = &log->epochs[log->epoch_count - 1];
        if (last->start_offset <= start_offset && last->epoch <= epoch) break;
        log->epoch_count--;
        log->epochs_dirty = true;
        COVER(true);
    }
    if (log->epoch_count > 0 && log->epochs[log->epoch_count - 1].epoch == epoch) {
        /* An earlier entry of this epoch survives: the batch lies inside it. */
        struct log_request request = {.kind = LOG_OP_EPOCH_CHECKPOINT, .internal = true};
        (void)log_enqueue_internal(log, &request);
        return;
    }
    if (log->epoch_count == PARTITION_LOG_EPOCHS_MAX) {
        /* Bounded: the oldest epoch is forgotten (it can only answer ancient fetches). */
        memmove(&log->epochs[0], &log->epochs[1], sizeof(log->epochs[0]) * (log->epoch_count - 1));
        log->epoch_count--;
        COVER(true);
    }
    log->epochs[log->epoch_count].epoch = epoch;
    log->epochs[log->epoch_count].start_offset = start_offset;
    log->epoch_count++;
    log->epochs_dirty = true;
    struct log_request request = {.kind = LOG_OP_EPOCH_CHECKPOINT, .internal = true};
    (void)log_enqueue_internal(log, &request); /* If full, a later checkpoint covers it. */
}

void log_epochs_truncate_from_end(struct partition_log *log, i64 end_offset)
{
    while (log->epoch_count > 0 && log->epochs[log->epoch_count - 1].start_offset >= end_offset) {
        log->epoch_count--;
        log->epochs_dirty = true;
    }
}

void log_epochs_truncate_from_start(struct partition_log *log, i64 start_offset)
{
    /* Keep the last epoch starting at or below start_offset, moved up to it (Kafka). */
    u32 first = 0;
    while (first + 1 < log->epoch_count && log->epochs[first + 1].start_offset <= start_offset) {
        first++;
    }
    if (first > 0) {
        memmove(&log->epochs[0], &log->epochs[first],
                sizeof(log->epochs[0]) * (log->epoch_count - first));
        log->epoch_count -= first;
        log->epochs_dirty = true;
    }
    if (log->epoch_count > 0 && log->epochs[0].start_offset < start_offset) {
        log->epochs[0].start_offset = start_offset;
        log->epochs_dirty = true;
    }
}

i32 partition_log_latest_epoch(const struct partition_log *log)
{
    return log->epoch_count == 0 ? -1 : log->epochs[log->epoch_count - 1].epoch;
}

void partition_log_epoch_end_offset(const struct partition_log *log, i32 epoch, i32 *epoch_found,
                                    i64 *end_offset)
{
    *epoch_found = -1;
    *end_offset = -1;
    for (u32 i = log->epoch_count; i > 0; i--) {
        if (log->epochs[i - 1].epoch > epoch) continue;
        *epoch_found = log->epochs[i - 1].epoch;
        *end_offset = i == log->epoch_count ? log_end_offset(log) : log->epochs[i].start_offset;
        return;
    }
}

/* ===== The batch scanner ===== */

static bool log_scan_visit(struct partition_log *log, const struct record_batch_header *header,
                           const u8 *bytes, u64 batch_size);
static void log_scan_done(struct partition_log *log, enum log_scan_outcome outcome);

static void log_scan_bad(struct partition_log *log, enum batch_error error)
{
    ASSERT(error != BATCH_OK);
    log->op.scan.error = error;
    log_scan_done(log, LOG_SCAN_BAD);
}

/* Whole batches need room for the largest; headers only need a few index intervals' worth
 * (reads locate a batch from an index entry, so reading a megabyte to find it would waste). */
static u32 log_scan_read_size(const struct partition_log *log)
{
    if (log->op.scan.whole_batches) return log->buffer_capacity;
    u32 intervals = MAX(LOG_SCAN_HEADER_READ, 2 * log->config.index_interval_bytes);
    return MIN(log->buffer_capacity, intervals);
}

static void log_scan_refill(struct partition_log *log)
{
    struct log_scan *scan = &log->op.scan;
    ASSERT(scan->position < scan->limit);
    u32 size = (u32)MIN((u64)log_scan_read_size(log), scan->limit - scan->position);
    scan->buffer_position = scan->position;
    scan->buffer_size = 0;
    io_file file = log->segments[scan->segment].files[SEGMENT_FILE_LOG];
    (void)log_issue_read(log, LOG_STEP_SCAN_READ, file, scan->position, log->buffer, size);
}

/* Visits batches from scan.position until the visitor stops, the limit, a bad batch, or the
 * end of the buffered bytes (then it reads on). Each pass advances by a whole batch (>= 61
 * bytes) or forward by the visitor's jump, so the loop is bounded by limit / 61. */
static void log_scan_run(struct partition_log *log)
{
    struct log_scan *scan = &log->op.scan;
    for (;;) {
        if (scan->position >= scan->limit) {
            log_scan_done(log, LOG_SCAN_END);
            return;
        }
        u64 available = 0;
        const u8 *bytes = log->buffer;
        if (scan->position >= scan->buffer_position &&
            scan->position < scan->buffer_position + scan->buffer_size) {
            available = scan->buffer_position + scan->buffer_size - scan->position;
            bytes = log->buffer + (scan->position - scan->buffer_position);
        }
        u64 in_file = scan->limit - scan->position;
        if (in_file < RECORD_BATCH_LOG_OVERHEAD) {
            log_scan_bad(log, BATCH_INCOMPLETE);
            return;
        }
        if (available < RECORD_BATCH_LOG_OVERHEAD) {
            log_scan_refill(log);
            return;
        }
        u64 batch_size = 0;
        enum batch_error error = batch_size_peek(bytes, available, &batch_size);
        if (error != BATCH_OK) {
            log_scan_bad(log, error);
            return;
        }
        if (batch_size > in_file) {
            log_scan_bad(log, BATCH_INCOMPLETE);
            return;
        }
        u64 needed = scan->whole_batches ? batch_size : RECORD_BATCH_HEADER_SIZE;
        if (needed > log->buffer_capacity) {
            log_scan_bad(log, BATCH_INVALID);
            return;
        }
        if (available < needed) {
            log_scan_refill(log);
            return;
        }
        struct record_batch_header header;
        if (scan->whole_batches) {
            error = batch_validate(bytes, batch_size, &header);
        } else {
            /* Given only the header bytes, the decoder checks everything it can and then says
             * INCOMPLETE; the size was checked against the file above. */
            error = batch_header_decode(bytes, needed, &header);
            if (error == BATCH_INCOMPLETE && needed < batch_size) error = BATCH_OK;
        }
        if (error != BATCH_OK) {
            log_scan_bad(log, error);
            return;
        }
        u64 position = scan->position;
        if (!log_scan_visit(log, &header, bytes, batch_size)) return;
        if (scan->position == position) {
            scan->position += batch_size;
        } else {
            ASSERT(scan->position > position); /* Visitors only jump forward. */
        }
    }
}

void log_scan_start(struct partition_log *log, u32 segment, u64 position, u64 limit,
                    bool whole_batches)
{
    ASSERT(segment < log->segment_count);
    ASSERT(position <= limit);
    struct log_scan *scan = &log->op.scan;
    memset(scan, 0, sizeof(*scan));
    scan->segment = segment;
    scan->position = position;
    scan->limit = limit;
    scan->whole_batches = whole_batches;
    log_scan_run(log);
}

void log_scan_resume(struct partition_log *log, u64 position)
{
    ASSERT(position >= log->op.scan.position);
    log->op.scan.position = position;
    log_scan_run(log);
}

void log_scan_on_read(struct partition_log *log, const struct io_completion *completion)
{
    struct log_scan *scan = &log->op.scan;
    if (completion->result != IO_OK) {
        log_op_fail_io(log, "read", completion->result);
        return;
    }
    u64 requested = MIN((u64)log_scan_read_size(log), scan->limit - scan->position);
    ASSERT(completion->size <= requested);
    scan->buffer_size = completion->size;
    if (completion->size < requested) {
        /* The file is shorter than expected: what is missing is a torn tail. */
        scan->limit = scan->position + completion->size;
        COVER(true);
    }
    log_scan_run(log);
}

/* ===== Append ===== */

bool log_segment_init(const struct partition_log *log, struct segment *segment, i64 base_offset)
{
    /* A segment holds segment.bytes plus at most one batch past it (the first batch of a
     * segment is always taken), and gets at most one offset entry per index interval. */
    u64 bytes_max = log->config.segment_bytes + log->config.max_message_bytes;
    u64 entries_max = bytes_max / log->config.index_interval_bytes + 2;
    return segment_init(segment, base_offset, log->config.segment_index_bytes,
                        (u32)MIN(entries_max, (u64)UINT32_MAX));
}

struct segment *log_active_segment(struct partition_log *log)
{
    ASSERT(log->segment_count > 0);
    return &log->segments[log->segment_count - 1];
}

i64 log_end_offset(const struct partition_log *log)
{
    ASSERT(log->segment_count > 0);
    return log->segments[log->segment_count - 1].next_offset;
}

u32 log_segment_find(const struct partition_log *log, i64 offset)
{
    u32 low = 0, high = log->segment_count;
    while (low < high) {
        u32 middle = low + (high - low) / 2;
        if (log->segments[middle].base_offset <= offset) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return low == 0 ? 0 : low - 1;
}

enum { LOG_APPEND_PHASE_ROLL_SYNCED = 1, LOG_APPEND_PHASE_ROLLED, LOG_APPEND_PHASE_FLUSHED };

/* Kafka's shouldRoll: size, segment.ms (by record timestamps), a full index, or offsets that
 * no longer fit the index's 32-bit relative offsets. */
static bool log_append_needs_roll(const struct partition_log *log, const struct segment *active,
                                  const struct record_batch_header *header, i64 last_offset,
                                  u32 size)
{
    if (last_offset - active->base_offset > INT32_MAX) return true;
    if (active->size == 0) return false;
    if (active->size + size > log->config.segment_bytes) return true;
    if (segment_index_full(active)) return true;
    return active->rolling_timestamp >= 0 &&
           header->MaxTimestamp - active->rolling_timestamp > log->config.segment_ms;
}

static void log_append_write(struct partition_log *log)
{
    struct log_request *request = &log->op.request;
    struct segment *active = log_active_segment(log);
    if (request->assign_offsets) batch_set_base_offset(request->batch, log->op.event.offset);
    if (request->leader_epoch >= 0) batch_set_leader_epoch(request->batch, request->leader_epoch);
    (void)log_issue_write(log, LOG_STEP_APPEND_WRITE, active->files[SEGMENT_FILE_LOG],
                          active->size, request->batch, request->batch_size);
}

static void log_append_roll(struct partition_log *log);

static void log_append_start(struct partition_log *log)
{
    struct log_request *request = &log->op.request;
    struct record_batch_header header;
    ASSERT(batch_header_decode(request->batch, request->batch_size, &header) == BATCH_OK);
    i64 end_offset = log_end_offset(log);
    i64 base_offset = request->assign_offsets ? end_offset : header.BaseOffset;
    if (base_offset < end_offset) {
        log_op_finish(log, LOG_ERR_OUT_OF_ORDER);
        return;
    }
    if (request->assign_offsets && header.ProducerId >= 0) {
        /* Checked now, not when queued: the appends before it have been applied. */
        enum log_result checked = log_producers_check(log, &header);
        if (checked != LOG_OK || log->op.event.duplicate) {
            log_op_finish(log, checked);
            return;
        }
    }
    i64 last_offset = base_offset + header.LastOffsetDelta;
    log->op.event.offset = base_offset;
    log->op.event.last_offset = last_offset;
    struct segment *active = log_active_segment(log);
    if (!log_append_needs_roll(log, active, &header, last_offset, request->batch_size)) {
        log_append_write(log);
        return;
    }
    if (log->segment_count == log->config.segments_max) {
        log_op_finish(log, LOG_ERR_LIMIT);
        return;
    }
    /* The old segment is synced before the new one exists, so that a crash can never leave a
     * later segment after a segment whose tail was lost (a hole in the offsets). */
    log->op.phase = LOG_APPEND_PHASE_ROLL_SYNCED;
    (void)log_issue_sync(log, LOG_STEP_SYNC_CONTINUE, active->files[SEGMENT_FILE_LOG]);
}

/* The active segment is durable: close it and create the next one at the batch's offset. */
static void log_append_roll(struct partition_log *log)
{
    struct segment *active = log_active_segment(log);
    i64 base_offset = log->op.event.offset;
    active->log_synced = true;
    struct segment *next = &log->segments[log->segment_count];
    if (!log_segment_init(log, next, base_offset)) {
        log_op_finish(log, LOG_ERR_LIMIT);
        return;
    }
    segment_close_for_appends(active);
    log->segment_count++;
    /* Kafka flushes everything before a new segment once it is rolled: here the indexes of
     * the closed segment and the recovery point checkpoint. */
    struct log_request flush = {.kind = LOG_OP_FLUSH, .internal = true, .offset = base_offset};
    (void)log_enqueue_internal(log, &flush);
    log->op.segment = log->segment_count - 1;
    log->op.phase = LOG_APPEND_PHASE_ROLLED;
    log_segment_files_create(log);
}

static void log_append_on_write(struct partition_log *log, const struct io_completion *completion)
{
    struct log_request *request = &log->op.request;
    if (completion->result != IO_OK) {
        log_op_fail_io(log, "write", completion->result);
        return;
    }
    if (completion->size != request->batch_size) {
        log_op_fail_io(log, "short write", IO_ERR_IO);
        return;
    }
    struct record_batch_header header;
    ASSERT(batch_header_decode(request->batch, request->batch_size, &header) == BATCH_OK);
    ASSERT(header.BaseOffset == log->op.event.offset);
    struct segment *active = log_active_segment(log);
    segment_add_batch(active, &header, request->batch_size, log->config.index_interval_bytes);
    log_epochs_assign(log, header.PartitionLeaderEpoch, header.BaseOffset);
    log_producers_appended(log, &header);
    log->messages_since_flush += (u64)header.RecordCount;
    if (log->messages_since_flush >= log->config.flush_messages) {
        log->op.phase = LOG_APPEND_PHASE_FLUSHED;
        log_flush_start(log, log_end_offset(log), 0);
        return;
    }
    log_op_finish(log, LOG_OK);
}

static void log_append_continue(struct partition_log *log)
{
    if (log->op.phase == LOG_APPEND_PHASE_ROLL_SYNCED) {
        log_append_roll(log);
        return;
    }
    if (log->op.phase == LOG_APPEND_PHASE_ROLLED) {
        log_append_write(log);
        return;
    }
    ASSERT(log->op.phase == LOG_APPEND_PHASE_FLUSHED);
    log_op_finish(log, LOG_OK);
}

/* ===== Dispatch ===== */

static bool log_scan_visit(struct partition_log *log, const struct record_batch_header *header,
                           const u8 *bytes, u64 batch_size)
{
    if (log->op.producers_scan) return log_producers_visit(log, header);
    switch (log->op.request.kind) {
    case LOG_OP_OPEN: return log_recovery_visit(log, header, batch_size);
    case LOG_OP_READ: return log_read_visit(log, header, batch_size);
    case LOG_OP_LIST_OFFSET: return log_list_visit(log, header, bytes, batch_size);
    case LOG_OP_TRUNCATE: return log_truncate_visit(log, header, batch_size);
    case LOG_OP_COMPACT: return log_compact_visit(log, header, bytes, batch_size);
    default: ASSERT(false && "op kind without a scan");
    }
    return false;
}

static void log_scan_done(struct partition_log *log, enum log_scan_outcome outcome)
{
    if (log->op.producers_scan) {
        log_producers_scan_done(log, outcome);
        return;
    }
    switch (log->op.request.kind) {
    case LOG_OP_OPEN: log_recovery_scan_done(log, outcome); return;
    case LOG_OP_READ: log_read_scan_done(log, outcome); return;
    case LOG_OP_LIST_OFFSET: log_list_scan_done(log, outcome); return;
    case LOG_OP_TRUNCATE: log_truncate_scan_done(log, outcome); return;
    case LOG_OP_COMPACT: log_compact_scan_done(log, outcome); return;
    default: ASSERT(false && "op kind without a scan");
    }
}

static void log_op_start_kind(struct partition_log *log)
{
    switch (log->op.request.kind) {
    case LOG_OP_OPEN: log_recovery_start(log); return;
    case LOG_OP_APPEND: log_append_start(log); return;
    case LOG_OP_READ: log_read_start(log); return;
    case LOG_OP_LIST_OFFSET: log_list_start(log); return;
    case LOG_OP_FLUSH: log_flush_op_start(log); return;
    case LOG_OP_EPOCH_CHECKPOINT: log_flush_op_start(log); return;
    case LOG_OP_TRUNCATE: log_truncate_start(log); return;
    case LOG_OP_DELETE_PREFIX: log_delete_prefix_start(log); return;
    case LOG_OP_CLOSE: log_close_start(log); return;
    case LOG_OP_COMPACT: log_compact_start(log); return;
    case LOG_OP_TRUNCATE_FULLY: log_truncate_fully_start(log); return;
    case LOG_OP_NONE: break;
    }
    ASSERT(false && "unknown op kind");
}

void log_op_continue(struct partition_log *log)
{
    ASSERT(log->op.active);
    switch (log->op.request.kind) {
    case LOG_OP_OPEN: log_recovery_continue(log); return;
    case LOG_OP_APPEND: log_append_continue(log); return;
    case LOG_OP_TRUNCATE: log_truncate_continue(log); return;
    case LOG_OP_DELETE_PREFIX: log_delete_prefix_continue(log); return;
    case LOG_OP_COMPACT: log_compact_continue(log); return;
    case LOG_OP_TRUNCATE_FULLY: log_truncate_fully_continue(log); return;
    case LOG_OP_FLUSH:
    case LOG_OP_EPOCH_CHECKPOINT:
    case LOG_OP_CLOSE: log_maintenance_continue(log); return;
    default: ASSERT(false && "op kind without sub-machines");
    }
}

static void log_dispatch(struct partition_log *log, enum log_step step,
                         const struct io_completion *completion)
{
    switch (step) {
    case LOG_STEP_SCAN_READ: log_scan_on_read(log, completion); return;
    case LOG_STEP_APPEND_WRITE: log_append_on_write(log, completion); return;
    case LOG_STEP_OPEN_LIST:
    case LOG_STEP_OPEN_CHECKPOINT_OPEN:
    case LOG_STEP_OPEN_CHECKPOINT_READ:
    case LOG_STEP_OPEN_STALE_REMOVE:
    case LOG_STEP_OPEN_SEGMENT_FILE:
    case LOG_STEP_OPEN_SWAP_RENAME:
    case LOG_STEP_OPEN_CLEAN_REMOVE:
    case LOG_STEP_OPEN_INDEX_READ:
    case LOG_STEP_OPEN_SNAPSHOT_OPEN:
    case LOG_STEP_OPEN_SNAPSHOT_READ: log_recovery_on_step(log, step, completion); return;
    case LOG_STEP_COMPACT_OPEN:
    case LOG_STEP_COMPACT_WRITE:
    case LOG_STEP_COMPACT_INDEX_WRITE:
    case LOG_STEP_COMPACT_SYNC:
    case LOG_STEP_COMPACT_RENAME: log_compact_on_step(log, step, completion); return;
    default: log_maintenance_on_step(log, step, completion); return;
    }
}

/* ===== Requests from the owner ===== */

enum log_result partition_log_open(struct partition_log *log, u64 user_data)
{
    if (log->state != LOG_STATE_CREATED) return LOG_ERR_OFFLINE;
    struct log_request request = {.kind = LOG_OP_OPEN, .user_data = user_data};
    enum log_result result = log_submit(log, &request);
    if (result == LOG_OK) log->state = LOG_STATE_OPENING;
    return result;
}

enum log_result partition_log_append(struct partition_log *log, u8 *batch, u32 size,
                                     i32 leader_epoch, bool assign_offsets, u64 user_data)
{
    struct record_batch_header header;
    if (size > log->config.max_message_bytes) return LOG_ERR_TOO_LARGE;
    if (batch_validate(batch, size, &header) != BATCH_OK) return LOG_ERR_INVALID_BATCH;
    if ((u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD != size) {
        return LOG_ERR_INVALID_BATCH; /* One batch per append, nothing after it. */
    }
    if ((header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) != 0 && log->scratch != NULL) {
        u64 records_size = 0;
        enum batch_error error = batch_records_decompress(batch, size, &header, log->scratch,
                                                          log->scratch_size, &records_size);
        /* Too large to look at is accepted: the CRC held, and Kafka sets no such limit. */
        COVER(error == BATCH_INCOMPLETE);
        if (error != BATCH_OK && error != BATCH_INCOMPLETE) return LOG_ERR_INVALID_BATCH;
    }
    struct log_request request = {
        .kind = LOG_OP_APPEND, .user_data = user_data, .batch = batch, .batch_size = size,
        .leader_epoch = leader_epoch, .assign_offsets = assign_offsets,
    };
    return log_submit(log, &request);
}

enum log_result partition_log_read(struct partition_log *log, i64 offset, u32 max_bytes,
                                   i64 offset_limit, u64 user_data)
{
    struct log_request request = {
        .kind = LOG_OP_READ, .user_data = user_data, .offset = offset,
        .max_bytes = max_bytes, .offset_limit = offset_limit,
    };
    return log_submit(log, &request);
}

enum log_result partition_log_list_offset(struct partition_log *log, i64 timestamp,
                                          u64 user_data)
{
    struct log_request request = {
        .kind = LOG_OP_LIST_OFFSET, .user_data = user_data, .timestamp = timestamp,
    };
    return log_submit(log, &request);
}

enum log_result partition_log_flush(struct partition_log *log, i64 offset, u64 user_data)
{
    struct log_request request = {.kind = LOG_OP_FLUSH, .user_data = user_data, .offset = offset};
    return log_submit(log, &request);
}

enum log_result partition_log_truncate_to(struct partition_log *log, i64 offset, u64 user_data)
{
    struct log_request request = {
        .kind = LOG_OP_TRUNCATE, .user_data = user_data, .offset = offset,
    };
    return log_submit(log, &request);
}

enum log_result partition_log_truncate_fully(struct partition_log *log, i64 new_start,
                                             u64 user_data)
{
    if (new_start < 0) return LOG_ERR_OUT_OF_RANGE;
    struct log_request request = {
        .kind = LOG_OP_TRUNCATE_FULLY, .user_data = user_data, .offset = new_start,
    };
    return log_submit(log, &request);
}

enum log_result partition_log_delete_records(struct partition_log *log, i64 offset,
                                             u64 user_data)
{
    struct log_request request = {
        .kind = LOG_OP_DELETE_PREFIX, .user_data = user_data, .offset = offset,
    };
    return log_submit(log, &request);
}

enum log_result partition_log_enforce_retention(struct partition_log *log, u64 user_data)
{
    struct log_request request = {
        .kind = LOG_OP_DELETE_PREFIX, .user_data = user_data, .retention = true,
    };
    return log_submit(log, &request);
}

enum log_result partition_log_compact(struct partition_log *log, u64 user_data)
{
    ASSERT(log->config.cleanup_policy & LOG_CLEANUP_COMPACT); /* The owner's configuration. */
    struct log_request request = {.kind = LOG_OP_COMPACT, .user_data = user_data};
    return log_submit(log, &request);
}

enum log_result partition_log_close(struct partition_log *log, u64 user_data)
{
    struct log_request request = {.kind = LOG_OP_CLOSE, .user_data = user_data};
    return log_submit(log, &request);
}

void partition_log_tick(struct partition_log *log)
{
    if (log->state != LOG_STATE_OPEN || log->in_call) return;
    log_producers_expire(log);
    if (log->config.flush_ms >= (u64)INT64_MAX / NS_PER_MS) return;
    u64 now_ns = io_now_ns(log->io);
    if (now_ns - log->last_flush_ns < log->config.flush_ms * NS_PER_MS) return;
    if (log->recovery_point >= log_end_offset(log)) return;
    log->last_flush_ns = now_ns; /* Once per interval, even if the flush waits in the queue. */
    struct log_request request = {
        .kind = LOG_OP_FLUSH, .internal = true, .offset = log_end_offset(log),
    };
    if (!log_enqueue_internal(log, &request) || log->op.active) return;
    log->in_call = true;
    log_op_start(log);
    log->in_call = false;
}

/* ===== Queries ===== */

i64 partition_log_end_offset(const struct partition_log *log)
{
    return log->segment_count == 0 ? -1 : log_end_offset(log);
}

i64 partition_log_start_offset(const struct partition_log *log) { return log->log_start_offset; }

u64 partition_log_size_bytes(const struct partition_log *log)
{
    u64 size = 0;
    for (u32 i = 0; i < log->segment_count; i++) size += log->segments[i].size;
    return size;
}

void partition_log_invariants(const struct partition_log *log)
{
    ASSERT(log->segment_count > 0);
    ASSERT(log->segment_count <= log->config.segments_max);
    for (u32 i = 0; i < log->segment_count; i++) {
        const struct segment *segment = &log->segments[i];
        segment_invariants(segment);
        ASSERT(segment->size <= (u64)INT32_MAX + log->config.max_message_bytes);
        if (i + 1 < log->segment_count) {
            ASSERT(segment->closed);
            ASSERT(segment->next_offset <= log->segments[i + 1].base_offset);
        }
    }
    ASSERT(!log->segments[log->segment_count - 1].closed);
    ASSERT(log->log_start_offset >= log->segments[0].base_offset);
    ASSERT(log->log_start_offset <= log_end_offset(log));
    ASSERT(log->recovery_point <= log_end_offset(log));
    producer_state_invariants(&log->producers);
    for (u32 i = 1; i < log->epoch_count; i++) {
        ASSERT(log->epochs[i].epoch > log->epochs[i - 1].epoch);
        ASSERT(log->epochs[i].start_offset >= log->epochs[i - 1].start_offset);
    }
}

const struct producer_state *partition_log_producers(const struct partition_log *log)
{
    return &log->producers;
}
