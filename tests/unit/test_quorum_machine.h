/* test_quorum_machine.h: a small replicated state machine for the quorum's unit tests.
 *
 * It folds every applied client entry into a running hash and remembers the hash after every
 * offset, so a test can compare two lives of a node (or two nodes) offset by offset. apply
 * checks the quorum's contract itself: entries arrive in offset order, each exactly once, and
 * the first one after a snapshot load is the snapshot's end. A snapshot is {magic, next offset,
 * client count, hash} followed by `padding` filler bytes derived from the hash (to make
 * snapshots span several FetchSnapshot chunks); load verifies all of it. */
#ifndef TEST_QUORUM_MACHINE_H
#define TEST_QUORUM_MACHINE_H

#include "../../impl/quorum/quorum.h"

#include <string.h>

#define TEST_MACHINE_OFFSETS 4096u
#define TEST_MACHINE_MAGIC 0x544d4348u /* "TMCH" */

struct test_machine {
    i64 next;         /* The offset apply expects next. */
    u64 count;        /* Client (non-control) entries applied. */
    u64 hash;
    u64 hash_at[TEST_MACHINE_OFFSETS]; /* After applying offset o; 0 when unknown. */
    u32 padding;
    u32 saves, loads;
    u32 contract_violations; /* apply out of order, or twice. */
};

static inline u64 test_machine_mix(u64 hash, const u8 *bytes, u32 size)
{
    for (u32 i = 0; i < size; i++) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

static inline void test_machine_apply(void *context, i64 offset, i32 epoch, const u8 *payload,
                                      u32 size, bool control)
{
    struct test_machine *machine = context;
    (void)epoch;
    if (offset != machine->next) machine->contract_violations++;
    machine->next = offset + 1;
    if (!control) {
        machine->count++;
        machine->hash = test_machine_mix(machine->hash ^ (u64)offset, payload, size);
    }
    if (offset >= 0 && offset < (i64)TEST_MACHINE_OFFSETS) machine->hash_at[offset] = machine->hash;
}

static inline u8 test_machine_filler(u64 hash, u32 i) { return (u8)((hash >> (i % 57)) + i); }

static inline u32 test_machine_save(void *context, u8 *buffer, u32 capacity)
{
    struct test_machine *machine = context;
    u32 size = 28 + machine->padding;
    if (capacity < size) return 0;
    store_u32_be(buffer, TEST_MACHINE_MAGIC);
    store_u64_be(buffer + 4, (u64)machine->next);
    store_u64_be(buffer + 12, machine->count);
    store_u64_be(buffer + 20, machine->hash);
    for (u32 i = 0; i < machine->padding; i++) {
        buffer[28 + i] = test_machine_filler(machine->hash, i);
    }
    machine->saves++;
    return size;
}

static inline bool test_machine_load(void *context, const u8 *data, u32 size)
{
    struct test_machine *machine = context;
    if (size < 28 || load_u32_be(data) != TEST_MACHINE_MAGIC) return false;
    u64 hash = load_u64_be(data + 20);
    for (u32 i = 28; i < size; i++) {
        if (data[i] != test_machine_filler(hash, i - 28)) return false;
    }
    machine->next = (i64)load_u64_be(data + 4);
    machine->count = load_u64_be(data + 12);
    machine->hash = hash;
    if (machine->next > 0 && machine->next <= (i64)TEST_MACHINE_OFFSETS) {
        machine->hash_at[machine->next - 1] = hash;
    }
    machine->loads++;
    return true;
}

static inline struct quorum_state_machine test_machine_hook(struct test_machine *machine)
{
    return (struct quorum_state_machine){.context = machine, .apply = test_machine_apply,
                                         .save_snapshot = test_machine_save,
                                         .load_snapshot = test_machine_load};
}

#endif
