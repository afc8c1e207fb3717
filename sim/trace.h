/* trace.h: the run's trace, a running 64-bit hash over every record plus optional text.
 *
 * A record is (virtual time, kind, process, three numbers, optional text). The hash folds in the
 * binary fields and the text bytes, so it does not depend on whether text is being written: the
 * same seed gives the same hash with or without --trace. The text form (one line per record) is
 * written zstd-compressed to a file and/or to stderr when asked.
 *
 * Only deterministic facts may be recorded: never wall time, memory use or pointer values.
 *
 * May depend on: impl/base.h, libzstd. */
#ifndef SIM_TRACE_H
#define SIM_TRACE_H

#include "../impl/base.h"

#include <stdio.h>

enum trace_kind {
    TRACE_FRAME = 1,      /* a=conn handle, b=size, c=hash of the bytes */
    TRACE_TIMER = 2,      /* a=timer id */
    TRACE_DISK = 3,       /* a=op, b=result, c=size */
    TRACE_CONN = 4,       /* a=conn handle, b=event, c=reason */
    TRACE_FAULT = 5,      /* a=fault kind, b=target, c=amount; text says what */
    TRACE_LOG = 6,        /* a=level; text is the message */
    TRACE_OBSERVE = 7,    /* a=kind, b=a field, c=b field */
    TRACE_START = 8,      /* a=incarnation */
    TRACE_NET = 9,        /* network-internal facts: stalls, breaks, refusals */
};

struct trace {
    u64 hash;
    u64 records;
    bool verbose;      /* Echo text lines to stderr. */
    FILE *file;        /* Compressed text output, or NULL. */
    void *zstd_stream; /* ZSTD_CCtx *, kept opaque so users need not include zstd.h. */
    u8 *out_buffer;
    u32 out_capacity;
    const char *const *process_names; /* For text lines; may be NULL. */
    u32 process_name_count;
};

void trace_init(struct trace *trace);
/* Starts writing the compressed text trace to path. Returns false when the file cannot be
 * created (an operating error, reported by the caller). */
WARN_UNUSED bool trace_open_file(struct trace *trace, const char *path);
/* Flushes and closes the file, if any. Returns false on a write error. */
WARN_UNUSED bool trace_close(struct trace *trace);

void trace_record(struct trace *trace, u64 time_ns, u32 kind, u32 process, u64 a, u64 b, u64 c,
                  const char *text);
/* True when text lines are being written, so callers can skip formatting a note otherwise. */
static inline bool trace_wants_text(const struct trace *trace)
{
    return trace->verbose || trace->file != NULL;
}
/* Like trace_record, but the note is written and not hashed: its content must be a function of
 * a, b and c alone (a readable rendering of hashed fields). */
void trace_record_note(struct trace *trace, u64 time_ns, u32 kind, u32 process, u64 a, u64 b,
                       u64 c, const char *note);

/* A 64-bit hash of a byte string (for frame contents). */
u64 trace_hash_bytes(const u8 *bytes, u64 size);

#endif
