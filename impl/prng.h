/* prng.h: seeded pseudo-random generators, shared by the simulator and the real runtime.
 *
 * Pure arithmetic: the generator draws nothing from the world; its owner seeds it (the
 * simulator from the run's seed, the real runtime from getrandom). In the simulator one run has
 * one seed. Every component that draws (network latency, disk latency and crash
 * outcomes, each process's io_random, faults, buggify) owns its own stream derived from
 * (seed, stream id) with splitmix64, so adding a draw in one component never shifts the draws of
 * another. The generator is xoshiro256** (Blackman and Vigna), small, fast and well tested.
 *
 * May depend on: base.h. */
#ifndef PRNG_H
#define PRNG_H

#include "base.h"

struct prng {
    u64 state[4];
};

/* The generator for stream stream_id of a run with this seed. */
struct prng prng_stream(u64 seed, u64 stream_id);
u64 prng_next(struct prng *prng);
/* Uniform in [0, bound), bound > 0, without modulo bias (rejection). */
u64 prng_below(struct prng *prng, u64 bound);
/* Uniform in [min, max], inclusive, min <= max. */
u64 prng_range(struct prng *prng, u64 min, u64 max);
/* True with probability numerator / denominator. */
bool prng_chance(struct prng *prng, u64 numerator, u64 denominator);

/* splitmix64's finaliser: a good 64-bit mixer, also used by the trace hash. */
static inline u64 prng_mix64(u64 value)
{
    value ^= value >> 30;
    value *= 0xbf58476d1ce4e5b9ull;
    value ^= value >> 27;
    value *= 0x94d049bb133111ebull;
    value ^= value >> 31;
    return value;
}

#endif
