/* clock.c: wall clock with offset and drift over virtual time.
 *
 * Invariants: virtual time passed in never precedes the anchor; drift stays within
 * (-1e6, 1e6) ppm so wall time always moves forward between jumps; results are clamped at 0
 * rather than wrapping. Tested by tests/unit/test_sim_clock.c (drift rate, jump, continuity
 * across drift change, monotonic now_ns through a process). */
#include "clock.h"

#define CLOCK_DRIFT_PPM_LIMIT 1000000

void clock_init(struct sim_clock *clock)
{
    clock->anchor_virtual_ns = 0;
    clock->anchor_wall_ns = (i64)CLOCK_EPOCH_NS;
    clock->drift_ppm = 0;
}

u64 clock_wall_ns(const struct sim_clock *clock, u64 virtual_ns)
{
    ASSERT(virtual_ns >= clock->anchor_virtual_ns);
    ASSERT(clock->drift_ppm > -CLOCK_DRIFT_PPM_LIMIT);
    ASSERT(clock->drift_ppm < CLOCK_DRIFT_PPM_LIMIT);
    __int128 elapsed = (__int128)(virtual_ns - clock->anchor_virtual_ns);
    __int128 wall = (__int128)clock->anchor_wall_ns + elapsed +
                    elapsed * clock->drift_ppm / 1000000;
    if (wall < 0) return 0;
    ASSERT(wall <= (__int128)INT64_MAX);
    return (u64)wall;
}

static void clock_reanchor(struct sim_clock *clock, u64 virtual_ns)
{
    u64 wall = clock_wall_ns(clock, virtual_ns);
    clock->anchor_wall_ns = (i64)wall;
    clock->anchor_virtual_ns = virtual_ns;
    ASSERT(clock_wall_ns(clock, virtual_ns) == wall);
}

void clock_jump(struct sim_clock *clock, u64 virtual_ns, i64 amount_ns)
{
    clock_reanchor(clock, virtual_ns);
    clock->anchor_wall_ns += amount_ns;
}

void clock_set_drift(struct sim_clock *clock, u64 virtual_ns, i64 drift_ppm)
{
    ASSERT(drift_ppm > -CLOCK_DRIFT_PPM_LIMIT);
    ASSERT(drift_ppm < CLOCK_DRIFT_PPM_LIMIT);
    clock_reanchor(clock, virtual_ns);
    clock->drift_ppm = drift_ppm;
}
