/* test_quorum_raft.c: Raft state transitions of the quorum, driven by hand through a fake io
 * (test_quorum_fake_io.h): requests are fed in as frames, file operations complete only when
 * the test says so, and the frames the quorum sends are decoded and inspected. */
#include "test.h"

#include "../../impl/config.h"
#include "../../impl/quorum/quorum.h"
#include "../../impl/quorum/state.h"
#include "../../impl/quorum/log.h"
#include "../../model/history.h"
#include "test_quorum_fake_io.h"
#include "test_quorum_machine.h"

struct harness {
    struct fake_io *fake;
    struct node_config config;
    struct quorum *quorum;
};

static u8 frame[QUORUM_FRAME_SIZE_MAX];

static void drain(struct harness *h)
{
    struct io_completion completion;
    for (u32 i = 0; i < 64 && fake_file_next(h->fake, &completion); i++) {
        quorum_on_file(h->quorum, &completion);
    }
}

/* Node self of voters 1..voters; the disk may hold a log and an election state already.
 * Starts recovery; harness_start also completes every disk operation. */
static void harness_begin(struct harness *h, u32 self, u32 voters, const u8 *log, u32 log_size,
                          const struct quorum_election_state *state)
{
    memset(h, 0, sizeof(*h));
    h->fake = fake_create(self);
    config_defaults(&h->config);
    h->config.node_id = self;
    h->config.roles = CONFIG_ROLE_CONTROLLER;
    h->config.voter_count = voters;
    for (u32 i = 0; i < voters; i++) {
        h->config.voters[i].id = i + 1;
        snprintf(h->config.voters[i].endpoint, CONFIG_ENDPOINT_MAX, "n%u:9093", i + 1);
    }
    if (log_size > 0) fake_file_preset(h->fake, QUORUM_LOG_PATH, log, log_size);
    if (state != NULL) {
        u8 record[QUORUM_STATE_RECORD_SIZE];
        quorum_state_encode(record, 1, state);
        static u8 image[2 * QUORUM_STATE_SLOT_SIZE];
        memset(image, 0, sizeof(image));
        memcpy(image + QUORUM_STATE_SLOT_SIZE, record, sizeof(record)); /* Sequence 1: slot 1. */
        fake_file_preset(h->fake, QUORUM_STATE_PATH, image, sizeof(image));
    }
    h->quorum = quorum_create(&h->config, &h->fake->io, 0, (u64)1 << 56);
    quorum_start(h->quorum);
}

static void harness_start(struct harness *h, u32 self, u32 voters, const u8 *log, u32 log_size,
                          const struct quorum_election_state *state)
{
    harness_begin(h, self, voters, log, log_size, state);
    drain(h);
}

static void harness_stop(struct harness *h)
{
    quorum_destroy(h->quorum);
    fake_destroy(h->fake);
}

static struct quorum_status status_of(const struct harness *h)
{
    struct quorum_status status;
    quorum_status(h->quorum, &status);
    return status;
}

static u32 log_image(u8 *image, u32 capacity, const i32 *epochs, u32 count)
{
    u32 size = 0;
    for (u32 i = 0; i < count; i++) {
        u8 payload[8] = {(u8)i};
        size += quorum_record_encode(image + size, capacity - size, i, epochs[i], 0, payload, 8);
    }
    return size;
}

static bool send_vote(struct harness *h, io_conn conn, i32 epoch, i32 candidate, i32 last_epoch,
                      i64 end, bool pre_vote)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, frame, sizeof(frame));
    quorum_frame_request_begin(&writer, QUORUM_API_VOTE, 11, "test");
    struct quorum_vote_request request = {.CandidateEpoch = epoch, .CandidateId = candidate,
        .VoterId = (i32)h->config.node_id, .LastOffsetEpoch = last_epoch, .LastOffset = end,
        .PreVote = pre_vote};
    quorum_encode_vote_request(&writer, &request);
    u32 size = quorum_frame_end(&writer);
    return quorum_on_request(h->quorum, conn, frame + 4, size - 4);
}

/* Decodes sent frame index as a vote response. */
static struct quorum_vote_response sent_vote_response(const struct harness *h, u32 index)
{
    struct quorum_vote_response response = {0};
    ASSERT(index < h->fake->send_count);
    const struct fake_send *send = &h->fake->sends[index];
    struct quorum_reader reader = {.bytes = send->bytes + 4, .size = send->size - 4};
    i32 correlation_id = 0;
    ASSERT(quorum_decode_response_header(&reader, &correlation_id) == WIRE_OK);
    ASSERT(quorum_decode_vote_response(&reader, &response) == WIRE_OK);
    return response;
}

/* Decodes sent frame index as a request; returns its header and leaves reader on the body. */
static struct quorum_header sent_request(const struct harness *h, u32 index,
                                         struct quorum_reader *reader)
{
    struct quorum_header header;
    ASSERT(index < h->fake->send_count);
    const struct fake_send *send = &h->fake->sends[index];
    *reader = (struct quorum_reader){.bytes = send->bytes + 4, .size = send->size - 4};
    ASSERT(quorum_decode_request_header(reader, &header) == WIRE_OK);
    return header;
}

TEST(vote_is_answered_only_after_it_is_durable)
{
    struct harness h;
    harness_start(&h, 1, 3, NULL, 0, NULL);
    REQUIRE(status_of(&h).recovered);
    CHECK(send_vote(&h, 500, 1, 2, 0, 0, false));
    CHECK_EQ_U64(h.fake->send_count, 0); /* Nothing said before the vote is on disk. */
    CHECK_EQ_U64(fake_count_observations(h.fake, HISTORY_QUORUM_VOTED), 0);
    /* Deliver disk completions one at a time: the answer may only follow a sync. */
    struct io_completion completion;
    u32 writes = 0;
    while (h.fake->send_count == 0 && fake_file_next(h.fake, &completion)) {
        writes += completion.op == IO_FILE_WRITE;
        quorum_on_file(h.quorum, &completion);
        if (h.fake->send_count > 0) CHECK(completion.op == IO_FILE_SYNC);
    }
    CHECK(writes > 0);
    /* What the disk would give back after a crash now holds the vote. */
    const struct fake_file *state_file = fake_file_by_path(h.fake, QUORUM_STATE_PATH, false);
    REQUIRE(state_file != NULL);
    bool durable_vote = false;
    for (u32 slot = 0; slot < 2; slot++) {
        u64 sequence = 0;
        struct quorum_election_state state;
        if (quorum_state_decode(state_file->durable + slot * QUORUM_STATE_SLOT_SIZE, &sequence,
                                &state)) {
            durable_vote |= state.epoch == 1 && state.voted_for == 2;
        }
    }
    CHECK(durable_vote);
    REQUIRE(h.fake->send_count == 1);
    struct quorum_vote_response response = sent_vote_response(&h, 0);
    CHECK(response.VoteGranted);
    CHECK_EQ_U64(response.LeaderEpoch, 1);
    const struct io_observation *voted = fake_last_observation(h.fake, HISTORY_QUORUM_VOTED);
    REQUIRE(voted != NULL);
    CHECK_EQ_U64(voted->a, 1);
    CHECK_EQ_U64(voted->b, 2);
    /* A second candidate in the same epoch is refused. */
    CHECK(send_vote(&h, 501, 1, 3, 0, 0, false));
    drain(&h);
    REQUIRE(h.fake->send_count == 2);
    CHECK(!sent_vote_response(&h, 1).VoteGranted);
    harness_stop(&h);
}

TEST(candidate_with_a_shorter_log_loses)
{
    static u8 image[1024];
    i32 epochs[] = {1, 1, 1};
    u32 size = log_image(image, sizeof(image), epochs, 3);
    struct harness h;
    harness_start(&h, 1, 3, image, size, NULL);
    REQUIRE(status_of(&h).log_end == 3);
    CHECK(send_vote(&h, 500, 2, 2, 1, 2, false)); /* Same last epoch, end 2 < 3. */
    REQUIRE(h.fake->send_count == 1);
    CHECK(!sent_vote_response(&h, 0).VoteGranted);
    CHECK_EQ_U64(status_of(&h).epoch, 2); /* The epoch is adopted nonetheless. */
    CHECK(status_of(&h).voted_for == -1);
    CHECK(send_vote(&h, 501, 2, 3, 1, 3, false)); /* As long as ours: granted once durable. */
    drain(&h);
    REQUIRE(h.fake->send_count == 2);
    CHECK(sent_vote_response(&h, 1).VoteGranted);
    CHECK(status_of(&h).voted_for == 3);
    harness_stop(&h);
}

TEST(a_higher_last_epoch_beats_a_longer_log)
{
    static u8 image[1024];
    i32 epochs[] = {1, 1, 1, 1};
    u32 size = log_image(image, sizeof(image), epochs, 4);
    struct harness h;
    harness_start(&h, 1, 3, image, size, NULL);
    CHECK(send_vote(&h, 500, 3, 2, 2, 2, false));
    drain(&h);
    REQUIRE(h.fake->send_count == 1);
    CHECK(sent_vote_response(&h, 0).VoteGranted);
    harness_stop(&h);
}

TEST(pre_vote_changes_nothing)
{
    struct quorum_election_state state = {.epoch = 2, .voted_for = -1, .leader = -1};
    struct harness h;
    harness_start(&h, 1, 3, NULL, 0, &state);
    REQUIRE(status_of(&h).epoch == 2);
    u32 pending = h.fake->pending_count;
    CHECK(send_vote(&h, 500, 3, 2, 0, 0, true));
    REQUIRE(h.fake->send_count == 1); /* Answered at once: nothing to make durable. */
    CHECK(sent_vote_response(&h, 0).VoteGranted);
    CHECK_EQ_U64(status_of(&h).epoch, 2);
    CHECK(status_of(&h).voted_for == -1);
    CHECK_EQ_U64(h.fake->pending_count, pending);
    harness_stop(&h);
}

TEST(prospective_does_not_bump_its_epoch_until_pre_votes_win)
{
    struct quorum_election_state state = {.epoch = 4, .voted_for = -1, .leader = -1};
    struct harness h;
    harness_start(&h, 1, 3, NULL, 0, &state);
    quorum_on_timer(h.quorum, 0); /* The election timeout. */
    CHECK_EQ_U64(status_of(&h).role, HISTORY_ROLE_PROSPECTIVE);
    quorum_peer_connected(h.quorum, 1, 201);
    quorum_peer_connected(h.quorum, 2, 202);
    REQUIRE(h.fake->send_count == 2);
    struct quorum_reader reader;
    struct quorum_header header = sent_request(&h, 0, &reader);
    struct quorum_vote_request request;
    REQUIRE(quorum_decode_vote_request(&reader, &request) == WIRE_OK);
    CHECK(request.PreVote);
    CHECK_EQ_U64(request.CandidateEpoch, 5);
    CHECK_EQ_U64(status_of(&h).epoch, 4);
    CHECK_EQ_U64(h.fake->pending_count, 0);
    /* One granted pre-vote makes a majority of three: now the epoch moves, durably first. */
    struct quorum_writer writer;
    quorum_writer_init(&writer, frame, sizeof(frame));
    quorum_frame_response_begin(&writer, header.CorrelationId);
    struct quorum_vote_response granted = {.LeaderId = -1, .LeaderEpoch = 4, .VoteGranted = true};
    quorum_encode_vote_response(&writer, &granted);
    u32 size = quorum_frame_end(&writer);
    CHECK(quorum_on_response(h.quorum, 1, frame + 4, size - 4));
    CHECK_EQ_U64(status_of(&h).role, HISTORY_ROLE_CANDIDATE);
    CHECK_EQ_U64(status_of(&h).epoch, 5);
    CHECK_EQ_U64(h.fake->send_count, 2); /* No Vote before our own vote is durable. */
    drain(&h);
    REQUIRE(h.fake->send_count == 4);
    sent_request(&h, 2, &reader);
    REQUIRE(quorum_decode_vote_request(&reader, &request) == WIRE_OK);
    CHECK(!request.PreVote);
    CHECK_EQ_U64(request.CandidateEpoch, 5);
    harness_stop(&h);
}

static void begin_epoch(struct harness *h, io_conn conn, i32 leader, i32 epoch)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, frame, sizeof(frame));
    quorum_frame_request_begin(&writer, QUORUM_API_BEGIN_QUORUM_EPOCH, 12, "test");
    struct quorum_begin_epoch_request request = {.LeaderId = leader, .LeaderEpoch = epoch,
                                                 .VoterId = (i32)h->config.node_id};
    quorum_encode_begin_epoch_request(&writer, &request);
    u32 size = quorum_frame_end(&writer);
    ASSERT(quorum_on_request(h->quorum, conn, frame + 4, size - 4));
}

static bool answer_fetch(struct harness *h, u32 peer, i32 correlation_id,
                         const struct quorum_fetch_response *response)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, frame, sizeof(frame));
    quorum_frame_response_begin(&writer, correlation_id);
    quorum_encode_fetch_response(&writer, response);
    u32 size = quorum_frame_end(&writer);
    return quorum_on_response(h->quorum, peer, frame + 4, size - 4);
}

TEST(follower_truncates_on_a_diverging_epoch)
{
    static u8 image[1024];
    i32 epochs[] = {1, 1, 2};
    u32 size = log_image(image, sizeof(image), epochs, 3);
    struct harness h;
    harness_start(&h, 1, 3, image, size, NULL);
    begin_epoch(&h, 500, 2, 3);
    CHECK_EQ_U64(status_of(&h).role, HISTORY_ROLE_FOLLOWER);
    quorum_peer_connected(h.quorum, 1, 301);
    drain(&h); /* The new epoch and the recovered log become durable; then it fetches. */
    u32 fetch_index = h.fake->send_count - 1;
    struct quorum_reader reader;
    struct quorum_header header = sent_request(&h, fetch_index, &reader);
    REQUIRE(header.ApiKey == QUORUM_API_FETCH);
    struct quorum_fetch_request fetch;
    REQUIRE(quorum_decode_fetch_request(&reader, &fetch) == WIRE_OK);
    CHECK_EQ_U64(fetch.FetchOffset, 3);
    CHECK_EQ_U64(fetch.LastFetchedEpoch, 2);
    struct quorum_fetch_response diverging = {.LeaderId = 2, .LeaderEpoch = 3,
        .HighWatermark = 0, .DivergingEpoch = 1, .DivergingEndOffset = 2, .SnapshotId = {-1, -1}};
    CHECK(answer_fetch(&h, 1, header.CorrelationId, &diverging));
    CHECK_EQ_U64(status_of(&h).log_end, 2);
    const struct io_observation *truncated =
        fake_last_observation(h.fake, HISTORY_QUORUM_TRUNCATED);
    REQUIRE(truncated != NULL);
    CHECK_EQ_U64(truncated->a, 2);
    drain(&h);
    header = sent_request(&h, h.fake->send_count - 1, &reader);
    REQUIRE(header.ApiKey == QUORUM_API_FETCH);
    REQUIRE(quorum_decode_fetch_request(&reader, &fetch) == WIRE_OK);
    CHECK_EQ_U64(fetch.FetchOffset, 2);
    CHECK_EQ_U64(fetch.LastFetchedEpoch, 1);
    harness_stop(&h);
}

TEST(follower_with_a_live_leader_refuses_pre_votes)
{
    struct harness h;
    harness_start(&h, 1, 3, NULL, 0, NULL);
    begin_epoch(&h, 500, 2, 1);
    quorum_peer_connected(h.quorum, 1, 301);
    drain(&h);
    struct quorum_reader reader;
    struct quorum_header header = sent_request(&h, h.fake->send_count - 1, &reader);
    REQUIRE(header.ApiKey == QUORUM_API_FETCH);
    struct quorum_fetch_response empty = {.LeaderId = 2, .LeaderEpoch = 1, .HighWatermark = 0,
                                          .DivergingEpoch = -1, .DivergingEndOffset = -1,
                                          .SnapshotId = {-1, -1}};
    CHECK(answer_fetch(&h, 1, header.CorrelationId, &empty));
    u32 sends = h.fake->send_count;
    CHECK(send_vote(&h, 600, 2, 3, 0, 0, true));
    REQUIRE(h.fake->send_count > sends);
    struct quorum_vote_response response = sent_vote_response(&h, h.fake->send_count - 1);
    CHECK(!response.VoteGranted);
    CHECK_EQ_U64(response.LeaderId, 2); /* It names the leader it heard from. */
    CHECK(send_vote(&h, 600, 2, 3, 0, 0, false)); /* A real vote too. */
    CHECK(!sent_vote_response(&h, h.fake->send_count - 1).VoteGranted);
    CHECK_EQ_U64(status_of(&h).epoch, 1);
    /* After the fetch timeout without the leader, the pre-vote is granted. */
    h.fake->now_ns += h.config.quorum_fetch_timeout_ms * NS_PER_MS;
    CHECK(send_vote(&h, 600, 2, 3, 0, 0, true));
    CHECK(sent_vote_response(&h, h.fake->send_count - 1).VoteGranted);
    harness_stop(&h);
}

TEST(single_voter_elects_itself_and_commits_its_leader_change)
{
    struct harness h;
    harness_start(&h, 1, 1, NULL, 0, NULL);
    quorum_on_timer(h.quorum, 0);
    drain(&h);
    struct quorum_status status = status_of(&h);
    CHECK_EQ_U64(status.role, HISTORY_ROLE_LEADER);
    CHECK_EQ_U64(status.epoch, 1);
    CHECK_EQ_U64(status.commit_end, 1); /* The leader-change record, once synced. */
    const struct io_observation *committed =
        fake_last_observation(h.fake, HISTORY_QUORUM_COMMITTED);
    REQUIRE(committed != NULL);
    CHECK_EQ_U64(committed->d, 1); /* A control record. */
    harness_stop(&h);
}

TEST(state_slots_fall_back_to_the_older_valid_one)
{
    u8 record[QUORUM_STATE_RECORD_SIZE];
    struct quorum_election_state state = {.epoch = 7, .voted_for = 3, .leader = -1};
    quorum_state_encode(record, 9, &state);
    u64 sequence = 0;
    struct quorum_election_state decoded;
    CHECK(quorum_state_decode(record, &sequence, &decoded));
    CHECK_EQ_U64(sequence, 9);
    CHECK_EQ_U64(decoded.epoch, 7);
    CHECK_EQ_U64(decoded.voted_for, 3);
    record[14] ^= 1;
    CHECK(!quorum_state_decode(record, &sequence, &decoded));
}

TEST(damaged_log_abstains_and_says_so_durably_before_cutting)
{
    static u8 image[1024];
    i32 epochs[] = {1, 1, 1, 1, 1};
    u32 size = log_image(image, sizeof(image), epochs, 5);
    image[2 * (24 + 8) + 30] ^= 0x01; /* Inside record 2's payload: records 3, 4 stay valid. */
    struct harness h;
    harness_begin(&h, 1, 3, image, size, NULL);
    /* The verdict is written before the corrupt tail (the evidence) is cut. */
    bool truncated_before_verdict = false;
    bool verdict_durable = false;
    struct io_completion completion;
    while (fake_file_next(h.fake, &completion)) {
        if (completion.op == IO_FILE_TRUNCATE && !verdict_durable) truncated_before_verdict = true;
        quorum_on_file(h.quorum, &completion);
        u64 sequence = 0;
        struct quorum_election_state state;
        for (u32 slot = 0; slot < 2; slot++) {
            const struct fake_file *file =
                fake_file_by_path(h.fake, QUORUM_STATE_PATH, false);
            if (file != NULL &&
                quorum_state_decode(file->durable + slot * QUORUM_STATE_SLOT_SIZE, &sequence,
                                    &state)) {
                verdict_durable |= (state.flags & QUORUM_STATE_ABSTAIN) != 0;
            }
        }
    }
    REQUIRE(status_of(&h).recovered);
    CHECK_EQ_U64(status_of(&h).log_end, 2);
    CHECK(verdict_durable);
    CHECK(!truncated_before_verdict);
    /* It refuses to vote, even for a candidate whose log is longer than its own. */
    CHECK(send_vote(&h, 500, 2, 2, 1, 5, false));
    drain(&h);
    REQUIRE(h.fake->send_count == 1);
    CHECK(!sent_vote_response(&h, 0).VoteGranted);
    harness_stop(&h);
}

/* ===== A lagging follower catches up through the leader's snapshot ===== */

/* Two real quorums, leader L (node 1) and follower F (node 3), wired by hand; voter 2 is played
 * by the test (it votes for L and fetches, so L commits without F). Connection ids: L's
 * outgoing to voter 2 is 202 and to F 203; F's outgoing to L is 301. L accepts F's
 * connection as 931, F accepts L's as 913. */
struct pair {
    struct harness l, f;
    struct test_machine l_machine, f_machine;
    u32 l_seen, f_seen; /* Sends already relayed. */
    bool f_connected;
    i64 voter2_offset;
    i32 voter2_epoch;
};

static u32 relay_frames(struct harness *from, u32 *seen, struct harness *to, io_conn request_conn,
                        io_conn response_conn, u32 response_peer, io_conn accepted_as)
{
    u32 relayed = 0;
    for (; *seen < from->fake->send_count; (*seen)++) {
        const struct fake_send *send = &from->fake->sends[*seen];
        if (send->conn == request_conn) {
            ASSERT(quorum_on_request(to->quorum, accepted_as, send->bytes + 4, send->size - 4));
            relayed++;
        } else if (send->conn == response_conn) {
            ASSERT(quorum_on_response(to->quorum, response_peer, send->bytes + 4,
                                      send->size - 4));
            relayed++;
        }
    }
    return relayed;
}

/* Relays frames between L and F and completes their disk operations until nothing moves. */
static void pair_settle(struct pair *p)
{
    for (u32 round = 0; round < 10000; round++) {
        u32 moved = 0;
        struct io_completion completion;
        while (fake_file_next(p->l.fake, &completion)) {
            quorum_on_file(p->l.quorum, &completion);
            moved++;
        }
        while (fake_file_next(p->f.fake, &completion)) {
            quorum_on_file(p->f.quorum, &completion);
            moved++;
        }
        if (p->f_connected) {
            /* L's requests to F (on 203) and its answers to F's requests (on 931). */
            moved += relay_frames(&p->l, &p->l_seen, &p->f, 203, 931, 0, 913);
            /* F's requests to L (on 301) and its answers to L's requests (on 913). */
            moved += relay_frames(&p->f, &p->f_seen, &p->l, 301, 913, 2, 931);
        }
        if (moved == 0) return;
    }
    ASSERT(false);
}

/* Voter 2 grants every vote L asks for (pre-vote, then vote). */
static void voter2_votes(struct pair *p)
{
    for (u32 i = 0; i < p->l.fake->send_count; i++) {
        struct quorum_reader reader;
        const struct fake_send *send = &p->l.fake->sends[i];
        if (send->conn != 202) continue;
        struct quorum_header header = sent_request(&p->l, i, &reader);
        if (header.ApiKey != QUORUM_API_VOTE) continue;
        struct quorum_vote_request request;
        ASSERT(quorum_decode_vote_request(&reader, &request) == WIRE_OK);
        struct quorum_writer writer;
        quorum_writer_init(&writer, frame, sizeof(frame));
        quorum_frame_response_begin(&writer, header.CorrelationId);
        struct quorum_vote_response granted = {
            .LeaderId = -1, .LeaderEpoch = request.PreVote ? request.CandidateEpoch - 1
                                                           : request.CandidateEpoch,
            .VoteGranted = true};
        quorum_encode_vote_response(&writer, &granted);
        u32 size = quorum_frame_end(&writer);
        ASSERT(quorum_on_response(p->l.quorum, 1, frame + 4, size - 4));
        p->l.fake->sends[i].conn = 0; /* Answered. */
    }
}

/* Voter 2 fetches from L once, appending what it gets (only offsets and epochs matter). */
static void voter2_fetch(struct pair *p)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, frame, sizeof(frame));
    quorum_frame_request_begin(&writer, QUORUM_API_FETCH, 40, "kraft");
    struct quorum_fetch_request request = {.ReplicaId = 2,
        .CurrentLeaderEpoch = status_of(&p->l).epoch, .FetchOffset = p->voter2_offset,
        .LastFetchedEpoch = p->voter2_epoch, .MaxBytes = (i32)QUORUM_FETCH_BYTES_MAX};
    quorum_encode_fetch_request(&writer, &request);
    u32 size = quorum_frame_end(&writer);
    u32 before = p->l.fake->send_count;
    ASSERT(quorum_on_request(p->l.quorum, 700, frame + 4, size - 4));
    for (u32 i = before; i < p->l.fake->send_count; i++) {
        const struct fake_send *send = &p->l.fake->sends[i];
        if (send->conn != 700) continue;
        struct quorum_reader reader = {.bytes = send->bytes + 4, .size = send->size - 4};
        i32 correlation_id = 0;
        struct quorum_fetch_response response;
        ASSERT(quorum_decode_response_header(&reader, &correlation_id) == WIRE_OK);
        ASSERT(quorum_decode_fetch_response(&reader, &response) == WIRE_OK);
        u32 position = 0;
        for (u32 r = 0; r < response.record_count; r++) {
            struct quorum_record record;
            u32 consumed = 0;
            ASSERT(quorum_record_decode(response.records + position,
                                        response.records_size - position, &record,
                                        &consumed) == WIRE_OK);
            position += consumed;
            p->voter2_offset = record.Offset + 1;
            p->voter2_epoch = record.Epoch;
        }
    }
}

TEST(lagging_follower_catches_up_through_a_snapshot)
{
    struct pair *p = calloc(1, sizeof(*p));
    harness_begin(&p->l, 1, 3, NULL, 0, NULL);
    harness_begin(&p->f, 3, 3, NULL, 0, NULL);
    p->l.config.metadata_snapshot_bytes = 2000;
    /* Snapshots larger than one FetchSnapshot chunk, so the download takes several. */
    p->l_machine.padding = QUORUM_SNAPSHOT_CHUNK_MAX + 5000;
    p->f_machine.padding = QUORUM_SNAPSHOT_CHUNK_MAX + 5000;
    struct quorum_state_machine l_hook = test_machine_hook(&p->l_machine);
    struct quorum_state_machine f_hook = test_machine_hook(&p->f_machine);
    quorum_set_state_machine(p->l.quorum, &l_hook);
    quorum_set_state_machine(p->f.quorum, &f_hook);
    pair_settle(p);
    REQUIRE(status_of(&p->l).recovered && status_of(&p->f).recovered);
    /* L is elected with voter 2's votes while F is cut off. */
    quorum_peer_connected(p->l.quorum, 1, 202);
    quorum_on_timer(p->l.quorum, 0);
    for (u32 i = 0; i < 4 && status_of(&p->l).role != HISTORY_ROLE_LEADER; i++) {
        voter2_votes(p);
        pair_settle(p);
    }
    REQUIRE(status_of(&p->l).role == HISTORY_ROLE_LEADER);
    /* L and voter 2 commit 120 entries; L snapshots and compacts several times. */
    for (u32 i = 0; i < 120; i++) {
        u8 payload[48];
        memset(payload, (int)i, sizeof(payload));
        REQUIRE(quorum_propose(p->l.quorum, payload, sizeof(payload)) >= 0);
        pair_settle(p);
        voter2_fetch(p);
        voter2_fetch(p); /* Again: reports the new position, so the entry commits. */
        pair_settle(p);
    }
    struct quorum_status leader = status_of(&p->l);
    CHECK_EQ_U64(leader.commit_end, 121);
    REQUIRE(leader.snapshot_end > 0);
    CHECK_EQ_U64(leader.log_start, leader.snapshot_end);
    CHECK(p->l_machine.saves >= 3);
    /* F joins: at offset 0, below L's log start, it must fetch the snapshot first. */
    p->f_connected = true;
    p->f_seen = p->f.fake->send_count;
    p->l_seen = p->l.fake->send_count;
    quorum_peer_connected(p->l.quorum, 2, 203);
    quorum_peer_connected(p->f.quorum, 0, 301);
    pair_settle(p);
    for (u32 i = 0; i < 8 && status_of(&p->f).commit_end < 121; i++) {
        quorum_on_timer(p->l.quorum, 1); /* Ticks: parked fetches answered, retries. */
        quorum_on_timer(p->f.quorum, 1);
        pair_settle(p);
    }
    struct quorum_status follower = status_of(&p->f);
    CHECK_EQ_U64(follower.role, HISTORY_ROLE_FOLLOWER);
    CHECK_EQ_U64(follower.commit_end, 121);
    CHECK(follower.snapshot_end > 0);
    CHECK(follower.log_start == follower.snapshot_end);
    CHECK_EQ_U64(follower.digest, status_of(&p->l).digest);
    CHECK_EQ_U64(p->f_machine.loads, 1);
    CHECK_EQ_U64(p->f_machine.contract_violations, 0);
    CHECK_EQ_U64(p->f_machine.count, 120);
    CHECK_EQ_U64(p->f_machine.hash, p->l_machine.hash);
    const struct io_observation *fetched = fake_last_observation(p->f.fake,
                                                                 HISTORY_QUORUM_SNAPSHOT);
    REQUIRE(fetched != NULL);
    CHECK_EQ_U64(fetched->d, HISTORY_SNAPSHOT_FETCHED);
    CHECK_EQ_U64(fetched->a, follower.snapshot_end);
    /* The download took several FetchSnapshot requests, each at the next position. */
    u32 chunks = 0;
    i64 expected_position = 0;
    for (u32 i = 0; i < p->f.fake->send_count; i++) {
        if (p->f.fake->sends[i].conn != 301) continue;
        struct quorum_reader reader;
        struct quorum_header header = sent_request(&p->f, i, &reader);
        if (header.ApiKey != QUORUM_API_FETCH_SNAPSHOT) continue;
        struct quorum_fetch_snapshot_request request;
        REQUIRE(quorum_decode_fetch_snapshot_request(&reader, &request) == WIRE_OK);
        CHECK_EQ_U64(request.Position, expected_position);
        expected_position += QUORUM_SNAPSHOT_CHUNK_MAX;
        chunks++;
    }
    CHECK(chunks >= 2);
    /* The fetched snapshot is durable: F restarts from it without the leader. */
    quorum_destroy(p->f.quorum);
    fake_crash(p->f.fake, false);
    memset(&p->f_machine, 0, sizeof(p->f_machine));
    p->f.quorum = quorum_create(&p->f.config, &p->f.fake->io, 0, (u64)1 << 56);
    quorum_set_state_machine(p->f.quorum, &f_hook);
    quorum_start(p->f.quorum);
    drain(&p->f);
    CHECK(status_of(&p->f).recovered);
    CHECK_EQ_U64(status_of(&p->f).snapshot_end, follower.snapshot_end);
    CHECK_EQ_U64(status_of(&p->f).commit_end, follower.snapshot_end);
    CHECK_EQ_U64(p->f_machine.loads, 1);
    CHECK_EQ_U64(p->f_machine.next, follower.snapshot_end);
    harness_stop(&p->l);
    harness_stop(&p->f);
    free(p);
}

static const struct test_case tests[] = {
    {"vote_is_answered_only_after_it_is_durable", vote_is_answered_only_after_it_is_durable},
    {"candidate_with_a_shorter_log_loses", candidate_with_a_shorter_log_loses},
    {"a_higher_last_epoch_beats_a_longer_log", a_higher_last_epoch_beats_a_longer_log},
    {"pre_vote_changes_nothing", pre_vote_changes_nothing},
    {"prospective_does_not_bump_its_epoch_until_pre_votes_win",
     prospective_does_not_bump_its_epoch_until_pre_votes_win},
    {"follower_truncates_on_a_diverging_epoch", follower_truncates_on_a_diverging_epoch},
    {"follower_with_a_live_leader_refuses_pre_votes",
     follower_with_a_live_leader_refuses_pre_votes},
    {"single_voter_elects_itself_and_commits_its_leader_change",
     single_voter_elects_itself_and_commits_its_leader_change},
    {"state_slots_fall_back_to_the_older_valid_one", state_slots_fall_back_to_the_older_valid_one},
    {"damaged_log_abstains_and_says_so_durably_before_cutting",
     damaged_log_abstains_and_says_so_durably_before_cutting},
    {"lagging_follower_catches_up_through_a_snapshot",
     lagging_follower_catches_up_through_a_snapshot},
};
TEST_MAIN(tests)
