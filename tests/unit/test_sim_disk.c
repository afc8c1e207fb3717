/* test_sim_disk.c: the disk model's durability rules, directly (disk.c) and through a test
 * process's io (io_sim.c): synced data survives a crash, unsynced bytes may be lost, a torn
 * write keeps a prefix cut at a sector boundary, a sync covers only earlier operations and waits
 * for them, metadata operations, corruption, injected read errors and the slow disk. */
#include "test.h"

#include "../../sim/world.h"

static void fill(u8 *bytes, u32 size, u8 seed)
{
    for (u32 i = 0; i < size; i++) bytes[i] = (u8)(seed + i * 7);
}

TEST(synced_data_survives_crash)
{
    for (u64 seed = 1; seed <= 50; seed++) {
        struct disk disk;
        disk_init(&disk);
        struct prng prng = prng_stream(seed, PRNG_STREAM_TEST);
        u32 file = disk_create(&disk, "p/0.log");
        u8 data[4096];
        fill(data, sizeof(data), 3);
        disk_write(&disk, file, 0, data, sizeof(data), disk_issue_seq(&disk));
        disk_sync(&disk, file, disk_issue_seq(&disk));
        disk_crash(&disk, &prng);
        REQUIRE(disk_find(&disk, "p/0.log") == (i32)file);
        CHECK_EQ_U64(disk_size(&disk, file), sizeof(data));
        u8 back[4096];
        CHECK_EQ_U64(disk_read(&disk, file, 0, back, sizeof(back)), sizeof(back));
        CHECK(memcmp(back, data, sizeof(data)) == 0);
        CHECK_EQ_U64(disk.stats.bytes_lost_to_crash, 0);
        disk_free(&disk);
    }
}

TEST(unsynced_write_lost_kept_or_torn_at_sector_boundary)
{
    u32 lost = 0, kept = 0, torn = 0;
    for (u64 seed = 1; seed <= 300; seed++) {
        struct disk disk;
        disk_init(&disk);
        struct prng prng = prng_stream(seed, PRNG_STREAM_TEST);
        u32 file = disk_create(&disk, "log");
        u8 data[5120];
        fill(data, sizeof(data), (u8)seed);
        disk_write(&disk, file, 0, data, 1024, disk_issue_seq(&disk));
        disk_sync(&disk, file, disk_issue_seq(&disk));
        disk_write(&disk, file, 1024, data + 1024, 4096, disk_issue_seq(&disk)); /* 8 sectors */
        CHECK_EQ_U64(disk_size(&disk, file), 5120); /* Visible before the crash. */
        disk_crash(&disk, &prng);
        u64 size = disk_size(&disk, file);
        REQUIRE(size >= 1024 && size <= 5120);
        CHECK_EQ_U64(size % DISK_SECTOR_SIZE, 0);
        u8 back[5120];
        CHECK_EQ_U64(disk_read(&disk, file, 0, back, sizeof(back)), size);
        CHECK(memcmp(back, data, size) == 0); /* A prefix of what was written, nothing else. */
        CHECK_EQ_U64(disk.stats.bytes_lost_to_crash, 5120 - size);
        CHECK_EQ_U64(disk.stats.writes_torn, size > 1024 && size < 5120);
        lost += size == 1024;
        kept += size == 5120;
        torn += size > 1024 && size < 5120;
        disk_free(&disk);
    }
    CHECK(lost > 0);
    CHECK(kept > 0);
    CHECK(torn > 0);
}

TEST(sync_covers_only_earlier_operations)
{
    struct disk disk;
    disk_init(&disk);
    u32 file = disk_create(&disk, "f");
    u8 x[512], y[512];
    memset(x, 'x', sizeof(x));
    memset(y, 'y', sizeof(y));
    u64 write_x = disk_issue_seq(&disk);
    u64 sync = disk_issue_seq(&disk);
    u64 write_y = disk_issue_seq(&disk); /* Issued after the sync, completes before it. */
    disk_write(&disk, file, 0, x, 512, write_x);
    disk_write(&disk, file, 512, y, 512, write_y);
    disk_sync(&disk, file, sync);
    const struct disk_file *entry = &disk.files[file];
    CHECK_EQ_U64(entry->durable.size, 512);
    CHECK_EQ_U64(entry->current.size, 1024);
    CHECK_EQ_U64(entry->pending_count, 1);
    CHECK(entry->durable.bytes[0] == 'x');
    disk_free(&disk);
}

TEST(truncate_durable_only_after_sync)
{
    struct disk disk;
    disk_init(&disk);
    u32 file = disk_create(&disk, "f");
    u8 data[2048];
    fill(data, sizeof(data), 1);
    disk_write(&disk, file, 0, data, sizeof(data), disk_issue_seq(&disk));
    disk_sync(&disk, file, disk_issue_seq(&disk));
    disk_truncate(&disk, file, 512, disk_issue_seq(&disk));
    CHECK_EQ_U64(disk_size(&disk, file), 512);
    CHECK_EQ_U64(disk.files[file].durable.size, 2048);
    disk_sync(&disk, file, disk_issue_seq(&disk));
    CHECK_EQ_U64(disk.files[file].durable.size, 512);
    disk_free(&disk);
}

TEST(rename_remove_list)
{
    struct disk disk;
    disk_init(&disk);
    disk_create(&disk, "a/2.log");
    disk_create(&disk, "a/1.log");
    disk_create(&disk, "a/b/3.log");
    disk_create(&disk, "top");
    u8 names[64];
    u32 used = 0, count = 0;
    CHECK(disk_list(&disk, "a", names, sizeof(names), &used, &count) == IO_OK);
    CHECK_EQ_U64(count, 2);
    CHECK(used == 12 && memcmp(names, "1.log\0002.log\000", 12) == 0);
    CHECK(disk_list(&disk, "", names, sizeof(names), &used, &count) == IO_OK);
    CHECK(count == 1 && strcmp((char *)names, "top") == 0);
    CHECK(disk_list(&disk, "a", names, 8, &used, &count) == IO_ERR_LIMIT);
    CHECK(disk_rename(&disk, "a/2.log", "a/1.log") == IO_OK); /* Replaces the target. */
    CHECK(disk_find(&disk, "a/2.log") < 0);
    CHECK(disk_find(&disk, "a/1.log") >= 0);
    CHECK(disk_list(&disk, "a/", names, sizeof(names), &used, &count) == IO_OK);
    CHECK_EQ_U64(count, 1);
    CHECK(disk_rename(&disk, "missing", "x") == IO_ERR_NOT_FOUND);
    CHECK(disk_remove(&disk, "top") == IO_OK);
    CHECK(disk_remove(&disk, "top") == IO_ERR_NOT_FOUND);
    disk_free(&disk);
}

TEST(removed_file_lives_while_referenced)
{
    struct disk disk;
    disk_init(&disk);
    u32 file = disk_create(&disk, "seg");
    disk_ref(&disk, file);
    CHECK(disk_remove(&disk, "seg") == IO_OK);
    u8 data[16] = {1, 2, 3};
    disk_write(&disk, file, 0, data, sizeof(data), disk_issue_seq(&disk));
    CHECK_EQ_U64(disk_size(&disk, file), 16);
    u32 again = disk_create(&disk, "seg"); /* A new file under the old name. */
    CHECK(again != file);
    CHECK_EQ_U64(disk_size(&disk, again), 0);
    disk_unref(&disk, file);
    CHECK(!disk.files[file].used);
    disk_free(&disk);
}

TEST(corruption_flips_one_bit_per_sector_seen_after_crash)
{
    struct disk disk;
    disk_init(&disk);
    struct prng prng = prng_stream(11, PRNG_STREAM_TEST);
    CHECK_EQ_U64(disk_corrupt(&disk, &prng, 3), 0); /* Nothing durable to hit. */
    u32 file = disk_create(&disk, "f");
    u8 zeros[8192] = {0};
    disk_write(&disk, file, 0, zeros, sizeof(zeros), disk_issue_seq(&disk));
    disk_sync(&disk, file, disk_issue_seq(&disk));
    CHECK_EQ_U64(disk_corrupt(&disk, &prng, 5), 5);
    CHECK_EQ_U64(disk.stats.sectors_corrupted, 5);
    u8 back[8192];
    CHECK_EQ_U64(disk_read(&disk, file, 0, back, sizeof(back)), sizeof(back));
    CHECK(memcmp(back, zeros, sizeof(zeros)) == 0); /* The page cache still holds good bytes. */
    disk_crash(&disk, &prng);
    CHECK_EQ_U64(disk_read(&disk, file, 0, back, sizeof(back)), sizeof(back));
    u32 bits = 0;
    for (u32 i = 0; i < sizeof(back); i++) bits += (u32)__builtin_popcount(back[i]);
    CHECK_EQ_U64(bits, 5);
    disk_free(&disk);
}

/* ===== Through a process's io ===== */

struct dp;
struct dp_factory {
    void (*script)(struct dp *dp, const struct io_completion *completion);
};

struct dp {
    struct io *io;
    const struct dp_factory *factory;
    u32 step;
    io_file file;
    u8 buffer[8192];
};

struct done {
    u64 time_ns;
    u32 op;
    u32 result;
    u64 user_data;
    u32 size;
    u64 file_size;
    u8 first_byte;
};

static struct done dones[1024];
static u32 done_count;

static void *dp_create(void *factory, struct io *io)
{
    struct dp *dp = calloc(1, sizeof(*dp));
    dp->io = io;
    dp->factory = factory;
    return dp;
}

static void dp_destroy(void *factory, void *process)
{
    (void)factory;
    free(process);
}

static void dp_on_start(void *process)
{
    struct dp *dp = process;
    dp->factory->script(dp, NULL);
}

static void dp_on_file(void *process, const struct io_completion *completion)
{
    struct dp *dp = process;
    ASSERT(done_count < ARRAY_LEN(dones));
    u8 first = completion->op == IO_FILE_READ && completion->size > 0 ? completion->buffer[0] : 0;
    dones[done_count++] = (struct done){io_now_ns(dp->io), completion->op, completion->result,
                                        completion->user_data, completion->size,
                                        completion->file_size, first};
    if (completion->op == IO_FILE_OPEN && completion->result == IO_OK) dp->file = completion->file;
    dp->factory->script(dp, completion);
}

static u8 frame_seen[64];
static u32 frame_seen_size;

static void dp_on_timer(void *process, u32 timer_id) { (void)process; (void)timer_id; }

/* Connected to itself: send the file's first 12 bytes (a whole frame), then overwrite them. */
static void dp_on_conn(void *process, io_conn conn, enum io_conn_event event,
                       enum io_close_reason reason, u64 tag)
{
    struct dp *dp = process;
    (void)reason;
    (void)tag;
    if (event != IO_CONN_CONNECTED) return;
    ASSERT(io_send_file(dp->io, conn, dp->file, 0, 12) == IO_OK);
    ASSERT(io_send_file(dp->io, conn, dp->file, 0, 4096) == IO_ERR_INVALID); /* Past the end. */
    memset(dp->buffer, 'X', 12);
    ASSERT(io_file_write(dp->io, dp->file, 4, dp->buffer, 8, 77) == IO_OK);
}

static void dp_on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    (void)process;
    (void)conn;
    ASSERT(size <= sizeof(frame_seen));
    memcpy(frame_seen, frame, size);
    frame_seen_size = size;
}
static void dp_on_stop(void *process) { (void)process; }

static const struct io_handler_vtable dp_handler = {
    dp_on_start, dp_on_timer, dp_on_conn, dp_on_frame, dp_on_file, dp_on_stop,
};

static struct scenario *disk_scenario(void)
{
    struct scenario *scenario = calloc(1, sizeof(*scenario));
    scenario->datacenter_count = 1;
    scenario->datacenters[0].lan_latency_min_ns = 100 * NS_PER_US;
    scenario->datacenters[0].lan_latency_max_ns = 300 * NS_PER_US;
    scenario->connection_timeout_ns = 3 * NS_PER_S;
    scenario->disk_latency_min_ns = 50 * NS_PER_US;
    scenario->disk_latency_max_ns = 2 * NS_PER_MS;
    return scenario;
}

static struct world *disk_world(struct scenario *scenario, u64 seed, struct dp_factory *factory)
{
    done_count = 0;
    struct world *world = world_create(scenario, seed);
    struct world_process_spec spec = {"n1", 0, 1, &dp_handler, dp_create, dp_destroy, factory, 0};
    world_process_add(world, &spec);
    return world;
}

/* Opens, issues 32 writes and a sync all at once, then nothing. */
static void script_burst(struct dp *dp, const struct io_completion *completion)
{
    if (completion == NULL) {
        ASSERT(io_file_open(dp->io, "burst", IO_OPEN_CREATE, 0) == IO_OK);
        return;
    }
    if (completion->op != IO_FILE_OPEN) return;
    memset(dp->buffer, 'w', sizeof(dp->buffer));
    for (u32 i = 0; i < 32; i++) {
        ASSERT(io_file_write(dp->io, dp->file, i * 512, dp->buffer, 512, 100 + i) == IO_OK);
    }
    ASSERT(io_file_sync(dp->io, dp->file, 999) == IO_OK);
    ASSERT(io_file_write(dp->io, dp->file, 32 * 512, dp->buffer, 512, 200) == IO_OK);
}

TEST(sync_waits_for_earlier_writes_while_completions_reorder)
{
    struct scenario *scenario = disk_scenario();
    struct dp_factory factory = {script_burst};
    struct world *world = disk_world(scenario, 5, &factory);
    world_run_until(world, NS_PER_S);
    REQUIRE(done_count == 35);
    u32 sync_index = 0, reordered = 0;
    u64 previous = 0;
    for (u32 i = 1; i < done_count; i++) {
        if (dones[i].user_data == 999) sync_index = i;
        if (dones[i].user_data >= 100 && dones[i].user_data < 132) {
            reordered += dones[i].user_data < previous;
            previous = dones[i].user_data;
        }
    }
    for (u32 i = 1; i < done_count; i++) {
        if (dones[i].user_data >= 100 && dones[i].user_data < 132) CHECK(i < sync_index);
    }
    CHECK(reordered > 0); /* The disk does reorder independent writes. */
    const struct disk_file *file = &world->processes[0]->disk.files[0];
    CHECK(file->durable.size >= 32 * 512); /* The sync made the 32 writes durable. */
    world_destroy(world);
    free(scenario);
}

/* Opens "data/log", writes sector A, syncs, writes sector B (left unsynced). After a restart
 * (step reset) it opens the file again and reads it back. */
static void script_durable(struct dp *dp, const struct io_completion *completion)
{
    if (completion == NULL) {
        const struct world_process *self = dp->io->context;
        bool first_life = self->starts == 1;
        u32 flags = first_life ? IO_OPEN_CREATE : 0;
        ASSERT(io_file_open(dp->io, "data/log", flags, first_life ? 1 : 2) == IO_OK);
        return;
    }
    if (completion->op == IO_FILE_OPEN && completion->user_data == 1) {
        memset(dp->buffer, 'A', 512);
        ASSERT(io_file_write(dp->io, dp->file, 0, dp->buffer, 512, 3) == IO_OK);
        ASSERT(io_file_sync(dp->io, dp->file, 4) == IO_OK);
    } else if (completion->op == IO_FILE_SYNC) {
        memset(dp->buffer, 'B', 512);
        ASSERT(io_file_write(dp->io, dp->file, 512, dp->buffer, 512, 5) == IO_OK);
    } else if (completion->op == IO_FILE_OPEN && completion->user_data == 2) {
        ASSERT(io_file_read(dp->io, dp->file, 0, dp->buffer, 4096, 6) == IO_OK);
    }
}

TEST(crash_keeps_synced_and_forgets_in_flight)
{
    u32 with_b = 0, without_b = 0;
    for (u64 seed = 1; seed <= 40; seed++) {
        struct scenario *scenario = disk_scenario();
        struct dp_factory factory = {script_durable};
        struct world *world = disk_world(scenario, seed, &factory);
        world_run_until(world, NS_PER_S);
        REQUIRE(done_count == 4); /* open, write A, sync, write B */
        /* Write B completed but was never synced: the crash may keep it or drop it. */
        CHECK(world_crash(world, 0));
        CHECK(world_restart(world, 0));
        world_run_until(world, 2 * NS_PER_S);
        REQUIRE(done_count == 6);
        CHECK_EQ_U64(dones[4].result, IO_OK);
        CHECK(dones[4].file_size == 512 || dones[4].file_size == 1024);
        CHECK_EQ_U64(dones[5].size, dones[4].file_size);
        CHECK(dones[5].first_byte == 'A');
        with_b += dones[4].file_size == 1024;
        without_b += dones[4].file_size == 512;
        world_destroy(world);
        free(scenario);
    }
    CHECK(with_b > 0);
    CHECK(without_b > 0);
}

/* Creates a 1-sector file and reads it three times in sequence. */
static void script_reads(struct dp *dp, const struct io_completion *completion)
{
    if (completion == NULL) {
        ASSERT(io_file_open(dp->io, "r", IO_OPEN_CREATE, 0) == IO_OK);
    } else if (completion->op == IO_FILE_OPEN) {
        memset(dp->buffer, 'r', 512);
        ASSERT(io_file_write(dp->io, dp->file, 0, dp->buffer, 512, 0) == IO_OK);
    } else if (completion->op == IO_FILE_WRITE || (completion->op == IO_FILE_READ &&
                                                   dp->step < 3)) {
        dp->step++;
        ASSERT(io_file_read(dp->io, dp->file, 0, dp->buffer, 512, dp->step) == IO_OK);
    }
}

TEST(injected_read_errors_then_recovery)
{
    struct scenario *scenario = disk_scenario();
    struct dp_factory factory = {script_reads};
    struct world *world = disk_world(scenario, 9, &factory);
    CHECK(world_disk_read_errors(world, 0, 2));
    world_run_until(world, NS_PER_S);
    REQUIRE(done_count == 5);
    CHECK_EQ_U64(dones[2].result, IO_ERR_IO);
    CHECK_EQ_U64(dones[3].result, IO_ERR_IO);
    CHECK_EQ_U64(dones[4].result, IO_OK);
    CHECK_EQ_U64(dones[4].size, 512);
    CHECK_EQ_U64(world->stats.read_errors, 2);
    world_destroy(world);
    free(scenario);
}

TEST(slow_disk_multiplies_latency)
{
    struct scenario *scenario = disk_scenario();
    struct dp_factory factory = {script_reads};
    struct world *world = disk_world(scenario, 9, &factory);
    CHECK(world_disk_slow(world, 0, 100));
    world_run_until(world, 10 * NS_PER_S);
    REQUIRE(done_count == 5);
    for (u32 i = 1; i < done_count; i++) {
        CHECK(dones[i].time_ns - dones[i - 1].time_ns >= 100 * scenario->disk_latency_min_ns);
    }
    CHECK_EQ_U64(world->processes[0]->disk_ops_slowed, 5);
    world_destroy(world);
    free(scenario);
}

/* Writes a framed record to a file, then sends it to itself with send_file. */
static void script_send_file(struct dp *dp, const struct io_completion *completion)
{
    if (completion == NULL) {
        ASSERT(io_file_open(dp->io, "seg.log", IO_OPEN_CREATE, 0) == IO_OK);
    } else if (completion->op == IO_FILE_OPEN) {
        store_u32_be(dp->buffer, 8);
        memcpy(dp->buffer + 4, "abcdefgh", 8);
        ASSERT(io_file_write(dp->io, dp->file, 0, dp->buffer, 12, 1) == IO_OK);
    } else if (completion->op == IO_FILE_WRITE && completion->user_data == 1) {
        ASSERT(io_listen(dp->io, "n1:9000", 0, 1024) == IO_OK);
        ASSERT(io_connect(dp->io, "n1:9000", 0, 1024) != 0);
    }
}

TEST(send_file_snapshots_bytes_at_send_time)
{
    struct scenario *scenario = disk_scenario();
    struct dp_factory factory = {script_send_file};
    frame_seen_size = 0;
    struct world *world = disk_world(scenario, 3, &factory);
    world_run_until(world, NS_PER_S);
    CHECK_EQ_U64(frame_seen_size, 8);
    CHECK(memcmp(frame_seen, "abcdefgh", 8) == 0); /* Not the 'X's written afterwards. */
    CHECK_EQ_U64(done_count, 3);                   /* open, write, overwrite */
    world_destroy(world);
    free(scenario);
}

static const struct test_case tests[] = {
    {"send_file_snapshots_bytes_at_send_time", send_file_snapshots_bytes_at_send_time},
    {"synced_data_survives_crash", synced_data_survives_crash},
    {"unsynced_write_lost_kept_or_torn_at_sector_boundary",
     unsynced_write_lost_kept_or_torn_at_sector_boundary},
    {"sync_covers_only_earlier_operations", sync_covers_only_earlier_operations},
    {"truncate_durable_only_after_sync", truncate_durable_only_after_sync},
    {"rename_remove_list", rename_remove_list},
    {"removed_file_lives_while_referenced", removed_file_lives_while_referenced},
    {"corruption_flips_one_bit_per_sector_seen_after_crash",
     corruption_flips_one_bit_per_sector_seen_after_crash},
    {"sync_waits_for_earlier_writes_while_completions_reorder",
     sync_waits_for_earlier_writes_while_completions_reorder},
    {"crash_keeps_synced_and_forgets_in_flight", crash_keeps_synced_and_forgets_in_flight},
    {"injected_read_errors_then_recovery", injected_read_errors_then_recovery},
    {"slow_disk_multiplies_latency", slow_disk_multiplies_latency},
};
TEST_MAIN(tests)
