/* crc32c_bench.c: CRC-32C throughput of every path this CPU has (impl/log/crc32c.c), beside the
 * portable table path measured in the same run. Figures, not pass/fail; it fails only when a
 * path computes a different CRC from the table path.
 *
 * Usage: crc32c_bench [size ...]   (bytes; default 64 1024 65536 1048576)
 * Each call extends the previous call's CRC, so a call waits for the one before it, as one
 * batch's validation waits for nothing else but is not overlapped with the next one either.
 * Every path is measured in each of several rounds, in turn, and its best round is printed, so
 * a burst of machine noise hurts all paths alike and the ratios stay meaningful. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../impl/log/crc32c.h"

#define BENCH_ROUNDS 5
#define BENCH_MIN_NS (30 * NS_PER_MS)

static u64 now_ns(void)
{
    struct timespec time;
    if (clock_gettime(CLOCK_MONOTONIC, &time) != 0) {
        perror("clock_gettime");
        exit(1);
    }
    return (u64)time.tv_sec * NS_PER_S + (u64)time.tv_nsec;
}

/* Keeps the measured calls' results alive. */
static volatile u32 bench_sink;

/* Bytes per second of crc32c_extend on the current path, over at least BENCH_MIN_NS. */
static double measure(const u8 *bytes, u64 size)
{
    u64 calls_per_check = size >= (1u << 20) ? 1 : (1u << 20) / size;
    u32 crc = 0;
    u64 calls = 0;
    u64 start = now_ns(), elapsed = 0;
    while (elapsed < BENCH_MIN_NS) {
        for (u64 i = 0; i < calls_per_check; i++) crc = crc32c_extend(crc, bytes, size);
        calls += calls_per_check;
        elapsed = now_ns() - start;
    }
    bench_sink = crc;
    return (double)(calls * size) / ((double)elapsed / 1e9);
}

/* calls chained calls, as measure() makes them: compared with the table path's result, so a
 * fast wrong path cannot go unnoticed. */
static u32 chained(const u8 *bytes, u64 size, u64 calls)
{
    u32 crc = 0;
    for (u64 i = 0; i < calls; i++) crc = crc32c_extend(crc, bytes, size);
    return crc;
}

static int bench_size(u64 size)
{
    u8 *bytes = aligned_alloc(64, (size + 63) / 64 * 64);
    if (bytes == NULL) {
        fprintf(stderr, "out of memory for %llu bytes\n", (unsigned long long)size);
        return 1;
    }
    u64 state = 0x9E3779B97F4A7C15u ^ size;
    for (u64 i = 0; i < size; i++) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        bytes[i] = (u8)state;
    }
    double best[CRC32C_PATH_COUNT] = {0};
    int status = 0;
    for (u32 round = 0; round < BENCH_ROUNDS; round++) {
        for (u32 path = CRC32C_PATH_TABLE; path < CRC32C_PATH_COUNT; path++) {
            if (!crc32c_force_path((enum crc32c_path)path)) continue;
            double rate = measure(bytes, size);
            if (rate > best[path]) best[path] = rate;
            if (round != 0) continue;
            /* Checked once, against the table path over 3 chained calls. */
            u32 expected = chained(bytes, size, 3);
            if (!crc32c_force_path(CRC32C_PATH_TABLE)) return 1;
            u32 reference = chained(bytes, size, 3);
            if (expected != reference) {
                fprintf(stderr, "%s: CRC %08x, table path %08x at %llu bytes\n",
                        crc32c_path_name((enum crc32c_path)path), expected, reference,
                        (unsigned long long)size);
                status = 1;
            }
        }
    }
    for (u32 path = CRC32C_PATH_TABLE; path < CRC32C_PATH_COUNT; path++) {
        const char *name = crc32c_path_name((enum crc32c_path)path);
        if (best[path] == 0) {
            printf("%9llu B  %-8s  (not on this CPU)\n", (unsigned long long)size, name);
            continue;
        }
        printf("%9llu B  %-8s %7.2f GB/s  %6.2fx table\n", (unsigned long long)size, name,
               best[path] / 1e9, best[path] / best[CRC32C_PATH_TABLE]);
    }
    free(bytes);
    return status;
}

int main(int argc, char **argv)
{
    u64 default_sizes[] = {64, 1024, 65536, 1048576};
    u64 sizes[64];
    u32 count = 0;
    for (int i = 1; i < argc && count < ARRAY_LEN(sizes); i++) {
        char *end = NULL;
        unsigned long long size = strtoull(argv[i], &end, 10);
        if (end == argv[i] || *end != '\0' || size == 0 || size > (1ull << 30)) {
            fprintf(stderr, "usage: %s [size in bytes (1..2^30) ...]\n", argv[0]);
            return 2;
        }
        sizes[count++] = size;
    }
    if (count == 0) {
        memcpy(sizes, default_sizes, sizeof(default_sizes));
        count = ARRAY_LEN(default_sizes);
    }
    if (!crc32c_force_path(CRC32C_PATH_AUTO)) return 1;
    printf("CRC-32C, best of %d rounds; crc32c_extend chooses %s on this CPU\n", BENCH_ROUNDS,
           crc32c_path_name(crc32c_active_path()));
    int status = 0;
    for (u32 i = 0; i < count; i++) status |= bench_size(sizes[i]);
    return status;
}
