/* sched.h: the simulator's event queue, ordered by (virtual time, sequence number).
 *
 * Every event carries a sequence number assigned at push; two events due at the same virtual
 * time fire in push order, which makes the whole run a pure function of the seed. Popping an
 * event moves virtual time to its due time; time never goes backwards.
 *
 * May depend on: impl/base.h. */
#ifndef SIM_SCHED_H
#define SIM_SCHED_H

#include "../impl/base.h"

/* An event is a small value: what to do (kind, interpreted by the world), for whom (process and
 * its incarnation, so events of a crashed incarnation are recognised as stale) and two words. */
struct sched_event {
    u64 time_ns;
    u64 seq; /* Assigned by sched_push. */
    u32 kind;
    u32 process;
    u32 incarnation;
    u32 aux;
    u64 a;
    u64 b;
};

struct sched {
    struct sched_event *heap; /* Binary min-heap on (time_ns, seq). */
    u32 count;
    u32 capacity;
    u64 seq_next;
    u64 now_ns;
    u64 popped; /* Events processed so far. */
};

void sched_init(struct sched *sched);
void sched_free(struct sched *sched);

/* Queues event (its seq is overwritten) and returns the sequence number it got. The due time
 * must not be in the past. The heap array grows by doubling, so pushes allocate only
 * O(log peak) times in a whole run. */
u64 sched_push(struct sched *sched, const struct sched_event *event);

/* The due time of the next event; false when the queue is empty. */
bool sched_peek_time(const struct sched *sched, u64 *time_ns);

/* Removes the next event into *event and advances now_ns to its time; false when empty. */
bool sched_pop(struct sched *sched, struct sched_event *event);

/* Moves virtual time forward to time_ns when no event is due before it. */
void sched_advance(struct sched *sched, u64 time_ns);

#endif
