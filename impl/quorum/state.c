/* state.c: the durable election state (see state.h for the two-slot format and its reasons).
 *
 * Invariants: at most one operation in flight; durable only ever changes when a sync completes
 * and then equals what that write carried; the sequence grows by one per completed write.
 * Tested by tests/unit/test_quorum_raft.c (a vote is answered only after the sync completes,
 * a torn newest slot falls back to the older one). */
#include "state.h"
#include "../log/crc32c.h"

#include <string.h>

#define STATE_MAGIC 0x4b515331u /* "KQS1" */

void quorum_state_encode(u8 *target, u64 sequence, const struct quorum_election_state *state)
{
    ASSERT(state->epoch >= 0);
    ASSERT(state->voted_for >= -1);
    memset(target, 0, QUORUM_STATE_RECORD_SIZE);
    store_u32_be(target, STATE_MAGIC);
    store_u64_be(target + 4, sequence);
    store_u32_be(target + 12, (u32)state->epoch);
    store_u32_be(target + 16, (u32)state->voted_for);
    store_u32_be(target + 20, (u32)state->leader);
    store_u32_be(target + 24, state->flags);
    store_u32_be(target + 28, crc32c_extend(0, target, 28));
}

bool quorum_state_decode(const u8 *bytes, u64 *sequence, struct quorum_election_state *state)
{
    if (load_u32_be(bytes) != STATE_MAGIC) return false;
    if (load_u32_be(bytes + 28) != crc32c_extend(0, bytes, 28)) return false;
    *sequence = load_u64_be(bytes + 4);
    state->epoch = (i32)load_u32_be(bytes + 12);
    state->voted_for = (i32)load_u32_be(bytes + 16);
    state->leader = (i32)load_u32_be(bytes + 20);
    state->flags = load_u32_be(bytes + 24);
    if ((state->flags & ~QUORUM_STATE_ABSTAIN) != 0) return false;
    if (state->epoch < 0 || state->voted_for < -1 || state->leader < -1) return false;
    return true;
}

static bool state_equal(const struct quorum_election_state *a,
                        const struct quorum_election_state *b)
{
    return a->epoch == b->epoch && a->voted_for == b->voted_for && a->leader == b->leader &&
           a->flags == b->flags;
}

void quorum_store_init(struct quorum_store *store, struct io *io, u64 user_data_tag)
{
    ASSERT((user_data_tag & 0xff) == 0);
    memset(store, 0, sizeof(*store));
    store->io = io;
    store->user_data_tag = user_data_tag;
    store->durable = (struct quorum_election_state){
        .epoch = 0, .voted_for = -1, .leader = -1, .flags = 0};
    store->desired = store->durable;
}

void quorum_store_open(struct quorum_store *store)
{
    ASSERT(store->op == STORE_OP_NONE);
    if (io_file_open(store->io, QUORUM_STATE_PATH, IO_OPEN_CREATE,
                     store->user_data_tag | STORE_OP_OPEN) != IO_OK) {
        store->failed = true;
        return;
    }
    store->op = STORE_OP_OPEN;
}

static void store_read(struct quorum_store *store)
{
    if (io_file_read(store->io, store->file, 0, store->read_buffer, sizeof(store->read_buffer),
                     store->user_data_tag | STORE_OP_READ) != IO_OK) {
        store->failed = true;
        return;
    }
    store->op = STORE_OP_READ;
}

/* Picks the valid slot with the highest sequence; none valid means a fresh node. */
static void store_recover(struct quorum_store *store, u32 size)
{
    bool found = false;
    for (u32 slot = 0; slot < 2; slot++) {
        if (slot * QUORUM_STATE_SLOT_SIZE + QUORUM_STATE_RECORD_SIZE > size) continue;
        u64 sequence = 0;
        struct quorum_election_state state;
        const u8 *bytes = store->read_buffer + slot * QUORUM_STATE_SLOT_SIZE;
        if (!quorum_state_decode(bytes, &sequence, &state)) {
            /* A 32-byte write inside one sector is never torn, so a bad slot is corruption. */
            for (u32 i = 0; i < QUORUM_STATE_RECORD_SIZE; i++) store->damaged |= bytes[i] != 0;
            continue;
        }
        if (!found || sequence > store->sequence) {
            store->sequence = sequence;
            store->durable = state;
            found = true;
        }
    }
    store->desired = store->durable;
    store->recovered = true;
}

static void store_pump(struct quorum_store *store)
{
    if (!store->recovered || store->failed || store->op != STORE_OP_NONE) return;
    if (state_equal(&store->desired, &store->durable)) return;
    store->in_flight = store->desired;
    u64 sequence = store->sequence + 1;
    quorum_state_encode(store->write_buffer, sequence, &store->in_flight);
    u64 position = (sequence % 2) * QUORUM_STATE_SLOT_SIZE;
    if (io_file_write(store->io, store->file, position, store->write_buffer,
                      QUORUM_STATE_RECORD_SIZE, store->user_data_tag | STORE_OP_WRITE) != IO_OK) {
        store->failed = true;
        return;
    }
    store->op = STORE_OP_WRITE;
}

static enum quorum_store_event store_on_write_or_sync(struct quorum_store *store,
                                                      enum quorum_store_op op)
{
    if (op == STORE_OP_WRITE) {
        if (io_file_sync(store->io, store->file, store->user_data_tag | STORE_OP_SYNC) != IO_OK) {
            store->failed = true;
            return STORE_EVENT_ERROR;
        }
        store->op = STORE_OP_SYNC;
        return STORE_EVENT_NONE;
    }
    ASSERT(op == STORE_OP_SYNC);
    store->sequence++;
    store->durable = store->in_flight;
    store_pump(store);
    return STORE_EVENT_DURABLE;
}

enum quorum_store_event quorum_store_on_file(struct quorum_store *store,
                                             const struct io_completion *completion)
{
    ASSERT((completion->user_data & 0xff) == (u64)store->op);
    enum quorum_store_op op = store->op;
    store->op = STORE_OP_NONE;
    if (completion->result != IO_OK) {
        io_log(store->io, IO_LOG_WARN, "quorum state: operation %d failed: %s", (int)op,
               io_result_name(completion->result));
        store->failed = true;
        return STORE_EVENT_ERROR;
    }
    if (op == STORE_OP_OPEN) {
        store->file = completion->file;
        if (completion->file_size == 0) {
            store_recover(store, 0);
            return STORE_EVENT_RECOVERED;
        }
        store_read(store);
        return store->failed ? STORE_EVENT_ERROR : STORE_EVENT_NONE;
    }
    if (op == STORE_OP_READ) {
        store_recover(store, completion->size);
        return STORE_EVENT_RECOVERED;
    }
    return store_on_write_or_sync(store, op);
}

void quorum_store_set(struct quorum_store *store, const struct quorum_election_state *state)
{
    ASSERT(store->recovered);
    ASSERT(state->epoch >= store->desired.epoch);
    if (state->epoch == store->desired.epoch && store->desired.voted_for != -1) {
        ASSERT(state->voted_for == store->desired.voted_for); /* One vote per epoch. */
    }
    store->desired = *state;
    store_pump(store);
}

bool quorum_store_is_durable(const struct quorum_store *store,
                             const struct quorum_election_state *state)
{
    return store->durable.epoch == state->epoch && store->durable.voted_for == state->voted_for;
}

void quorum_store_retry(struct quorum_store *store)
{
    if (!store->failed || store->op != STORE_OP_NONE) return;
    store->failed = false;
    if (store->file == 0) quorum_store_open(store);
    else if (!store->recovered) store_read(store);
    else store_pump(store);
}
