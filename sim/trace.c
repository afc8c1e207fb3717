/* trace.c: the running trace hash and the optional zstd-compressed text trace.
 *
 * Invariants: the hash is a function only of the sequence of records (fields and text bytes),
 * never of whether text is written; records are counted. The text is streamed through
 * ZSTD_compressStream2 so a long run never holds its trace in memory. Tested by
 * tests/unit/test_sim_clock.c and test_sim_net.c (same seed same hash, different seed different
 * hash) and by writing and reading back a compressed trace in test_sim_net.c. */
#include "trace.h"

#include "prng.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

void trace_init(struct trace *trace)
{
    memset(trace, 0, sizeof(*trace));
    trace->hash = 0x6a09e667f3bcc908ull;
}

u64 trace_hash_bytes(const u8 *bytes, u64 size)
{
    u64 hash = 0x243f6a8885a308d3ull ^ size;
    u64 index = 0;
    for (; index + 8 <= size; index += 8) {
        u64 word;
        memcpy(&word, bytes + index, 8); /* Little-endian hosts only; see sim/README.md. */
        hash = prng_mix64(hash ^ word);
    }
    u64 tail = 0;
    for (u32 shift = 0; index < size; index++, shift += 8) tail |= (u64)bytes[index] << shift;
    return prng_mix64(hash ^ tail ^ 0x13198a2e03707344ull);
}

bool trace_open_file(struct trace *trace, const char *path)
{
    ASSERT(trace->file == NULL);
    trace->file = fopen(path, "wb");
    if (trace->file == NULL) return false;
    ZSTD_CCtx *stream = ZSTD_createCCtx();
    ASSERT(stream != NULL);
    size_t rc = ZSTD_CCtx_setParameter(stream, ZSTD_c_compressionLevel, 3);
    ASSERT(!ZSTD_isError(rc));
    trace->zstd_stream = stream;
    trace->out_capacity = (u32)ZSTD_CStreamOutSize();
    trace->out_buffer = malloc(trace->out_capacity);
    ASSERT(trace->out_buffer != NULL);
    ASSERT(trace->out_capacity > 0);
    return true;
}

/* Compresses input (or, with end set, flushes the frame) and writes what comes out. */
static bool trace_compress(struct trace *trace, const char *text, u32 size, bool end)
{
    ZSTD_inBuffer input = {text, size, 0};
    for (u32 round = 0; round < 1u << 20; round++) {
        ZSTD_outBuffer output = {trace->out_buffer, trace->out_capacity, 0};
        size_t remaining = ZSTD_compressStream2(trace->zstd_stream, &output, &input,
                                                end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(remaining)) return false;
        if (output.pos > 0 && fwrite(trace->out_buffer, 1, output.pos, trace->file) != output.pos) {
            return false;
        }
        bool done = end ? remaining == 0 : input.pos == input.size;
        if (done) return true;
    }
    return false;
}

bool trace_close(struct trace *trace)
{
    if (trace->file == NULL) return true;
    bool ok = trace_compress(trace, "", 0, true);
    ZSTD_freeCCtx(trace->zstd_stream);
    trace->zstd_stream = NULL;
    free(trace->out_buffer);
    trace->out_buffer = NULL;
    if (fclose(trace->file) != 0) ok = false;
    trace->file = NULL;
    return ok;
}

static const char *trace_kind_name(u32 kind)
{
    static const char *const names[] = {"?", "frame", "timer", "disk", "conn", "fault",
                                        "log", "observe", "start", "net"};
    return kind < ARRAY_LEN(names) ? names[kind] : "?";
}

static void trace_write_text(struct trace *trace, u64 time_ns, u32 kind, u32 process, u64 a,
                             u64 b, u64 c, const char *text)
{
    char line[1400];
    const char *name = process < trace->process_name_count ? trace->process_names[process] : "-";
    int length = snprintf(line, sizeof(line),
                          "%" PRIu64 ".%09" PRIu64 " %-4s %-7s %" PRIu64 " %" PRIu64
                          " %" PRIu64 " %s\n",
                          time_ns / NS_PER_S, time_ns % NS_PER_S, name, trace_kind_name(kind), a,
                          b, c, text != NULL ? text : "");
    ASSERT(length > 0);
    u32 size = (u32)MIN((u32)length, (u32)sizeof(line) - 1);
    if (trace->verbose) fwrite(line, 1, size, stderr);
    if (trace->file != NULL && !trace_compress(trace, line, size, false)) {
        /* Losing the text trace must not change the run; stop writing and say so once. */
        fprintf(stderr, "trace: write failed; the text trace is incomplete\n");
        fclose(trace->file);
        trace->file = NULL;
        ZSTD_freeCCtx(trace->zstd_stream);
        trace->zstd_stream = NULL;
        free(trace->out_buffer);
        trace->out_buffer = NULL;
    }
}

static void trace_fold(struct trace *trace, u64 time_ns, u32 kind, u32 process, u64 a, u64 b,
                       u64 c, const char *text)
{
    ASSERT(kind != 0);
    u64 hash = trace->hash;
    hash = prng_mix64(hash ^ time_ns);
    hash = prng_mix64(hash ^ ((u64)kind << 32 | process));
    hash = prng_mix64(hash ^ a);
    hash = prng_mix64(hash ^ b);
    hash = prng_mix64(hash ^ c);
    if (text != NULL) hash = prng_mix64(hash ^ trace_hash_bytes((const u8 *)text, strlen(text)));
    trace->hash = hash;
    trace->records++;
}

void trace_record(struct trace *trace, u64 time_ns, u32 kind, u32 process, u64 a, u64 b, u64 c,
                  const char *text)
{
    trace_fold(trace, time_ns, kind, process, a, b, c, text);
    if (trace_wants_text(trace)) trace_write_text(trace, time_ns, kind, process, a, b, c, text);
}

void trace_record_note(struct trace *trace, u64 time_ns, u32 kind, u32 process, u64 a, u64 b,
                       u64 c, const char *note)
{
    trace_fold(trace, time_ns, kind, process, a, b, c, NULL);
    if (trace_wants_text(trace)) trace_write_text(trace, time_ns, kind, process, a, b, c, note);
}
