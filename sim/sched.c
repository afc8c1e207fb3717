/* sched.c: a binary min-heap of events keyed by (time_ns, seq).
 *
 * Invariants: heap order holds after every push and pop (checked by sched_invariant_parent on
 * the moved element); seq values are unique and increase with each push; now_ns only grows and
 * no queued event is due before now_ns. Events are stored by value inside one array, so the hot
 * path never allocates. Tested by tests/unit/test_sim_sched.c (ordering by time then push order,
 * random interleavings against a sorted reference, and a throughput figure). */
#include "sched.h"

#include <stdlib.h>
#include <string.h>

#define SCHED_CAPACITY_INITIAL 1024u

static inline bool sched_before(const struct sched_event *x, const struct sched_event *y)
{
    if (x->time_ns != y->time_ns) return x->time_ns < y->time_ns;
    return x->seq < y->seq;
}

void sched_init(struct sched *sched)
{
    memset(sched, 0, sizeof(*sched));
    sched->capacity = SCHED_CAPACITY_INITIAL;
    sched->heap = malloc(sizeof(struct sched_event) * sched->capacity);
    ASSERT(sched->heap != NULL);
    sched->seq_next = 1;
}

void sched_free(struct sched *sched)
{
    free(sched->heap);
    memset(sched, 0, sizeof(*sched));
}

static void sched_grow(struct sched *sched)
{
    ASSERT(sched->count == sched->capacity);
    ASSERT(sched->capacity < (1u << 30));
    sched->capacity *= 2;
    sched->heap = realloc(sched->heap, sizeof(struct sched_event) * sched->capacity);
    ASSERT(sched->heap != NULL);
}

u64 sched_push(struct sched *sched, const struct sched_event *event)
{
    ASSERT(event->time_ns >= sched->now_ns);
    if (sched->count == sched->capacity) sched_grow(sched);
    struct sched_event moving = *event;
    moving.seq = sched->seq_next++;
    /* Sift up: move parents down until moving's place is found. */
    u32 index = sched->count++;
    while (index > 0) {
        u32 parent = (index - 1) / 2;
        if (!sched_before(&moving, &sched->heap[parent])) break;
        sched->heap[index] = sched->heap[parent];
        index = parent;
    }
    sched->heap[index] = moving;
    ASSERT(index == 0 || !sched_before(&sched->heap[index], &sched->heap[(index - 1) / 2]));
    return moving.seq;
}

bool sched_peek_time(const struct sched *sched, u64 *time_ns)
{
    if (sched->count == 0) return false;
    *time_ns = sched->heap[0].time_ns;
    return true;
}

bool sched_pop(struct sched *sched, struct sched_event *event)
{
    if (sched->count == 0) return false;
    *event = sched->heap[0];
    ASSERT(event->time_ns >= sched->now_ns);
    sched->count--;
    if (sched->count > 0) {
        /* Sift the last element down from the root. */
        struct sched_event moving = sched->heap[sched->count];
        u32 index = 0;
        for (;;) {
            u32 child = index * 2 + 1;
            if (child >= sched->count) break;
            if (child + 1 < sched->count && sched_before(&sched->heap[child + 1],
                                                         &sched->heap[child])) {
                child++;
            }
            if (!sched_before(&sched->heap[child], &moving)) break;
            sched->heap[index] = sched->heap[child];
            index = child;
        }
        sched->heap[index] = moving;
    }
    sched->now_ns = event->time_ns;
    sched->popped++;
    ASSERT(sched->count == 0 || !sched_before(&sched->heap[0], event));
    return true;
}

void sched_advance(struct sched *sched, u64 time_ns)
{
    ASSERT(time_ns >= sched->now_ns);
    u64 next_ns = 0;
    if (sched_peek_time(sched, &next_ns)) ASSERT(next_ns >= time_ns);
    sched->now_ns = time_ns;
}
