/* prng.c: splitmix64 stream derivation and xoshiro256**.
 *
 * Invariants: a stream's state is never all zero (xoshiro would then emit zeros forever), and
 * prng_stream is a pure function of (seed, stream id). below() rejects the biased tail so every
 * value in [0, bound) is equally likely. Tested by tests/unit/test_sim_prng.c (same inputs give
 * the same sequence, different streams differ, bounds are respected, rough uniformity) and by
 * every simulated run. */
#include "prng.h"

static u64 prng_splitmix_next(u64 *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    return prng_mix64(*state);
}

struct prng prng_stream(u64 seed, u64 stream_id)
{
    /* Mix the stream id in before expanding so neighbouring ids give unrelated states. */
    u64 state = prng_mix64(seed ^ prng_mix64(stream_id + 0x632be59bd9b4e019ull));
    struct prng prng;
    for (u32 i = 0; i < 4; i++) prng.state[i] = prng_splitmix_next(&state);
    if ((prng.state[0] | prng.state[1] | prng.state[2] | prng.state[3]) == 0) {
        prng.state[0] = 1; /* Practically unreachable; xoshiro must not start all zero. */
    }
    ASSERT((prng.state[0] | prng.state[1] | prng.state[2] | prng.state[3]) != 0);
    return prng;
}

static inline u64 prng_rotl(u64 x, int k) { return (x << k) | (x >> (64 - k)); }

u64 prng_next(struct prng *prng)
{
    u64 *s = prng->state;
    u64 result = prng_rotl(s[1] * 5, 7) * 9;
    u64 t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = prng_rotl(s[3], 45);
    return result;
}

u64 prng_below(struct prng *prng, u64 bound)
{
    ASSERT(bound > 0);
    /* Values at or above the largest multiple of bound would favour small results. */
    u64 limit = UINT64_MAX - (UINT64_MAX % bound + 1) % bound;
    for (u32 attempt = 0; attempt < 1000; attempt++) {
        u64 value = prng_next(prng);
        if (value <= limit) return value % bound;
    }
    ASSERT(false); /* Rejection fails with probability < 2^-1000. */
    return 0;
}

u64 prng_range(struct prng *prng, u64 min, u64 max)
{
    ASSERT(min <= max);
    if (min == 0 && max == UINT64_MAX) return prng_next(prng);
    u64 value = min + prng_below(prng, max - min + 1);
    ASSERT(value >= min);
    ASSERT(value <= max);
    return value;
}

bool prng_chance(struct prng *prng, u64 numerator, u64 denominator)
{
    ASSERT(denominator > 0);
    ASSERT(numerator <= denominator);
    if (numerator == 0) return false;
    return prng_below(prng, denominator) < numerator;
}
