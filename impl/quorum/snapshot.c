/* snapshot.c: the snapshot file's codec, its recovery and its crash-safe replacement (see
 * snapshot.h for the format and the reasons).
 *
 * Invariants: at most one operation in flight; current always holds a validated image (or
 * nothing); scratch is not touched by anyone while writing; current changes only when the
 * rename of a synced tmp file completes.
 *
 * Tested by tests/unit/test_quorum_snapshot.c (codec round trip and every corruption caught,
 * write and recovery over the fake io, a crash at every step keeps the old or the new snapshot)
 * and by the simulator's snapshot scenarios. */
#include "snapshot.h"

#include "../log/crc32c.h"

#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_MAGIC 0x4b51534eu /* "KQSN" */
#define SNAPSHOT_VERSION 1u

u32 quorum_snapshot_encode(u8 *image, const struct quorum_snapshot_header *header)
{
    ASSERT(header->end_offset > 0);
    ASSERT(header->last_epoch > 0);
    ASSERT(header->data_size <= QUORUM_SNAPSHOT_SIZE_MAX - QUORUM_SNAPSHOT_HEADER_SIZE);
    store_u32_be(image, SNAPSHOT_MAGIC);
    store_u32_be(image + 4, SNAPSHOT_VERSION);
    store_u64_be(image + 8, (u64)header->end_offset);
    store_u32_be(image + 16, (u32)header->last_epoch);
    store_u32_be(image + 20, header->data_size);
    store_u64_be(image + 24, header->digest);
    store_u32_be(image + 32, crc32c_extend(0, image + QUORUM_SNAPSHOT_HEADER_SIZE,
                                           header->data_size));
    store_u32_be(image + 36, crc32c_extend(0, image, 36));
    return QUORUM_SNAPSHOT_HEADER_SIZE + header->data_size;
}

bool quorum_snapshot_validate(const u8 *image, u64 size, struct quorum_snapshot_header *header)
{
    memset(header, 0, sizeof(*header));
    if (size < QUORUM_SNAPSHOT_HEADER_SIZE || size > QUORUM_SNAPSHOT_SIZE_MAX) return false;
    if (load_u32_be(image) != SNAPSHOT_MAGIC || load_u32_be(image + 4) != SNAPSHOT_VERSION) {
        return false;
    }
    if (load_u32_be(image + 36) != crc32c_extend(0, image, 36)) return false;
    header->end_offset = (i64)load_u64_be(image + 8);
    header->last_epoch = (i32)load_u32_be(image + 16);
    header->data_size = load_u32_be(image + 20);
    header->digest = load_u64_be(image + 24);
    if (header->end_offset <= 0 || header->last_epoch <= 0) return false;
    if ((u64)header->data_size != size - QUORUM_SNAPSHOT_HEADER_SIZE) return false;
    u32 data_crc = crc32c_extend(0, image + QUORUM_SNAPSHOT_HEADER_SIZE, header->data_size);
    return data_crc == load_u32_be(image + 32);
}

void quorum_snapshot_init(struct quorum_snapshot_store *store, struct io *io, u64 user_data_tag)
{
    ASSERT((user_data_tag & 0xff) == 0);
    memset(store, 0, sizeof(*store));
    store->io = io;
    store->user_data_tag = user_data_tag;
    /* Pages are touched only as snapshots grow: an idle node costs address space, not RAM. */
    store->current = calloc(1, QUORUM_SNAPSHOT_SIZE_MAX);
    store->scratch = calloc(1, QUORUM_SNAPSHOT_SIZE_MAX);
    ASSERT(store->current != NULL && store->scratch != NULL);
}

void quorum_snapshot_free(struct quorum_snapshot_store *store)
{
    free(store->current);
    free(store->scratch);
    memset(store, 0, sizeof(*store));
}

static bool issue(struct quorum_snapshot_store *store, enum io_result result,
                  enum quorum_snapshot_op op)
{
    if (result != IO_OK) {
        store->failed = true;
        return false;
    }
    store->op = op;
    return true;
}

static u64 tag(const struct quorum_snapshot_store *store, enum quorum_snapshot_op op)
{
    return store->user_data_tag | (u64)op;
}

/* ===== Recovery ===== */

void quorum_snapshot_open(struct quorum_snapshot_store *store)
{
    ASSERT(store->op == SNAPSHOT_OP_NONE);
    ASSERT(!store->recovered);
    /* CREATE: an empty file means "no snapshot", which keeps one path for both backends. */
    issue(store, io_file_open(store->io, QUORUM_SNAPSHOT_PATH, IO_OPEN_CREATE,
                              tag(store, SNAPSHOT_OP_OPEN)), SNAPSHOT_OP_OPEN);
}

static void read_next(struct quorum_snapshot_store *store)
{
    ASSERT(store->position < store->file_size);
    u32 size = (u32)MIN((u64)QUORUM_SNAPSHOT_IO_CHUNK, store->file_size - store->position);
    issue(store, io_file_read(store->io, store->file, store->position,
                              store->scratch + store->position, size,
                              tag(store, SNAPSHOT_OP_READ)), SNAPSHOT_OP_READ);
}

static enum quorum_snapshot_event recover_finish(struct quorum_snapshot_store *store)
{
    io_file_close(store->io, store->file);
    store->file = 0;
    store->recovered = true;
    if (store->file_size == 0) return SNAPSHOT_EVENT_RECOVERED;
    struct quorum_snapshot_header header;
    if (store->position != store->file_size ||
        !quorum_snapshot_validate(store->scratch, store->file_size, &header)) {
        /* Only a synced file is ever renamed into place, so bad bytes here are corruption. */
        store->damaged = true;
        io_log(store->io, IO_LOG_WARN, "quorum snapshot: %llu bytes on disk are not a valid "
               "snapshot", (unsigned long long)store->file_size);
        return SNAPSHOT_EVENT_RECOVERED;
    }
    u8 *swap = store->current;
    store->current = store->scratch;
    store->scratch = swap;
    store->current_size = (u32)store->file_size;
    store->current_header = header;
    store->has_current = true;
    return SNAPSHOT_EVENT_RECOVERED;
}

/* ===== Writing ===== */

void quorum_snapshot_write(struct quorum_snapshot_store *store, u32 size)
{
    ASSERT(store->recovered);
    ASSERT(!store->writing);
    ASSERT(store->op == SNAPSHOT_OP_NONE);
    struct quorum_snapshot_header header;
    ASSERT(quorum_snapshot_validate(store->scratch, size, &header));
    store->writing = true;
    store->scratch_size = size;
    store->failed = false;
    quorum_snapshot_retry(store);
}

static void write_begin(struct quorum_snapshot_store *store)
{
    store->position = 0;
    if (store->file != 0) io_file_close(store->io, store->file);
    store->file = 0;
    issue(store, io_file_open(store->io, QUORUM_SNAPSHOT_TMP_PATH,
                              IO_OPEN_CREATE | IO_OPEN_TRUNCATE, tag(store, SNAPSHOT_OP_TMP_OPEN)),
          SNAPSHOT_OP_TMP_OPEN);
}

/* The next step of a write: another chunk, the sync, or the rename. */
static void write_step(struct quorum_snapshot_store *store)
{
    if (store->position < store->scratch_size) {
        u32 size = MIN(QUORUM_SNAPSHOT_IO_CHUNK, store->scratch_size - store->position);
        issue(store, io_file_write(store->io, store->file, store->position,
                                   store->scratch + store->position, size,
                                   tag(store, SNAPSHOT_OP_WRITE)), SNAPSHOT_OP_WRITE);
        return;
    }
    issue(store, io_file_sync(store->io, store->file, tag(store, SNAPSHOT_OP_SYNC)),
          SNAPSHOT_OP_SYNC);
}

static enum quorum_snapshot_event write_done(struct quorum_snapshot_store *store)
{
    struct quorum_snapshot_header header;
    ASSERT(quorum_snapshot_validate(store->scratch, store->scratch_size, &header));
    u8 *swap = store->current;
    store->current = store->scratch;
    store->scratch = swap;
    store->current_size = store->scratch_size;
    store->current_header = header;
    store->has_current = true;
    store->writing = false;
    store->scratch_size = 0;
    return SNAPSHOT_EVENT_DURABLE;
}

enum quorum_snapshot_event quorum_snapshot_on_file(struct quorum_snapshot_store *store,
                                                   const struct io_completion *completion)
{
    ASSERT((completion->user_data & 0xff) == (u64)store->op);
    enum quorum_snapshot_op op = store->op;
    store->op = SNAPSHOT_OP_NONE;
    if (completion->result != IO_OK) {
        io_log(store->io, IO_LOG_WARN, "quorum snapshot: operation %d failed: %s", (int)op,
               io_result_name(completion->result));
        store->failed = true;
        return SNAPSHOT_EVENT_ERROR;
    }
    switch (op) {
    case SNAPSHOT_OP_OPEN:
        store->file = completion->file;
        store->file_size = completion->file_size;
        store->position = 0;
        if (store->file_size == 0 || store->file_size > QUORUM_SNAPSHOT_SIZE_MAX) {
            return recover_finish(store);
        }
        read_next(store);
        break;
    case SNAPSHOT_OP_READ:
        store->position += completion->size;
        if (completion->size == 0 || store->position >= store->file_size) {
            return recover_finish(store);
        }
        read_next(store);
        break;
    case SNAPSHOT_OP_TMP_OPEN:
        store->file = completion->file;
        write_step(store);
        break;
    case SNAPSHOT_OP_WRITE:
        store->position += completion->size;
        write_step(store);
        break;
    case SNAPSHOT_OP_SYNC:
        /* The tmp file is whole and durable: close it, then make it the snapshot. */
        io_file_close(store->io, store->file);
        store->file = 0;
        issue(store, io_file_rename(store->io, QUORUM_SNAPSHOT_TMP_PATH, QUORUM_SNAPSHOT_PATH,
                                    tag(store, SNAPSHOT_OP_RENAME)), SNAPSHOT_OP_RENAME);
        break;
    case SNAPSHOT_OP_RENAME: return write_done(store);
    case SNAPSHOT_OP_NONE: ASSERT(false); break;
    }
    return store->failed ? SNAPSHOT_EVENT_ERROR : SNAPSHOT_EVENT_NONE;
}

void quorum_snapshot_retry(struct quorum_snapshot_store *store)
{
    if (store->op != SNAPSHOT_OP_NONE) return;
    if (!store->recovered) {
        if (!store->failed) return;
        store->failed = false;
        if (store->file == 0) {
            quorum_snapshot_open(store);
        } else {
            read_next(store);
        }
        return;
    }
    if (!store->writing) return;
    /* A failed write starts over: the tmp file is opened with truncation, and nothing reads
     * it until the rename, so a half-written attempt is harmless. */
    store->failed = false;
    write_begin(store);
}
