/* prng.h: the simulator's random streams: which component draws from which stream.
 *
 * The generator itself is impl/prng.h (shared with the real runtime); this header only names the
 * streams, so that adding a draw in one component never shifts the draws of another.
 *
 * May depend on: impl/prng.h. */
#ifndef SIM_PRNG_H
#define SIM_PRNG_H

#include "../impl/prng.h"

/* Stream ids of the world's components; per-process streams add the process index. */
enum prng_stream_id {
    PRNG_STREAM_NETWORK = 1,
    PRNG_STREAM_DISK = 2,
    PRNG_STREAM_FAULTS = 3,
    PRNG_STREAM_CLOCK = 4,
    PRNG_STREAM_PROCESS_RANDOM = 0x1000, /* + process index */
    PRNG_STREAM_PROCESS_BUGGIFY = 0x2000, /* + process index */
    PRNG_STREAM_PROCESS_DISK = 0x3000,    /* + process index */
    PRNG_STREAM_TEST = 0x7000,
};

#endif
