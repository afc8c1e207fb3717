/* log_bench.c: append and read throughput of the partition log over the real runtime, printed
 * beside the raw sequential bandwidth of the same disk (dd, measured by log_bench.sh in the same
 * run). Figures, not pass/fail.
 *
 * Usage: log_bench <data dir> <batch bytes> <total MiB>
 * Appends batches of about <batch bytes> (one record each) until <total MiB> are written, then
 * flushes (fsync, as dd's conv=fdatasync), then reads everything back through
 * partition_log_read (1 MiB fetches) and io_file_read of the returned ranges. One request at a
 * time, as the log runs them. Prints one line per phase: "append <MB/s> <batches/s>" and
 * "read <MB/s>". This is a tool, not core code: it reads the clock directly. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../impl/log/partition_log.h"
#include "../../impl/runtime/io_real.h"

struct bench {
    struct io *io;
    struct io_real *real;
    struct partition_log log;
    u8 *batch;
    u32 batch_size;
    u64 total_bytes;
    u64 appended_bytes;
    u64 batches;
    u8 *read_buffer;
    i64 read_offset;
    u64 read_bytes;
    double started;
    double append_seconds;
    double read_seconds;
    int phase; /* 0 append, 1 flush, 2 read, 3 done */
};

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_append(struct bench *bench)
{
    if (partition_log_append(&bench->log, bench->batch, bench->batch_size, -1, true, 1) !=
        LOG_OK) {
        fprintf(stderr, "append refused\n");
        exit(1);
    }
}

static void bench_read_next(struct bench *bench)
{
    if (bench->read_offset >= partition_log_end_offset(&bench->log)) {
        bench->read_seconds = bench_now() - bench->started;
        bench->phase = 3;
        io_real_stop(bench->real, false);
        return;
    }
    if (partition_log_read(&bench->log, bench->read_offset, 1 << 20, INT64_MAX, 3) != LOG_OK) {
        fprintf(stderr, "read refused\n");
        exit(1);
    }
}

static void bench_on_event(void *owner, const struct log_event *event)
{
    struct bench *bench = owner;
    if (event->result != LOG_OK) {
        fprintf(stderr, "log event %d failed: %s\n", event->kind, log_result_name(event->result));
        exit(1);
    }
    switch (event->kind) {
    case LOG_EVENT_OPENED:
        bench->started = bench_now();
        bench_append(bench);
        return;
    case LOG_EVENT_APPENDED:
        bench->appended_bytes += bench->batch_size;
        bench->batches++;
        if (bench->appended_bytes < bench->total_bytes) {
            bench_append(bench);
            return;
        }
        if (partition_log_flush(&bench->log, INT64_MAX, 2) != LOG_OK) exit(1);
        return;
    case LOG_EVENT_FLUSHED:
        bench->append_seconds = bench_now() - bench->started;
        bench->started = bench_now();
        bench->phase = 2;
        bench_read_next(bench);
        return;
    case LOG_EVENT_READ:
        if (event->range.size == 0) {
            fprintf(stderr, "empty read at %lld\n", (long long)bench->read_offset);
            exit(1);
        }
        bench->read_offset = event->range.next_offset;
        /* Read the bytes as a fetch would send them (sendfile needs a socket). */
        if (io_file_read(bench->io, event->range.file, event->range.position,
                         bench->read_buffer, event->range.size, 99) != IO_OK) {
            exit(1);
        }
        return;
    default: return;
    }
}

static void bench_on_file(void *process, const struct io_completion *completion)
{
    struct bench *bench = process;
    if (partition_log_owns(&bench->log, completion->user_data)) {
        partition_log_on_file(&bench->log, completion);
        return;
    }
    if (completion->result != IO_OK) exit(1);
    bench->read_bytes += completion->size; /* Our own read of a range. */
    bench_read_next(bench);
}

static void bench_on_start(void *process)
{
    struct bench *bench = process;
    if (partition_log_open(&bench->log, 0) != LOG_OK) exit(1);
}

static void bench_on_timer(void *p, u32 t) { (void)p, (void)t; }
static void bench_on_conn(void *p, io_conn c, enum io_conn_event e, enum io_close_reason r,
                          u64 t)
{
    (void)p, (void)c, (void)e, (void)r, (void)t;
}
static void bench_on_frame(void *p, io_conn c, const u8 *f, u32 s)
{
    (void)p, (void)c, (void)f, (void)s;
}
static void bench_on_stop(void *p) { (void)p; }

static const struct io_handler_vtable bench_handler = {
    bench_on_start, bench_on_timer, bench_on_conn, bench_on_frame, bench_on_file, bench_on_stop,
};

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: log_bench <data dir> <batch bytes> <total MiB>\n");
        return 2;
    }
    static struct bench bench;
    u32 batch_bytes = (u32)strtoul(argv[2], NULL, 10);
    bench.total_bytes = strtoull(argv[3], NULL, 10) << 20;
    struct io_real_options options = {.data_dir = argv[1], .log_level = IO_LOG_WARN};
    char error[256];
    bench.real = io_real_create(&options, error, sizeof(error));
    if (bench.real == NULL) {
        fprintf(stderr, "io_real_create: %s\n", error);
        return 1;
    }
    bench.io = io_real_io(bench.real);
    bench.batch = malloc(batch_bytes + 1024);
    bench.read_buffer = malloc(2u << 20);
    u8 *value = calloc(1, batch_bytes + 1024);
    for (u32 i = 0; i < batch_bytes; i++) value[i] = (u8)(i * 31 + 7);
    /* A batch of exactly batch_bytes (the record's value takes up the rest), so that appends
     * write whole pages as dd does. */
    u32 value_size = batch_bytes > 100 ? batch_bytes - 80 : batch_bytes;
    for (u32 attempt = 0; attempt < 4; attempt++) {
        struct batch_builder builder;
        batch_builder_init(&builder, bench.batch, batch_bytes + 1024, 0, 1700000000000);
        batch_builder_add(&builder, 1700000000000, NULL, -1, value, (i32)value_size, NULL, 0);
        bench.batch_size = (u32)batch_builder_finish(&builder);
        if (bench.batch_size == batch_bytes) break;
        value_size = value_size + batch_bytes - bench.batch_size;
    }
    struct partition_log_params params = {
        .topic = "bench", .partition = 0, .root = "", .io_tag = 1,
        .on_event = bench_on_event, .owner = &bench,
    };
    log_config_defaults(&params.config);
    if (!partition_log_init(&bench.log, bench.io, &params)) return 1;
    io_real_bind(bench.real, &bench_handler, &bench);
    io_real_run(bench.real);
    double append_mb = (double)bench.appended_bytes / bench.append_seconds / 1e6;
    printf("append %.1f MB/s %.0f batches/s (%u-byte batches, %llu MiB, flush included)\n",
           append_mb, (double)bench.batches / bench.append_seconds, bench.batch_size,
           (unsigned long long)(bench.appended_bytes >> 20));
    printf("read %.1f MB/s (1 MiB fetches)\n",
           (double)bench.read_bytes / bench.read_seconds / 1e6);
    partition_log_deinit(&bench.log);
    io_real_destroy(bench.real);
    free(bench.batch);
    free(bench.read_buffer);
    free(value);
    return 0;
}
