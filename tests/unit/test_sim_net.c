/* test_sim_net.c: the simulated network through small test processes (a server that listens
 * and may echo, a client that connects and sends numbered frames): stream order under jitter,
 * refusals, partition stalls and heals, stall timeouts, one-way cuts, the frame limit, resets
 * after a crash, paused processes, read_pause, and same seed => same trace hash. */
#include "test.h"

#include "../../sim/world.h"

#include <zstd.h>

#define PORT 9000u

struct tp_spec {
    bool server;
    const char *peer; /* Client: endpoint to connect to. */
    u32 frame_max;
    u32 frames;        /* Client: frames to send. */
    u32 frame_size;    /* Payload bytes (>= 4). */
    u64 send_at_ns;    /* Client: when to send. */
    bool echo;         /* Server: send each frame back. */
    bool read_pause_first; /* Server: pause reading for 1s after the first frame. */
    u64 timer_at_ns;   /* Server: arm a timer then (0: none). */
    u64 probe_at_ns;   /* Client: record send_queued then (0: none). */
    bool hold_first;   /* Server: hold the first frame (io.h frame_hold), release it 1s later. */
    u64 close_at_ns;   /* Client: close its connection then (0: never). */
};

struct tp {
    struct io *io;
    const struct tp_spec *spec;
    io_conn conn;
    u32 received;
    u8 *held;
    u32 held_size;
};

static u32 held_intact_at_release; /* Releases that found the held bytes as they arrived. */

enum { REC_CONN = 1, REC_FRAME, REC_TIMER };

struct rec {
    u64 time_ns;
    u32 node;
    u32 what;
    u32 event;
    u32 reason;
    u32 seq;
};

static struct rec recs[20000];
static u32 rec_count;
static u64 queued_probe;

static void rec_add(struct tp *tp, u32 what, u32 event, u32 reason, u32 seq)
{
    ASSERT(rec_count < ARRAY_LEN(recs));
    recs[rec_count++] = (struct rec){io_now_ns(tp->io), tp->io->node_id, what, event, reason, seq};
}

static void *tp_create(void *factory, struct io *io)
{
    struct tp *tp = calloc(1, sizeof(*tp));
    tp->io = io;
    tp->spec = factory;
    return tp;
}

static void tp_destroy(void *factory, void *process)
{
    (void)factory;
    free(process);
}

static void tp_on_start(void *process)
{
    struct tp *tp = process;
    if (tp->spec->server) {
        enum io_result result = io_listen(tp->io, "srv:9000", 7, tp->spec->frame_max);
        ASSERT(result == IO_OK);
        if (tp->spec->timer_at_ns > 0) io_timer_set(tp->io, 3, tp->spec->timer_at_ns);
        return;
    }
    tp->conn = io_connect(tp->io, tp->spec->peer, 11, 1 << 20);
    ASSERT(tp->conn != 0);
    if (tp->spec->probe_at_ns > 0) io_timer_set(tp->io, 4, tp->spec->probe_at_ns);
}

static void tp_send_frame(struct tp *tp, io_conn conn, u32 seq, u32 size)
{
    u8 frame[4096];
    ASSERT(size + 4 <= sizeof(frame) && size >= 4);
    memset(frame, (int)(seq & 0xff), sizeof(frame));
    store_u32_be(frame, size);
    store_u32_be(frame + 4, seq);
    enum io_result result = io_send(tp->io, conn, frame, size + 4);
    ASSERT(result == IO_OK);
}

static void tp_on_timer(void *process, u32 timer_id)
{
    struct tp *tp = process;
    rec_add(tp, REC_TIMER, timer_id, 0, 0);
    if (timer_id == 1) {
        for (u32 i = 0; i < tp->spec->frames; i++) {
            tp_send_frame(tp, tp->conn, i, tp->spec->frame_size);
        }
    } else if (timer_id == 2) {
        io_read_pause(tp->io, tp->conn, false);
    } else if (timer_id == 4) {
        queued_probe = io_send_queued(tp->io, tp->conn);
    } else if (timer_id == 5) {
        /* Frame 0 is its sequence number then zeros (tp_send_frame's fill). */
        bool intact = load_u32_be(tp->held) == 0;
        for (u32 k = 4; k < tp->held_size; k++) intact = intact && tp->held[k] == 0;
        held_intact_at_release += intact;
        io_frame_release(tp->io, tp->conn);
        tp->held = NULL;
    } else if (timer_id == 6) {
        io_close(tp->io, tp->conn);
    }
}

static void tp_on_conn(void *process, io_conn conn, enum io_conn_event event,
                       enum io_close_reason reason, u64 tag)
{
    struct tp *tp = process;
    rec_add(tp, REC_CONN, event, reason, 0);
    if (event == IO_CONN_ACCEPTED) {
        ASSERT(tag == 7);
        tp->conn = conn;
    }
    if (event == IO_CONN_CONNECTED) {
        ASSERT(tag == 11);
        io_timer_set(tp->io, 1, MAX(io_now_ns(tp->io), tp->spec->send_at_ns));
        if (tp->spec->close_at_ns > 0) io_timer_set(tp->io, 6, tp->spec->close_at_ns);
    }
}

static void tp_on_frame(void *process, io_conn conn, const u8 *frame, u32 size)
{
    struct tp *tp = process;
    ASSERT(size >= 4);
    u32 seq = load_u32_be(frame);
    rec_add(tp, REC_FRAME, 0, 0, seq);
    if (tp->spec->echo) tp_send_frame(tp, conn, seq, size);
    if (tp->spec->read_pause_first && tp->received == 0) {
        io_read_pause(tp->io, conn, true);
        io_timer_set(tp->io, 2, io_now_ns(tp->io) + NS_PER_S);
    }
    if (tp->spec->hold_first && tp->received == 0) {
        tp->held = io_frame_hold(tp->io, conn, frame, size);
        tp->held_size = size;
        io_timer_set(tp->io, 5, io_now_ns(tp->io) + NS_PER_S);
    }
    tp->received++;
}

static void tp_on_file(void *process, const struct io_completion *completion)
{
    (void)process;
    (void)completion;
    ASSERT(false);
}

static void tp_on_stop(void *process) { (void)process; }

static const struct io_handler_vtable tp_handler = {
    tp_on_start, tp_on_timer, tp_on_conn, tp_on_frame, tp_on_file, tp_on_stop,
};

static struct scenario *test_scenario(u64 lan_max_ns)
{
    struct scenario *scenario = calloc(1, sizeof(*scenario));
    scenario->datacenter_count = 2;
    snprintf(scenario->datacenters[0].name, SCENARIO_NAME_MAX, "dc1");
    snprintf(scenario->datacenters[1].name, SCENARIO_NAME_MAX, "dc2");
    for (u32 i = 0; i < 2; i++) {
        scenario->datacenters[i].lan_latency_min_ns = 100 * NS_PER_US;
        scenario->datacenters[i].lan_latency_max_ns = lan_max_ns;
    }
    scenario->wan_latency_min_ns = 5 * NS_PER_MS;
    scenario->wan_latency_max_ns = 10 * NS_PER_MS;
    scenario->connection_timeout_ns = 3 * NS_PER_S;
    scenario->disk_latency_min_ns = 50 * NS_PER_US;
    scenario->disk_latency_max_ns = 2 * NS_PER_MS;
    return scenario;
}

/* Server "srv" is process 0 (node 1), client "cli" is process 1 (node 2). */
static struct world *net_world(struct scenario *scenario, u64 seed, struct tp_spec *server,
                               struct tp_spec *client)
{
    rec_count = 0;
    struct world *world = world_create(scenario, seed);
    struct world_process_spec spec = {"srv", 0, 1, &tp_handler, tp_create, tp_destroy, server, 0};
    CHECK_EQ_U64(world_process_add(world, &spec), 0);
    spec = (struct world_process_spec){"cli", 0, 2, &tp_handler, tp_create, tp_destroy, client,
                                       NS_PER_MS};
    CHECK_EQ_U64(world_process_add(world, &spec), 1);
    return world;
}

static u32 count_recs(u32 node, u32 what, u32 event, u32 reason)
{
    u32 count = 0;
    for (u32 i = 0; i < rec_count; i++) {
        const struct rec *r = &recs[i];
        if (r->node == node && r->what == what && r->event == event && r->reason == reason) count++;
    }
    return count;
}

/* Frames received by node are exactly 0..expected-1 in order; returns the first's time. */
static bool frames_in_order(u32 node, u32 expected, u64 *first_ns)
{
    u32 next = 0;
    for (u32 i = 0; i < rec_count; i++) {
        if (recs[i].node != node || recs[i].what != REC_FRAME) continue;
        if (recs[i].seq != next) return false;
        if (next == 0 && first_ns != NULL) *first_ns = recs[i].time_ns;
        next++;
    }
    return next == expected;
}

TEST(ordered_under_jitter)
{
    struct scenario *scenario = test_scenario(5 * NS_PER_MS); /* Jitter far above spacing. */
    struct tp_spec server = {.server = true, .frame_max = 1 << 20};
    struct tp_spec client = {.peer = "srv:9000", .frames = 300, .frame_size = 64};
    struct world *world = net_world(scenario, 1, &server, &client);
    world_run_until(world, NS_PER_S);
    CHECK_EQ_U64(count_recs(1, REC_CONN, IO_CONN_ACCEPTED, 0), 1);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CONNECTED, 0), 1);
    CHECK(frames_in_order(1, 300, NULL));
    CHECK_EQ_U64(world->net.frames_delivered, 300);
    world_destroy(world);
    free(scenario);
}

TEST(refused_unknown_host_and_no_listener)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20};
    struct tp_spec client = {.peer = "nobody:9000", .frames = 1, .frame_size = 8};
    struct world *world = net_world(scenario, 1, &server, &client);
    world_run_until(world, NS_PER_S);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_REFUSED), 1);
    world_destroy(world);
    client.peer = "srv:9001";
    world = net_world(scenario, 1, &server, &client);
    world_run_until(world, NS_PER_S);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_REFUSED), 1);
    CHECK_EQ_U64(count_recs(1, REC_CONN, IO_CONN_ACCEPTED, 0), 0);
    world_destroy(world);
    free(scenario);
}

TEST(partition_stalls_then_heal_delivers)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20};
    struct tp_spec client = {.peer = "srv:9000", .frames = 100, .frame_size = 32,
                             .send_at_ns = NS_PER_S, .probe_at_ns = 2 * NS_PER_S};
    struct world *world = net_world(scenario, 3, &server, &client);
    world_run_until(world, NS_PER_S / 2);
    CHECK(world_link_set(world, 1, 0, true));
    world_run_until(world, 2500 * NS_PER_MS);
    CHECK(frames_in_order(1, 0, NULL));
    CHECK(world->stats.messages_stalled >= 100);
    CHECK_EQ_U64(queued_probe, 100 * 36); /* Everything sent is still queued. */
    CHECK(world_heal_network(world));
    world_run_until(world, 3 * NS_PER_S);
    u64 first_ns = 0;
    CHECK(frames_in_order(1, 100, &first_ns));
    CHECK(first_ns >= 2500 * NS_PER_MS);
    CHECK_EQ_U64(count_recs(1, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_TIMEOUT), 0);
    CHECK_EQ_U64(world->stats.connections_broken, 0);
    world_destroy(world);
    free(scenario);
}

TEST(stall_longer_than_timeout_breaks_both_ends)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20};
    struct tp_spec client = {.peer = "srv:9000", .frames = 5, .frame_size = 32,
                             .send_at_ns = NS_PER_S};
    struct world *world = net_world(scenario, 4, &server, &client);
    world_run_until(world, NS_PER_S / 2);
    CHECK(world_link_set(world, 1, 0, true));
    world_run_until(world, 3900 * NS_PER_MS); /* Stalled at ~1s: not yet 3s. */
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_TIMEOUT), 0);
    world_run_until(world, 10 * NS_PER_S);
    CHECK_EQ_U64(count_recs(1, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_TIMEOUT), 1);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_TIMEOUT), 1);
    CHECK_EQ_U64(world->stats.connections_broken, 1);
    CHECK(frames_in_order(1, 0, NULL));
    /* Healing after the break delivers nothing from the dead connection. */
    world_heal_network(world);
    world_run_until(world, 12 * NS_PER_S);
    CHECK(frames_in_order(1, 0, NULL));
    world_destroy(world);
    free(scenario);
}

TEST(one_way_cut_blocks_only_one_direction)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20, .echo = true};
    struct tp_spec client = {.peer = "srv:9000", .frames = 20, .frame_size = 16,
                             .send_at_ns = NS_PER_S};
    struct world *world = net_world(scenario, 5, &server, &client);
    world_run_until(world, NS_PER_S / 2);
    struct node_set from = {0}, to = {0};
    node_set_add(&from, 0);
    node_set_add(&to, 1);
    CHECK(world_partition(world, &from, &to, true)); /* srv -> cli only. */
    world_run_until(world, 2 * NS_PER_S);
    CHECK(frames_in_order(1, 20, NULL)); /* cli -> srv flows. */
    CHECK(frames_in_order(2, 0, NULL));  /* Echoes stall. */
    CHECK(world->stats.messages_stalled > 0);
    world_heal_network(world);
    world_run_until(world, 3 * NS_PER_S);
    CHECK(frames_in_order(2, 20, NULL));
    world_destroy(world);
    free(scenario);
}

TEST(connect_across_cut_times_out)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20};
    struct tp_spec client = {.peer = "srv:9000", .frames = 1, .frame_size = 8};
    struct world *world = net_world(scenario, 6, &server, &client);
    CHECK(world_isolate(world, 0));
    world_run_until(world, 2 * NS_PER_S);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_TIMEOUT), 0);
    world_run_until(world, 4 * NS_PER_S);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_TIMEOUT), 1);
    CHECK_EQ_U64(count_recs(1, REC_CONN, IO_CONN_ACCEPTED, 0), 0);
    world_destroy(world);
    free(scenario);
}

TEST(frame_over_limit_closes)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 64};
    struct tp_spec client = {.peer = "srv:9000", .frames = 2, .frame_size = 100};
    struct world *world = net_world(scenario, 7, &server, &client);
    world_run_until(world, NS_PER_S);
    CHECK_EQ_U64(count_recs(1, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_FRAME_LIMIT), 1);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_RESET), 1);
    CHECK(frames_in_order(1, 0, NULL));
    world_destroy(world);
    /* At the limit exactly is fine. */
    client.frame_size = 64;
    world = net_world(scenario, 7, &server, &client);
    world_run_until(world, NS_PER_S);
    CHECK(frames_in_order(1, 2, NULL));
    world_destroy(world);
    free(scenario);
}

TEST(crash_resets_peer_or_times_out_across_cut)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20};
    struct tp_spec client = {.peer = "srv:9000", .frames = 1, .frame_size = 8};
    struct world *world = net_world(scenario, 8, &server, &client);
    world_run_until(world, NS_PER_S);
    CHECK(world_crash(world, 0));
    CHECK(!world_crash(world, 0)); /* Already down: no effect. */
    world_run_until(world, NS_PER_S + NS_PER_MS);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_RESET), 1);
    /* Restarted, it listens again and a new connection is refused no more. */
    CHECK(world_restart(world, 0));
    world_run_until(world, 2 * NS_PER_S);
    world_destroy(world);

    world = net_world(scenario, 8, &server, &client);
    world_run_until(world, NS_PER_S);
    CHECK(world_isolate(world, 0));
    CHECK(world_crash(world, 0));
    world_run_until(world, 10 * NS_PER_S);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_RESET), 0);
    CHECK_EQ_U64(count_recs(2, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_TIMEOUT), 1);
    world_destroy(world);
    free(scenario);
}

TEST(paused_process_receives_nothing_until_resumed)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20,
                             .timer_at_ns = 1200 * NS_PER_MS};
    struct tp_spec client = {.peer = "srv:9000", .frames = 50, .frame_size = 16,
                             .send_at_ns = NS_PER_S};
    struct world *world = net_world(scenario, 9, &server, &client);
    world_run_until(world, NS_PER_S / 2);
    CHECK(world_pause(world, 0));
    world_run_until(world, 2 * NS_PER_S);
    CHECK(frames_in_order(1, 0, NULL));
    CHECK_EQ_U64(count_recs(1, REC_TIMER, 3, 0), 0);
    CHECK(world_resume(world, 0));
    world_run_until(world, 2 * NS_PER_S);
    u64 first_ns = 0;
    CHECK(frames_in_order(1, 50, &first_ns));
    CHECK_EQ_U64(first_ns, 2 * NS_PER_S);
    CHECK_EQ_U64(count_recs(1, REC_TIMER, 3, 0), 1);
    /* Held events keep their order: the frames (due ~1.0s) before the timer (due 1.2s). */
    u32 timer_index = 0, last_frame_index = 0;
    for (u32 i = 0; i < rec_count; i++) {
        if (recs[i].node != 1) continue;
        if (recs[i].what == REC_TIMER) timer_index = i;
        if (recs[i].what == REC_FRAME) last_frame_index = i;
    }
    CHECK(last_frame_index < timer_index);
    CHECK_EQ_U64(world->stats.connections_broken, 0); /* A pause is not a network fault. */
    world_destroy(world);
    free(scenario);
}

TEST(read_pause_holds_frames)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20, .read_pause_first = true};
    struct tp_spec client = {.peer = "srv:9000", .frames = 10, .frame_size = 16,
                             .send_at_ns = NS_PER_S};
    struct world *world = net_world(scenario, 10, &server, &client);
    world_run_until(world, 1500 * NS_PER_MS);
    CHECK(frames_in_order(1, 1, NULL));
    world_run_until(world, 3 * NS_PER_S);
    CHECK(frames_in_order(1, 10, NULL));
    u32 late = 0;
    for (u32 i = 0; i < rec_count; i++) {
        if (recs[i].node == 1 && recs[i].what == REC_FRAME && recs[i].time_ns >= 2 * NS_PER_S) {
            late++;
        }
    }
    CHECK_EQ_U64(late, 9);
    world_destroy(world);
    free(scenario);
}

/* A held frame keeps the frames behind it back until its release, and its bytes stay as they
 * arrived although more arrive behind it, the connection closes, or (ASan's leak check) the
 * process crashes while holding. */
TEST(frame_hold_keeps_frames_back_and_outlives_the_connection)
{
    struct scenario *scenario = test_scenario(300 * NS_PER_US);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20, .hold_first = true};
    struct tp_spec client = {.peer = "srv:9000", .frames = 10, .frame_size = 16,
                             .send_at_ns = NS_PER_S};
    held_intact_at_release = 0;
    struct world *world = net_world(scenario, 10, &server, &client);
    world_run_until(world, 1500 * NS_PER_MS);
    CHECK(frames_in_order(1, 1, NULL));
    world_run_until(world, 3 * NS_PER_S);
    CHECK(frames_in_order(1, 10, NULL));
    CHECK_EQ_U64(held_intact_at_release, 1);
    world_destroy(world);

    client.close_at_ns = 1200 * NS_PER_MS;
    world = net_world(scenario, 11, &server, &client);
    world_run_until(world, 3 * NS_PER_S);
    CHECK_EQ_U64(count_recs(1, REC_CONN, IO_CONN_CLOSED, IO_CLOSE_RESET), 1);
    CHECK_EQ_U64(held_intact_at_release, 2);
    world_destroy(world);

    world = net_world(scenario, 12, &server, &client);
    world_run_until(world, 1500 * NS_PER_MS);
    CHECK(world_crash(world, 0));
    world_run_until(world, 3 * NS_PER_S);
    CHECK_EQ_U64(held_intact_at_release, 2);
    world_destroy(world);
    free(scenario);
}

static u64 run_hash(u64 seed, const char *trace_path)
{
    struct scenario *scenario = test_scenario(2 * NS_PER_MS);
    struct tp_spec server = {.server = true, .frame_max = 1 << 20, .echo = true};
    struct tp_spec client = {.peer = "srv:9000", .frames = 100, .frame_size = 40,
                             .send_at_ns = 10 * NS_PER_MS};
    struct world *world = net_world(scenario, seed, &server, &client);
    if (trace_path != NULL) ASSERT(trace_open_file(&world->trace, trace_path));
    world_run_until(world, NS_PER_S);
    world_link_set(world, 1, 0, true);
    world_run_until(world, 2 * NS_PER_S);
    world_heal_network(world);
    world_run_until(world, 3 * NS_PER_S);
    u64 hash = world->trace.hash;
    ASSERT(trace_close(&world->trace));
    world_destroy(world);
    free(scenario);
    return hash;
}

TEST(same_seed_same_hash_different_seed_different_hash)
{
    u64 first = run_hash(21, NULL);
    CHECK_EQ_U64(run_hash(21, NULL), first);
    CHECK(run_hash(22, NULL) != first);
    /* Writing the text trace does not change the hash. */
    CHECK_EQ_U64(run_hash(21, "/tmp/test_sim_net_trace.zst"), first);
}

TEST(trace_file_decompresses)
{
    (void)run_hash(23, "/tmp/test_sim_net_trace.zst");
    FILE *file = fopen("/tmp/test_sim_net_trace.zst", "rb");
    REQUIRE(file != NULL);
    static u8 compressed[1 << 20], text[8 << 20];
    size_t size = fread(compressed, 1, sizeof(compressed), file);
    fclose(file);
    REQUIRE(size > 0);
    ZSTD_DStream *stream = ZSTD_createDStream();
    ZSTD_inBuffer input = {compressed, size, 0};
    ZSTD_outBuffer output = {text, sizeof(text) - 1, 0};
    size_t rc = ZSTD_decompressStream(stream, &output, &input);
    ZSTD_freeDStream(stream);
    REQUIRE(!ZSTD_isError(rc));
    text[output.pos] = 0;
    CHECK(strstr((char *)text, " frame ") != NULL);
    CHECK(strstr((char *)text, "srv") != NULL);
    remove("/tmp/test_sim_net_trace.zst");
}

static const struct test_case tests[] = {
    {"ordered_under_jitter", ordered_under_jitter},
    {"refused_unknown_host_and_no_listener", refused_unknown_host_and_no_listener},
    {"partition_stalls_then_heal_delivers", partition_stalls_then_heal_delivers},
    {"stall_longer_than_timeout_breaks_both_ends", stall_longer_than_timeout_breaks_both_ends},
    {"one_way_cut_blocks_only_one_direction", one_way_cut_blocks_only_one_direction},
    {"connect_across_cut_times_out", connect_across_cut_times_out},
    {"frame_over_limit_closes", frame_over_limit_closes},
    {"crash_resets_peer_or_times_out_across_cut", crash_resets_peer_or_times_out_across_cut},
    {"paused_process_receives_nothing_until_resumed",
     paused_process_receives_nothing_until_resumed},
    {"read_pause_holds_frames", read_pause_holds_frames},
    {"frame_hold_keeps_frames_back_and_outlives_the_connection",
     frame_hold_keeps_frames_back_and_outlives_the_connection},
    {"same_seed_same_hash_different_seed_different_hash",
     same_seed_same_hash_different_seed_different_hash},
    {"trace_file_decompresses", trace_file_decompresses},
};
TEST_MAIN(tests)
