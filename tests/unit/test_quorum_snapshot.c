/* test_quorum_snapshot.c: the quorum's snapshots: the file codec catches every corruption, the
 * store replaces a snapshot crash-safely, a leader snapshots and compacts its log (in memory and
 * on disk), and a node recovers its exact state after a crash at every step of a snapshot and
 * the log rewrite that follows (losing unsynced writes, or keeping them). Also the model's view:
 * the checkers accept a node whose applied sequence resumes at its snapshot's end, and catch a
 * snapshot whose digest or coverage is wrong. */
#include "test.h"

#include "../../impl/config.h"
#include "../../impl/quorum/log.h"
#include "../../impl/quorum/quorum.h"
#include "../../impl/quorum/snapshot.h"
#include "../../model/history.h"
#include "test_quorum_fake_io.h"
#include "test_quorum_machine.h"

#define TAG ((u64)3 << 48)

static u8 image[QUORUM_SNAPSHOT_SIZE_MAX];

static u32 image_build(u8 *target, i64 end, i32 epoch, u64 digest, u32 data_size, u8 seed)
{
    for (u32 i = 0; i < data_size; i++) target[QUORUM_SNAPSHOT_HEADER_SIZE + i] = (u8)(seed + i);
    struct quorum_snapshot_header header = {
        .end_offset = end, .last_epoch = epoch, .data_size = data_size, .digest = digest};
    return quorum_snapshot_encode(target, &header);
}

TEST(snapshot_codec_round_trip_and_every_corruption_caught)
{
    u32 size = image_build(image, 812, 5, 0x1234567890abcdefull, 300, 7);
    CHECK_EQ_U64(size, QUORUM_SNAPSHOT_HEADER_SIZE + 300);
    struct quorum_snapshot_header header;
    REQUIRE(quorum_snapshot_validate(image, size, &header));
    CHECK_EQ_U64(header.end_offset, 812);
    CHECK_EQ_U64(header.last_epoch, 5);
    CHECK_EQ_U64(header.data_size, 300);
    CHECK_EQ_U64(header.digest, 0x1234567890abcdefull);
    for (u32 i = 0; i < size; i++) {
        for (u32 bit = 0; bit < 8; bit += 3) {
            image[i] ^= (u8)(1u << bit);
            CHECK(!quorum_snapshot_validate(image, size, &header));
            image[i] ^= (u8)(1u << bit);
        }
    }
    for (u32 cut = 0; cut < size; cut++) CHECK(!quorum_snapshot_validate(image, cut, &header));
    CHECK(!quorum_snapshot_validate(image, size + 1, &header)); /* Trailing bytes. */
    CHECK(quorum_snapshot_validate(image, size, &header));
}

static void store_drain(struct fake_io *fake, struct quorum_snapshot_store *store,
                        enum quorum_snapshot_event *last)
{
    struct io_completion completion;
    while (fake_file_next(fake, &completion)) {
        enum quorum_snapshot_event event = quorum_snapshot_on_file(store, &completion);
        if (event != SNAPSHOT_EVENT_NONE) *last = event;
    }
}

/* Recovers a store from the fake's disk; returns the end offset of its snapshot (0: none). */
static i64 store_recover(struct fake_io *fake, bool *damaged)
{
    struct quorum_snapshot_store store;
    quorum_snapshot_init(&store, &fake->io, TAG);
    quorum_snapshot_open(&store);
    enum quorum_snapshot_event event = SNAPSHOT_EVENT_NONE;
    store_drain(fake, &store, &event);
    ASSERT(event == SNAPSHOT_EVENT_RECOVERED && store.recovered);
    i64 end = store.has_current ? store.current_header.end_offset : 0;
    if (store.has_current) {
        struct quorum_snapshot_header header;
        ASSERT(quorum_snapshot_validate(store.current, store.current_size, &header));
    }
    if (damaged != NULL) *damaged = store.damaged;
    quorum_snapshot_free(&store);
    return end;
}

TEST(snapshot_store_write_then_recover)
{
    struct fake_io *fake = fake_create(1);
    bool damaged = true;
    CHECK_EQ_U64(store_recover(fake, &damaged), 0); /* A fresh disk: none. */
    CHECK(!damaged);
    struct quorum_snapshot_store store;
    quorum_snapshot_init(&store, &fake->io, TAG);
    quorum_snapshot_open(&store);
    enum quorum_snapshot_event event = SNAPSHOT_EVENT_NONE;
    store_drain(fake, &store, &event);
    REQUIRE(event == SNAPSHOT_EVENT_RECOVERED);
    /* Larger than one io chunk, so it is written in several pieces. */
    u32 size = image_build(store.scratch, 40, 2, 99, QUORUM_SNAPSHOT_IO_CHUNK + 1000, 3);
    quorum_snapshot_write(&store, size);
    CHECK(store.writing);
    store_drain(fake, &store, &event);
    CHECK(event == SNAPSHOT_EVENT_DURABLE);
    CHECK(!store.writing && store.has_current);
    CHECK_EQ_U64(store.current_header.end_offset, 40);
    CHECK_EQ_U64(store.current_size, size);
    quorum_snapshot_free(&store);
    fake_crash(fake, false);
    CHECK_EQ_U64(store_recover(fake, &damaged), 40);
    CHECK(!damaged);
    /* A flipped bit in the durable snapshot is corruption: no snapshot, and said so. */
    struct fake_file *file = fake_file_by_path(fake, QUORUM_SNAPSHOT_PATH, false);
    REQUIRE(file != NULL);
    file->bytes[QUORUM_SNAPSHOT_HEADER_SIZE + 500] ^= 4;
    file->durable[QUORUM_SNAPSHOT_HEADER_SIZE + 500] ^= 4;
    CHECK_EQ_U64(store_recover(fake, &damaged), 0);
    CHECK(damaged);
    fake_destroy(fake);
}

/* A crash at every step of replacing snapshot A by snapshot B leaves exactly A or B, and B
 * from the moment its rename completed. */
TEST(snapshot_replacement_survives_a_crash_at_every_step)
{
    for (u32 keep = 0; keep < 2; keep++) {
        for (u32 steps = 0;; steps++) {
            struct fake_io *fake = fake_create(1);
            struct quorum_snapshot_store store;
            quorum_snapshot_init(&store, &fake->io, TAG);
            quorum_snapshot_open(&store);
            enum quorum_snapshot_event event = SNAPSHOT_EVENT_NONE;
            store_drain(fake, &store, &event);
            quorum_snapshot_write(&store, image_build(store.scratch, 10, 1, 1, 5000, 1));
            store_drain(fake, &store, &event);
            REQUIRE(event == SNAPSHOT_EVENT_DURABLE);
            quorum_snapshot_write(&store, image_build(store.scratch, 20, 2, 2,
                                                      QUORUM_SNAPSHOT_IO_CHUNK * 2 + 7, 2));
            bool renamed = false, finished = true;
            struct io_completion completion;
            for (u32 i = 0; fake->pending_count > 0; i++) {
                if (i == steps) { /* Crash before this completion happens. */
                    finished = false;
                    break;
                }
                REQUIRE(fake_file_next(fake, &completion));
                renamed |= completion.op == IO_FILE_RENAME;
                event = quorum_snapshot_on_file(&store, &completion);
            }
            quorum_snapshot_free(&store);
            fake_crash(fake, keep == 1);
            bool damaged = true;
            i64 end = store_recover(fake, &damaged);
            CHECK(!damaged);
            CHECK_EQ_U64(end, renamed ? 20 : 10);
            fake_destroy(fake);
            if (finished) {
                CHECK(renamed);
                break;
            }
        }
    }
}

/* ===== A single voter snapshots, compacts, and recovers ===== */

struct node {
    struct fake_io *fake;
    struct node_config config;
    struct quorum *quorum;
    struct test_machine *machine;
    u32 completions; /* Disk completions delivered in this life. */
};

static void node_configure(struct node *n, u32 voters, u64 snapshot_bytes)
{
    config_defaults(&n->config);
    n->config.node_id = 1;
    n->config.roles = CONFIG_ROLE_CONTROLLER;
    n->config.voter_count = voters;
    for (u32 i = 0; i < voters; i++) {
        n->config.voters[i].id = i + 1;
        snprintf(n->config.voters[i].endpoint, CONFIG_ENDPOINT_MAX, "n%u:9093", i + 1);
    }
    n->config.metadata_snapshot_bytes = snapshot_bytes;
}

/* A new life on the fake's disk: a fresh process with a fresh (empty) state machine. */
static void node_boot(struct node *n)
{
    n->machine = calloc(1, sizeof(*n->machine));
    n->machine->padding = 100;
    n->quorum = quorum_create(&n->config, &n->fake->io, 0, (u64)1 << 56);
    struct quorum_state_machine hook = test_machine_hook(n->machine);
    quorum_set_state_machine(n->quorum, &hook);
    quorum_start(n->quorum);
    n->completions = 0;
}

static void node_halt(struct node *n)
{
    quorum_destroy(n->quorum);
    free(n->machine);
    n->quorum = NULL;
    n->machine = NULL;
}

static struct quorum_status node_status(const struct node *n)
{
    struct quorum_status status;
    quorum_status(n->quorum, &status);
    return status;
}

/* Delivers one completion; false when none is pending or the step budget is spent. */
static bool node_step(struct node *n, u32 budget)
{
    struct io_completion completion;
    if (n->completions >= budget || !fake_file_next(n->fake, &completion)) return false;
    n->completions++;
    quorum_on_file(n->quorum, &completion);
    return true;
}

static void node_settle(struct node *n)
{
    while (node_step(n, UINT32_MAX)) {
    }
}

/* Recovery, then the election timeout: a single voter elects itself. */
static void node_lead(struct node *n)
{
    node_settle(n);
    ASSERT(node_status(n).recovered);
    quorum_on_timer(n->quorum, 0);
    node_settle(n);
    ASSERT(node_status(n).role == HISTORY_ROLE_LEADER);
}

static void payload_of(u8 *payload, u32 i)
{
    for (u32 b = 0; b < 40; b++) payload[b] = (u8)(i * 31 + b);
}

/* The workload: proposals interleaved with disk completions, the same every time, so that
 * stopping after `budget` completions stops at one exact step. Returns whether it finished. */
static bool node_workload(struct node *n, u32 proposals, u32 budget)
{
    u32 proposed = 0;
    for (;;) {
        if (proposed < proposals && (n->completions % 3 == 0 || n->fake->pending_count == 0)) {
            u8 payload[40];
            payload_of(payload, proposed);
            i64 offset = quorum_propose(n->quorum, payload, sizeof(payload));
            ASSERT(offset >= 0);
            proposed++;
        }
        if (node_step(n, budget)) continue;
        if (n->completions >= budget) return false;
        if (proposed == proposals) return true;
    }
}

static const struct io_observation *find_snapshot(const struct fake_io *fake, u32 from,
                                                  u64 source)
{
    for (u32 i = fake->observation_count; i > from; i--) {
        const struct io_observation *o = &fake->observations[i - 1];
        if (o->kind == HISTORY_QUORUM_SNAPSHOT && o->d == source) return o;
    }
    return NULL;
}

TEST(leader_snapshots_and_compacts_its_log)
{
    struct node n = {.fake = fake_create(1)};
    node_configure(&n, 1, 300);
    node_boot(&n);
    CHECK(quorum_propose(n.quorum, (const u8 *)"x", 1) < 0); /* Not the leader yet. */
    node_lead(&n);
    REQUIRE(node_workload(&n, 30, UINT32_MAX));
    struct quorum_status status = node_status(&n);
    CHECK_EQ_U64(status.commit_end, 31); /* The leader-change record and 30 proposals. */
    CHECK(status.snapshot_end > 0);
    CHECK_EQ_U64(status.log_start, status.snapshot_end);
    CHECK_EQ_U64(status.epoch_start_offset, 0);
    CHECK(n.machine->saves >= 3);
    CHECK_EQ_U64(n.machine->contract_violations, 0);
    CHECK_EQ_U64(n.machine->count, 30);
    const struct io_observation *taken = find_snapshot(n.fake, 0, HISTORY_SNAPSHOT_TAKEN);
    REQUIRE(taken != NULL);
    CHECK_EQ_U64(taken->a, status.snapshot_end);
    /* On disk: the snapshot ends where the log file begins. */
    struct fake_file *log = fake_file_by_path(n.fake, QUORUM_LOG_PATH, false);
    struct fake_file *snapshot = fake_file_by_path(n.fake, QUORUM_SNAPSHOT_PATH, false);
    REQUIRE(log != NULL && snapshot != NULL);
    struct quorum_snapshot_header header;
    REQUIRE(quorum_snapshot_validate(snapshot->durable, snapshot->durable_size, &header));
    CHECK_EQ_U64(header.end_offset, status.snapshot_end);
    CHECK_EQ_U64(header.digest, taken->c);
    CHECK(log->durable_size < 31 * (QUORUM_RECORD_HEADER_SIZE + 40));
    if (status.log_end > status.log_start) {
        struct quorum_record record;
        u32 consumed = 0;
        REQUIRE(quorum_record_decode(log->durable, log->durable_size, &record, &consumed) ==
                WIRE_OK);
        CHECK_EQ_U64(record.Offset, status.snapshot_end);
    } else {
        CHECK_EQ_U64(log->durable_size, 0); /* Everything is in the snapshot. */
    }
    /* A restart loads the snapshot and replays the log above it to the same state. */
    u64 digest = status.digest, hash = n.machine->hash;
    node_halt(&n);
    fake_crash(n.fake, false);
    node_boot(&n);
    node_lead(&n);
    status = node_status(&n);
    CHECK_EQ_U64(n.machine->loads, 1);
    CHECK_EQ_U64(n.machine->contract_violations, 0);
    CHECK_EQ_U64(n.machine->count, 30);
    CHECK_EQ_U64(n.machine->hash, hash);
    const struct io_observation *recovered = find_snapshot(n.fake, 0, HISTORY_SNAPSHOT_RECOVERED);
    REQUIRE(recovered != NULL);
    CHECK_EQ_U64(recovered->a, header.end_offset);
    /* The digest chain went on across the snapshot: offset 30 has its old digest. */
    const struct io_observation *applied = NULL;
    for (u32 i = 0; i < n.fake->observation_count; i++) {
        const struct io_observation *o = &n.fake->observations[i];
        if (o->kind == HISTORY_QUORUM_APPLIED && o->a == 30) applied = o;
    }
    REQUIRE(applied != NULL);
    CHECK_EQ_U64(applied->c, digest);
    node_halt(&n);
    fake_destroy(n.fake);
}

/* What a restart will find on the disk: the snapshot's end (0: none) and the offset of the
 * log file's first record (INT64_MAX: empty). */
static i64 disk_snapshot_end(struct fake_io *fake)
{
    struct fake_file *file = fake_file_by_path(fake, QUORUM_SNAPSHOT_PATH, false);
    struct quorum_snapshot_header header;
    if (file == NULL || !quorum_snapshot_validate(file->durable, file->durable_size, &header)) {
        return 0;
    }
    return header.end_offset;
}

static i64 disk_log_start(struct fake_io *fake)
{
    struct fake_file *file = fake_file_by_path(fake, QUORUM_LOG_PATH, false);
    struct quorum_record record;
    u32 consumed = 0;
    if (file == NULL || quorum_record_decode(file->durable, file->durable_size, &record,
                                             &consumed) != WIRE_OK) {
        return INT64_MAX;
    }
    return record.Offset;
}

/* The heart of crash safety: stop after every single disk completion of a run full of
 * snapshots and compactions, crash (losing unsynced writes, or keeping them), recover, and
 * compare with the uninterrupted life: nothing committed is lost, the state machine and the
 * digest at every offset are the same, and the contract (in order, once) holds. */
TEST(recovery_after_a_crash_at_every_step_of_snapshot_and_rewrite)
{
    struct node reference = {.fake = fake_create(1)};
    node_configure(&reference, 1, 300);
    node_boot(&reference);
    node_lead(&reference);
    u32 start_steps = reference.completions;
    REQUIRE(node_workload(&reference, 24, UINT32_MAX));
    u32 total = reference.completions;
    REQUIRE(reference.machine->saves >= 3);
    u32 checked = 0, interrupted = 0, resumed = 0;
    for (u32 keep = 0; keep < 2; keep++) {
        for (u32 budget = start_steps; budget <= total; budget++) {
            struct node n = {.fake = fake_create(1)};
            node_configure(&n, 1, 300);
            node_boot(&n);
            node_lead(&n);
            ASSERT(n.completions == start_steps);
            node_workload(&n, 24, budget);
            i64 committed_before = node_status(&n).commit_end;
            u64 count_before = n.machine->count;
            u32 marker = n.fake->observation_count;
            node_halt(&n);
            fake_crash(n.fake, keep == 1);
            interrupted += disk_log_start(n.fake) < disk_snapshot_end(n.fake);
            resumed += disk_snapshot_end(n.fake) > 0;
            node_boot(&n);
            node_lead(&n);
            struct quorum_status status = node_status(&n);
            CHECK(status.commit_end > committed_before); /* All of it, and a new epoch. */
            CHECK(n.machine->count >= count_before);
            CHECK_EQ_U64(n.machine->contract_violations, 0);
            CHECK(status.log_start <= status.snapshot_end);
            /* Every offset applied in both lives has the same digest and machine state. */
            const struct io_observation *loaded =
                find_snapshot(n.fake, marker, HISTORY_SNAPSHOT_RECOVERED);
            i64 from = loaded != NULL ? (i64)loaded->a : 0;
            for (u32 i = marker; i < n.fake->observation_count; i++) {
                const struct io_observation *o = &n.fake->observations[i];
                if (o->kind != HISTORY_QUORUM_APPLIED || (i64)o->a >= committed_before) continue;
                const struct io_observation *old = NULL;
                for (u32 j = 0; j < marker && old == NULL; j++) {
                    const struct io_observation *p = &n.fake->observations[j];
                    if (p->kind == HISTORY_QUORUM_APPLIED && p->a == o->a) old = p;
                }
                REQUIRE(old != NULL);
                CHECK_EQ_U64(o->c, old->c);
                CHECK_EQ_U64(n.machine->hash_at[o->a], reference.machine->hash_at[o->a]);
            }
            if (from > 0) {
                CHECK_EQ_U64(n.machine->hash_at[from - 1], reference.machine->hash_at[from - 1]);
            }
            node_halt(&n);
            fake_destroy(n.fake);
            checked++;
        }
    }
    CHECK(checked > 2 * 20);
    /* The crashes did land between a snapshot and the end of its compaction. */
    CHECK(interrupted >= 4);
    CHECK(resumed > checked / 2);
    if (getenv("FAKE_VERBOSE") != NULL) {
        fprintf(stderr, "    %u crashes, %u inside a compaction, %u resumed from a snapshot\n",
                checked, interrupted, resumed);
    }
    node_halt(&reference);
    fake_destroy(reference.fake);
}

/* A snapshot that rotted on disk while the log above it was compacted: the prefix is lost, so
 * the node starts from nothing and abstains from elections until a leader has caught it up. */
TEST(corrupt_snapshot_below_a_compacted_log_abstains)
{
    struct node n = {.fake = fake_create(1)};
    node_configure(&n, 1, 300);
    node_boot(&n);
    node_lead(&n);
    REQUIRE(node_workload(&n, 12, UINT32_MAX));
    REQUIRE(node_status(&n).log_start > 0);
    node_halt(&n);
    struct fake_file *snapshot = fake_file_by_path(n.fake, QUORUM_SNAPSHOT_PATH, false);
    REQUIRE(snapshot != NULL);
    snapshot->durable[QUORUM_SNAPSHOT_HEADER_SIZE + 3] ^= 0x20;
    fake_crash(n.fake, false);
    node_configure(&n, 3, 300);
    node_boot(&n);
    node_settle(&n);
    struct quorum_status status = node_status(&n);
    REQUIRE(status.recovered);
    CHECK_EQ_U64(status.log_start, 0);
    CHECK_EQ_U64(status.log_end, 0);
    CHECK_EQ_U64(status.snapshot_end, 0);
    CHECK_EQ_U64(n.machine->loads, 0);
    /* It refuses to vote, even for a candidate with a longer log. */
    u8 frame[256];
    struct quorum_writer writer;
    quorum_writer_init(&writer, frame, sizeof(frame));
    quorum_frame_request_begin(&writer, QUORUM_API_VOTE, 11, "test");
    struct quorum_vote_request vote = {.CandidateEpoch = status.epoch + 1, .CandidateId = 2,
        .VoterId = 1, .LastOffsetEpoch = 9, .LastOffset = 100};
    quorum_encode_vote_request(&writer, &vote);
    u32 size = quorum_frame_end(&writer);
    u32 sends = n.fake->send_count;
    CHECK(quorum_on_request(n.quorum, 500, frame + 4, size - 4));
    node_settle(&n);
    REQUIRE(n.fake->send_count == sends + 1);
    struct quorum_reader reader = {.bytes = n.fake->sends[sends].bytes + 4,
                                   .size = n.fake->sends[sends].size - 4};
    i32 correlation_id = 0;
    struct quorum_vote_response response;
    REQUIRE(quorum_decode_response_header(&reader, &correlation_id) == WIRE_OK);
    REQUIRE(quorum_decode_vote_response(&reader, &response) == WIRE_OK);
    CHECK(!response.VoteGranted);
    node_halt(&n);
    fake_destroy(n.fake);
}

/* ===== The checkers' view of snapshots ===== */

struct history_builder {
    struct history history;
    u64 time_ns;
};

static void add(struct history_builder *b, u32 node, u32 kind, u64 a, u64 bb, u64 c, u64 d)
{
    struct history_event event = {.time_ns = b->time_ns += NS_PER_MS, .node = node,
                                  .kind = kind, .a = a, .b = bb, .c = c, .d = d};
    history_append(&b->history, &event, NULL, 0);
}

/* Node n appends, commits and applies offsets [from, to) of epoch 1 (digest = offset + 100). */
static void add_entries(struct history_builder *b, u32 node, u64 from, u64 to, bool commit)
{
    for (u64 o = from; o < to; o++) add(b, node, HISTORY_QUORUM_APPENDED, o, 1, 1000 + o, o == 0);
    if (!commit) return;
    for (u64 o = from; o < to; o++) {
        add(b, node, HISTORY_QUORUM_COMMITTED, o, 1, 1000 + o, o == 0);
        add(b, node, HISTORY_QUORUM_APPLIED, o, 0, 100 + o, 0);
    }
}

/* Three nodes commit [0, 10); node 3 restarts from a snapshot at 6 (or fetches it). */
static void snapshot_history(struct history_builder *b, u64 digest, u64 end, u64 source)
{
    history_init(&b->history);
    b->time_ns = 0;
    for (u32 node = 1; node <= 3; node++) add(b, node, HISTORY_NODE_START, 0, 0, 0, 0);
    add(b, 1, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_LEADER, 1, 0);
    add(b, 2, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_FOLLOWER, 1, 0);
    add(b, 3, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_FOLLOWER, 1, 0);
    add_entries(b, 1, 0, 8, true);
    add_entries(b, 2, 0, 8, true);
    add_entries(b, 3, 0, 3, true);
    if (source == HISTORY_SNAPSHOT_RECOVERED) {
        add(b, 3, HISTORY_NODE_START, 0, 0, 0, 0);
    } else {
        /* A stale entry of another leader, never committed: the snapshot drops it. */
        add(b, 3, HISTORY_QUORUM_APPENDED, 3, 2, 5003, 0);
    }
    add(b, 3, HISTORY_QUORUM_SNAPSHOT, end, 1, digest, source);
    add_entries(b, 3, end, 8, true);
    add(b, 1, HISTORY_RUN_END, 0, 0, 0, 0);
}

static bool passes(const struct history *history, const char *checker)
{
    const struct checker *c = model_checker_find(checker);
    ASSERT(c != NULL);
    struct check_params params = {.voter_count = 3};
    struct check_outcome outcome;
    c->check(history, &params, &outcome);
    if (!outcome.passed && getenv("FAKE_VERBOSE") != NULL) {
        fprintf(stderr, "    %s: %s\n", checker, outcome.message);
    }
    return outcome.passed;
}

/* (client-acks is not among them: these histories have no clients.) */
static const char *const every_quorum_checker[] = {
    "election-safety", "log-matching", "leader-completeness", "committed-durable",
    "applied-prefix"};

TEST(checkers_accept_an_applied_sequence_resuming_at_a_snapshot)
{
    for (u64 source = HISTORY_SNAPSHOT_RECOVERED; source <= HISTORY_SNAPSHOT_FETCHED; source++) {
        struct history_builder b;
        snapshot_history(&b, 100 + 5, 6, source);
        for (u32 i = 0; i < ARRAY_LEN(every_quorum_checker); i++) {
            CHECK(passes(&b.history, every_quorum_checker[i]));
        }
        CHECK(passes(&b.history, "snapshot-catch-up") == (source == HISTORY_SNAPSHOT_FETCHED));
        history_free(&b.history);
    }
}

TEST(checkers_catch_a_wrong_snapshot)
{
    struct history_builder b;
    /* The digest at the snapshot's end differs from what the replicas computed. */
    snapshot_history(&b, 0xbad, 6, HISTORY_SNAPSHOT_FETCHED);
    CHECK(!passes(&b.history, "applied-prefix"));
    CHECK(passes(&b.history, "log-matching"));
    history_free(&b.history);
    /* A snapshot reaching past what was ever committed. */
    snapshot_history(&b, 100 + 8, 9, HISTORY_SNAPSHOT_RECOVERED);
    CHECK(!passes(&b.history, "applied-prefix"));
    history_free(&b.history);
    /* A fetched snapshot that drops a committed entry the node held beyond its end. */
    history_init(&b.history);
    b.time_ns = 0;
    add(&b, 1, HISTORY_QUORUM_ROLE, 1, HISTORY_ROLE_LEADER, 1, 0);
    add_entries(&b, 1, 0, 8, true);
    add_entries(&b, 2, 0, 8, true);
    add(&b, 2, HISTORY_QUORUM_SNAPSHOT, 4, 1, 100 + 3, HISTORY_SNAPSHOT_FETCHED);
    CHECK(!passes(&b.history, "committed-durable"));
    history_free(&b.history);
    /* Nothing fetched at all. */
    snapshot_history(&b, 100 + 5, 6, HISTORY_SNAPSHOT_RECOVERED);
    CHECK(!passes(&b.history, "snapshot-catch-up"));
    history_free(&b.history);
}

static const struct test_case tests[] = {
    {"snapshot_codec_round_trip_and_every_corruption_caught",
     snapshot_codec_round_trip_and_every_corruption_caught},
    {"snapshot_store_write_then_recover", snapshot_store_write_then_recover},
    {"snapshot_replacement_survives_a_crash_at_every_step",
     snapshot_replacement_survives_a_crash_at_every_step},
    {"leader_snapshots_and_compacts_its_log", leader_snapshots_and_compacts_its_log},
    {"recovery_after_a_crash_at_every_step_of_snapshot_and_rewrite",
     recovery_after_a_crash_at_every_step_of_snapshot_and_rewrite},
    {"corrupt_snapshot_below_a_compacted_log_abstains",
     corrupt_snapshot_below_a_compacted_log_abstains},
    {"checkers_accept_an_applied_sequence_resuming_at_a_snapshot",
     checkers_accept_an_applied_sequence_resuming_at_a_snapshot},
    {"checkers_catch_a_wrong_snapshot", checkers_catch_a_wrong_snapshot},
};
TEST_MAIN(tests)
