/* The partition log over the real runtime (impl/runtime/io_real.c) on real files in a fresh
 * temporary directory: the same code as in the simulator, with pwrite, fdatasync, rename and
 * readdir underneath. Appends roll segments, reads return whole batches, a close and reopen
 * loads the indexes, and a tail torn by truncate(2) and garbage appended to the active segment
 * are cut by recovery. Also checks the file names on disk are Kafka's. */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "../../impl/log/partition_log.h"
#include "../../impl/runtime/io_real.h"

struct real_owner {
    struct io_real *real;
    struct partition_log log;
    struct log_event last;
    u32 events;
    char directory[64];
};

static void real_on_event(void *owner, const struct log_event *event)
{
    struct real_owner *r = owner;
    r->last = *event;
    r->events++;
}

static void real_on_file(void *process, const struct io_completion *completion)
{
    struct real_owner *r = process;
    ASSERT(partition_log_owns(&r->log, completion->user_data));
    partition_log_on_file(&r->log, completion);
}
static void real_on_start(void *p) { (void)p; }
static void real_on_timer(void *p, u32 t) { (void)p, (void)t; }
static void real_on_conn(void *p, io_conn c, enum io_conn_event e, enum io_close_reason r, u64 t)
{
    (void)p, (void)c, (void)e, (void)r, (void)t;
}
static void real_on_frame(void *p, io_conn c, const u8 *f, u32 s)
{
    (void)p, (void)c, (void)f, (void)s;
}
static void real_on_stop(void *p) { (void)p; }

static const struct io_handler_vtable real_handler = {
    real_on_start, real_on_timer, real_on_conn, real_on_frame, real_on_file, real_on_stop,
};

/* Runs the loop until one more event arrived. */
static struct log_event real_wait(struct real_owner *r)
{
    u32 before = r->events;
    for (u32 i = 0; i < 100000 && r->events == before; i++) io_real_run_once(r->real, 10);
    ASSERT(r->events == before + 1);
    return r->last;
}

static void real_start(struct real_owner *r)
{
    struct io_real_options options = {.data_dir = r->directory, .log_level = IO_LOG_ERROR};
    char error[256];
    r->real = io_real_create(&options, error, sizeof(error));
    ASSERT(r->real != NULL);
    io_real_bind(r->real, &real_handler, r);
    struct partition_log_params params = {
        .topic = "orders", .partition = 2, .root = "", .io_tag = 3, .on_event = real_on_event,
        .owner = r,
    };
    log_config_defaults(&params.config);
    params.config.segment_bytes = 64 * 1024;
    params.config.index_interval_bytes = 4096;
    ASSERT(partition_log_init(&r->log, io_real_io(r->real), &params));
    ASSERT(partition_log_open(&r->log, 0) == LOG_OK);
    struct log_event event = real_wait(r);
    ASSERT(event.kind == LOG_EVENT_OPENED && event.result == LOG_OK);
}

static void real_stop(struct real_owner *r, bool clean)
{
    if (clean) {
        ASSERT(partition_log_close(&r->log, 0) == LOG_OK);
        ASSERT(real_wait(r).kind == LOG_EVENT_CLOSED);
    }
    partition_log_deinit(&r->log);
    io_real_destroy(r->real);
}

static u32 count_files(const char *directory, const char *suffix)
{
    DIR *dir = opendir(directory);
    if (dir == NULL) return 0;
    u32 count = 0;
    for (struct dirent *entry = readdir(dir); entry != NULL; entry = readdir(dir)) {
        size_t length = strlen(entry->d_name), suffix_length = strlen(suffix);
        if (length == 20 + suffix_length && strcmp(entry->d_name + 20, suffix) == 0) count++;
    }
    closedir(dir);
    return count;
}

static u8 batch[8192];

TEST(real_files_append_roll_read_reopen_recover)
{
    static struct real_owner r;
    memset(&r, 0, sizeof(r));
    snprintf(r.directory, sizeof(r.directory), "/tmp/cairn-log-XXXXXX");
    REQUIRE(mkdtemp(r.directory) != NULL);
    real_start(&r);
    for (u32 i = 0; i < 100; i++) {
        struct batch_builder builder;
        batch_builder_init(&builder, batch, sizeof(batch), 0, 1000 + i);
        u8 value[2000];
        memset(value, (int)i, sizeof(value));
        for (u32 k = 0; k < 2; k++) {
            batch_builder_add(&builder, 1000 + i, NULL, -1, value, 2000, NULL, 0);
        }
        u32 size = (u32)batch_builder_finish(&builder);
        REQUIRE(partition_log_append(&r.log, batch, size, 1, true, 0) == LOG_OK);
        struct log_event event = real_wait(&r);
        REQUIRE(event.result == LOG_OK);
        CHECK(event.offset == 2 * (i64)i);
    }
    u32 segments = r.log.segment_count;
    CHECK(segments >= 3);
    char path[128];
    snprintf(path, sizeof(path), "%s/orders-2", r.directory);
    CHECK_EQ_U64(count_files(path, ".log"), segments);
    CHECK_EQ_U64(count_files(path, ".index"), segments);
    CHECK_EQ_U64(count_files(path, ".timeindex"), segments);
    REQUIRE(partition_log_read(&r.log, 51, 10000, INT64_MAX, 0) == LOG_OK);
    struct log_event read = real_wait(&r);
    CHECK(read.result == LOG_OK);
    CHECK(read.range.first_offset == 50);
    CHECK(read.range.size > 0 && read.range.size <= 10000 + 4100);
    real_stop(&r, true);

    /* Reopen: everything is there. */
    real_start(&r);
    CHECK(partition_log_end_offset(&r.log) == 200);
    CHECK_EQ_U64(r.log.segment_count, segments);
    i64 active_base = r.log.segments[segments - 1].base_offset;
    u64 active_size = r.log.segments[segments - 1].size;
    real_stop(&r, false);

    /* Tear the tail of the active segment mid-batch and append garbage: recovery cuts both. */
    snprintf(path, sizeof(path), "%s/orders-2/%020lld.log", r.directory, (long long)active_base);
    REQUIRE(truncate(path, (off_t)(active_size - 100)) == 0);
    int fd = open(path, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    u8 garbage[777];
    memset(garbage, 0xAB, sizeof(garbage));
    REQUIRE(write(fd, garbage, sizeof(garbage)) == (ssize_t)sizeof(garbage));
    close(fd);
    real_start(&r);
    CHECK(partition_log_end_offset(&r.log) == 198); /* The last batch (2 records) is gone. */
    CHECK(r.log.segments[segments - 1].size < active_size);
    real_stop(&r, true);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", r.directory);
    CHECK(system(command) == 0);
}

static const struct test_case tests[] = {
    {"real_files_append_roll_read_reopen_recover", real_files_append_roll_read_reopen_recover},
};

TEST_MAIN(tests)
