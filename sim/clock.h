/* clock.h: a simulated process's clocks.
 *
 * Monotonic time is the virtual time itself (never backwards). Wall time starts at
 * CLOCK_EPOCH_NS (2026-01-01T00:00:00Z) and runs at rate (1 + drift_ppm / 1e6) from an anchor;
 * a jump moves it by a signed amount. Changing the drift re-anchors, so wall time is continuous
 * across drift changes and only jumps move it discontinuously.
 *
 * May depend on: impl/base.h. */
#ifndef SIM_CLOCK_H
#define SIM_CLOCK_H

#include "../impl/base.h"

#define CLOCK_EPOCH_NS ((u64)1767225600 * NS_PER_S) /* 2026-01-01T00:00:00Z */

struct sim_clock {
    u64 anchor_virtual_ns; /* Virtual time at the last re-anchor. */
    i64 anchor_wall_ns;    /* Wall time at that moment (signed: jumps may go far back). */
    i64 drift_ppm;
};

void clock_init(struct sim_clock *clock);
u64 clock_wall_ns(const struct sim_clock *clock, u64 virtual_ns);
void clock_jump(struct sim_clock *clock, u64 virtual_ns, i64 amount_ns);
void clock_set_drift(struct sim_clock *clock, u64 virtual_ns, i64 drift_ppm);

#endif
