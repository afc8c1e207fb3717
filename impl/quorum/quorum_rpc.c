/* quorum_rpc.c: the quorum's messages: Vote (with pre-vote), BeginQuorumEpoch,
 * EndQuorumEpoch, Fetch, FetchSnapshot, and the clients' append, sent and handled.
 *
 * Every request handler fences by epoch first (an older epoch is answered with ours, a newer
 * one is adopted), then acts. Requests we send are remembered per peer (bounded, with the
 * election round they belong to) so a response can be decoded and a stale one ignored. The
 * leader answers fetches at once when it has records past the fetch position, otherwise
 * parks them (long poll) until new records, a new high watermark, or QUORUM_FETCH_WAIT_NS.
 *
 * Invariants: a vote is answered "granted" only once the vote is durable (unless built with
 * QUORUM_MUTATION=1); a fetch is answered with records only if the fetch position matches
 * our log (same epoch at that point), otherwise with the diverging epoch and its end offset,
 * or, when the position (or the divergence) lies below our log start, with our snapshot's id
 * (KIP-630). The follower then downloads that snapshot chunk by chunk (FetchSnapshot, one
 * request in flight, from the one leader it started with), verifies its size and checksums, and
 * hands it to quorum.c to be made durable and installed; meanwhile it fetches no records.
 *
 * Tested by tests/unit/test_quorum_raft.c and by the simulator's runs. */
#include "quorum_internal.h"

#include <string.h>

/* ===== Sending ===== */

/* A follower has one fetch in flight at a time: of records, or of a snapshot chunk. */
static bool is_fetch(i16 api_key)
{
    return api_key == QUORUM_API_FETCH || api_key == QUORUM_API_FETCH_SNAPSHOT;
}

static bool has_inflight(const struct quorum *q, u32 index, i16 api_key)
{
    for (u32 i = 0; i < QUORUM_INFLIGHT_MAX; i++) {
        const struct quorum_inflight *slot = &q->peers[index].inflight[i];
        if (slot->used && slot->api_key == api_key && slot->round == q->vote_round) return true;
    }
    return false;
}

static struct quorum_inflight *inflight_claim(struct quorum *q, u32 index)
{
    struct quorum_peer *peer = &q->peers[index];
    if (peer->conn == 0) return NULL;
    for (u32 i = 0; i < QUORUM_INFLIGHT_MAX; i++) {
        if (!peer->inflight[i].used) return &peer->inflight[i];
    }
    return NULL; /* Back-pressure: the peer has enough of our requests already. */
}

static bool send_frame(struct quorum *q, io_conn conn, struct quorum_writer *writer)
{
    u32 size = quorum_frame_end(writer);
    enum io_result result = io_send(q->io, conn, writer->buffer, size);
    if (result != IO_OK) {
        io_log(q->io, IO_LOG_DEBUG, "quorum: send failed: %s", io_result_name(result));
    }
    return result == IO_OK;
}

/* Begins a request to peer index; returns NULL (and sends nothing) under back-pressure. */
static struct quorum_inflight *request_begin(struct quorum *q, u32 index, i16 api_key,
                                             struct quorum_writer *writer)
{
    ASSERT(index < q->voter_count);
    ASSERT((i32)index != q->self_index);
    struct quorum_inflight *slot = inflight_claim(q, index);
    if (slot == NULL) return NULL;
    q->correlation_next = (q->correlation_next + 1) & 0x7fffffff;
    slot->api_key = api_key;
    slot->correlation_id = q->correlation_next;
    slot->round = q->vote_round;
    slot->pre_vote = false;
    slot->sent_ns = io_now_ns(q->io);
    quorum_writer_init(writer, q->send_buffer, QUORUM_SEND_BUFFER_SIZE);
    quorum_frame_request_begin(writer, api_key, slot->correlation_id, "kraft");
    return slot;
}

static void request_end(struct quorum *q, u32 index, struct quorum_inflight *slot,
                        struct quorum_writer *writer)
{
    if (send_frame(q, q->peers[index].conn, writer)) slot->used = true;
}

void quorum_send_vote_requests(struct quorum *q, bool pre_vote)
{
    struct quorum_vote_request request = {
        .CandidateEpoch = pre_vote ? q->epoch + 1 : q->epoch,
        .CandidateId = q->self_id,
        .LastOffsetEpoch = quorum_log_last_epoch(&q->log),
        .LastOffset = q->log.end,
        .PreVote = pre_vote,
    };
    for (u32 i = 0; i < q->voter_count; i++) {
        if ((i32)i == q->self_index || q->peers[i].granted || q->peers[i].rejected) continue;
        if (has_inflight(q, i, QUORUM_API_VOTE)) continue;
        struct quorum_writer writer;
        struct quorum_inflight *slot = request_begin(q, i, QUORUM_API_VOTE, &writer);
        if (slot == NULL) continue;
        slot->pre_vote = pre_vote;
        request.VoterId = q->peers[i].id;
        quorum_encode_vote_request(&writer, &request);
        request_end(q, i, slot, &writer);
    }
    if (!pre_vote) q->votes_sent = true;
}

void quorum_send_begin_epoch(struct quorum *q, u32 index)
{
    ASSERT(q->role == HISTORY_ROLE_LEADER);
    struct quorum_writer writer;
    struct quorum_inflight *slot = request_begin(q, index, QUORUM_API_BEGIN_QUORUM_EPOCH,
                                                 &writer);
    if (slot == NULL) return;
    struct quorum_begin_epoch_request request = {
        .LeaderId = q->self_id, .LeaderEpoch = q->epoch, .VoterId = q->peers[index].id};
    memcpy(request.LeaderEndpoint, q->client_endpoint, sizeof(request.LeaderEndpoint));
    quorum_encode_begin_epoch_request(&writer, &request);
    request_end(q, index, slot, &writer);
    q->peers[index].begin_sent_ns = io_now_ns(q->io);
}

void quorum_send_end_epoch(struct quorum *q, u32 index)
{
    struct quorum_writer writer;
    struct quorum_inflight *slot = request_begin(q, index, QUORUM_API_END_QUORUM_EPOCH, &writer);
    if (slot == NULL) return;
    struct quorum_end_epoch_request request = {
        .LeaderId = q->self_id, .LeaderEpoch = q->epoch, .successor_count = 0};
    /* Preferred successors: the voters in order of how far they had fetched (most first). */
    for (u32 i = 0; i < q->voter_count; i++) {
        if ((i32)i == q->self_index) continue;
        request.PreferredSuccessors[request.successor_count++] = q->peers[i].id;
    }
    quorum_encode_end_epoch_request(&writer, &request);
    request_end(q, index, slot, &writer);
}

static i32 fetch_target(struct quorum *q)
{
    if (q->leader_id >= 0) return quorum_voter_index(q, q->leader_id);
    if (q->role != HISTORY_ROLE_OBSERVER) return -1;
    /* An observer without a leader asks the voters in turn; a non-leader names the leader. */
    for (u32 tries = 0; tries < q->voter_count; tries++) {
        u32 index = q->observer_next++ % q->voter_count;
        if (q->peers[index].conn != 0) return (i32)index;
    }
    return -1;
}

/* ===== Downloading the leader's snapshot ===== */

void quorum_download_begin(struct quorum *q, const struct quorum_snapshot_id *id)
{
    ASSERT(id->EndOffset > 0);
    if (q->download.active) return;
    /* The download fills the store's scratch buffer, and installing it restarts the log: wait
     * for our own snapshot or compaction to finish (the next fetch asks again). */
    if (q->snapshots.writing || quorum_log_compacting(&q->log)) return;
    if (id->EndOffset <= q->commit_end) {
        io_log(q->io, IO_LOG_WARN, "quorum: leader offered snapshot %lld, below our commit "
               "point %lld", (long long)id->EndOffset, (long long)q->commit_end);
        return;
    }
    q->download = (struct quorum_download){
        .active = true, .leader = q->leader_id, .id = *id, .size = -1, .position = 0};
    io_log(q->io, IO_LOG_INFO, "quorum: fetching snapshot %lld (epoch %d) from %d",
           (long long)id->EndOffset, id->Epoch, q->leader_id);
}

void quorum_download_abort(struct quorum *q, const char *why)
{
    ASSERT(q->download.active);
    io_log(q->io, IO_LOG_INFO, "quorum: snapshot download of %lld abandoned: %s",
           (long long)q->download.id.EndOffset, why);
    q->download.active = false;
}

static void send_fetch_snapshot(struct quorum *q)
{
    ASSERT(q->download.active);
    if (q->leader_id != q->download.leader) {
        quorum_download_abort(q, "the leader changed");
        return;
    }
    i32 index = quorum_voter_index(q, q->leader_id);
    if (index < 0 || index == q->self_index) return;
    struct quorum_writer writer;
    struct quorum_inflight *slot = request_begin(q, (u32)index, QUORUM_API_FETCH_SNAPSHOT,
                                                 &writer);
    if (slot == NULL) return;
    struct quorum_fetch_snapshot_request request = {
        .ReplicaId = q->self_id, .MaxBytes = (i32)QUORUM_SNAPSHOT_CHUNK_MAX,
        .CurrentLeaderEpoch = q->epoch, .SnapshotId = q->download.id,
        .Position = q->download.position};
    quorum_encode_fetch_snapshot_request(&writer, &request);
    request_end(q, (u32)index, slot, &writer);
    q->fetch_inflight = slot->used;
}

void quorum_maybe_fetch(struct quorum *q)
{
    if (!q->started || q->stopping || q->fetch_inflight) return;
    if (q->role != HISTORY_ROLE_FOLLOWER && q->role != HISTORY_ROLE_OBSERVER) return;
    /* The compaction copy reads the arena, so the log must not be cut under it; a snapshot
     * being installed is about to replace the log. */
    if (q->log.rewriting || q->snapshot_purpose == QUORUM_SNAPSHOT_INSTALLING) return;
    if (q->download.active) {
        send_fetch_snapshot(q);
        return;
    }
    /* A follower reports in its fetch only what it has synced, and acts in a new epoch only
     * once that epoch is durable. */
    if (q->log.synced_end != q->log.end) return;
    if (q->role == HISTORY_ROLE_FOLLOWER && q->store.durable.epoch != q->epoch) return;
    i32 index = fetch_target(q);
    if (index < 0) return;
    struct quorum_writer writer;
    struct quorum_inflight *slot = request_begin(q, (u32)index, QUORUM_API_FETCH, &writer);
    if (slot == NULL) return;
    struct quorum_fetch_request request = {
        .ReplicaId = q->self_id,
        .CurrentLeaderEpoch = q->epoch,
        .FetchOffset = q->log.end,
        .LastFetchedEpoch = quorum_log_last_epoch(&q->log),
        .MaxBytes = (i32)QUORUM_FETCH_BYTES_MAX,
    };
    quorum_encode_fetch_request(&writer, &request);
    request_end(q, (u32)index, slot, &writer);
    q->fetch_inflight = slot->used;
}

void quorum_peer_forget(struct quorum *q, u32 index)
{
    for (u32 i = 0; i < QUORUM_INFLIGHT_MAX; i++) {
        struct quorum_inflight *slot = &q->peers[index].inflight[i];
        if (slot->used && is_fetch(slot->api_key)) q->fetch_inflight = false;
        slot->used = false;
    }
}

void quorum_expire_inflight(struct quorum *q)
{
    u64 now = io_now_ns(q->io);
    for (u32 index = 0; index < q->voter_count; index++) {
        for (u32 i = 0; i < QUORUM_INFLIGHT_MAX; i++) {
            struct quorum_inflight *slot = &q->peers[index].inflight[i];
            if (!slot->used || now - slot->sent_ns < q->request_timeout_ns) continue;
            if (is_fetch(slot->api_key)) q->fetch_inflight = false;
            slot->used = false;
        }
    }
}

u32 quorum_tally(const struct quorum *q)
{
    u32 votes = 0;
    for (u32 i = 0; i < q->voter_count; i++) {
        if (q->peers[i].granted) votes += QUORUM_MUTATION == 2 ? 2 : 1;
    }
    return votes;
}

/* ===== Responses to our requests ===== */

static void on_vote_response(struct quorum *q, u32 index, const struct quorum_inflight *slot,
                             const struct quorum_vote_response *response)
{
    if (response->LeaderEpoch > q->epoch) {
        quorum_adopt(q, response->LeaderEpoch, response->LeaderId);
        return;
    }
    if (slot->round != q->vote_round || response->LeaderEpoch < q->epoch) return; /* Stale. */
    bool leader_named = response->LeaderId >= 0 && response->LeaderId != q->self_id;
    if (slot->pre_vote && q->role == HISTORY_ROLE_PROSPECTIVE) {
        if (!response->VoteGranted && leader_named) {
            COVER(true);
            /* The voter follows a leader of our epoch: so do we (KIP-996). */
            quorum_become_follower(q, q->epoch, response->LeaderId);
            return;
        }
        q->peers[index].granted = response->VoteGranted;
        q->peers[index].rejected = !response->VoteGranted;
        /* A damaged node pre-votes only to find the leader, never to stand. */
        if (quorum_tally(q) >= q->majority && !q->damaged) quorum_become_candidate(q);
        return;
    }
    if (!slot->pre_vote && q->role == HISTORY_ROLE_CANDIDATE) {
        q->peers[index].granted = response->VoteGranted;
        q->peers[index].rejected = !response->VoteGranted;
        if (quorum_tally(q) >= q->majority) quorum_become_leader(q);
    }
}

/* The leader position of a fetch response: KRaft's truncateToEndOffset. */
static i64 divergence_end(const struct quorum *q, i32 epoch, i64 end_offset)
{
    i32 local_epoch = 0;
    i64 local_end = 0;
    quorum_log_end_for_epoch(&q->log, epoch, &local_epoch, &local_end);
    i64 end = local_epoch == epoch ? MIN(local_end, end_offset) : local_end;
    ASSERT(end >= q->log.start && end <= q->log.end);
    return end;
}

static void append_fetched(struct quorum *q, const struct quorum_fetch_response *response)
{
    u32 position = 0;
    for (u32 i = 0; i < response->record_count; i++) {
        struct quorum_record record;
        u32 consumed = 0;
        enum quorum_wire_result result = quorum_record_decode(
            response->records + position, response->records_size - position, &record, &consumed);
        ASSERT(result == WIRE_OK); /* The codec validated every record. */
        position += consumed;
        if (record.Offset != q->log.end || record.Epoch > q->epoch ||
            record.Epoch < quorum_log_last_epoch(&q->log)) {
            io_log(q->io, IO_LOG_WARN, "quorum: fetched record %lld epoch %d does not extend "
                   "the log (end %lld)", (long long)record.Offset, record.Epoch,
                   (long long)q->log.end);
            return;
        }
        if (!quorum_log_has_room(&q->log, record.size, true)) {
            io_log(q->io, IO_LOG_ERROR, "quorum: log full at %lld", (long long)q->log.end);
            return;
        }
        i64 offset = quorum_log_append_record(&q->log, &record);
        quorum_observe_appended(q, offset, false);
    }
}

static void on_fetch_response(struct quorum *q, u32 index,
                              const struct quorum_fetch_response *response)
{
    if (response->LeaderEpoch > q->epoch) {
        quorum_adopt(q, response->LeaderEpoch, response->LeaderId);
        quorum_learn_leader_endpoint(q, response->LeaderId, response->LeaderEndpoint);
        return;
    }
    if (response->LeaderEpoch < q->epoch) return;
    if (response->ErrorCode != QUORUM_ERROR_NONE) {
        if (q->leader_id < 0 && response->LeaderId >= 0 && response->LeaderId != q->self_id) {
            quorum_adopt(q, q->epoch, response->LeaderId);
        }
        quorum_learn_leader_endpoint(q, response->LeaderId, response->LeaderEndpoint);
        return; /* The tick retries. */
    }
    quorum_learn_leader_endpoint(q, response->LeaderId, response->LeaderEndpoint);
    if (q->role != HISTORY_ROLE_FOLLOWER && q->role != HISTORY_ROLE_OBSERVER) return;
    if (q->peers[index].id != q->leader_id) return;
    q->leader_contact_ns = io_now_ns(q->io);
    q->leader_heard = true;
    if (q->download.active || q->snapshot_purpose == QUORUM_SNAPSHOT_INSTALLING) return;
    if (response->SnapshotId.EndOffset >= 0) {
        quorum_download_begin(q, &response->SnapshotId);
        quorum_maybe_fetch(q);
        return;
    }
    if (response->DivergingEpoch >= 0) {
        i64 end = divergence_end(q, response->DivergingEpoch, response->DivergingEndOffset);
        if (end < q->log.end) quorum_follower_truncate(q, end);
        quorum_maybe_fetch(q);
        return;
    }
    append_fetched(q, response);
    quorum_follower_commit(q, response->HighWatermark);
    i64 high_watermark = response->HighWatermark;
    /* (A new leader's high watermark may still lie below our log start, in our snapshot:
     * then it cannot show an entry of this epoch committed yet.) */
    if (q->damaged && high_watermark > q->log.start && q->log.end >= high_watermark &&
        quorum_log_epoch_at(&q->log, high_watermark - 1) == q->epoch) {
        /* We hold everything committed before this epoch: our word is good again. */
        q->damaged = false;
        io_log(q->io, IO_LOG_INFO, "quorum: caught up to %lld after damage; voting again",
               (long long)high_watermark);
        quorum_store_set(&q->store, &(struct quorum_election_state){.epoch = q->epoch,
            .voted_for = q->voted_for, .leader = q->leader_id, .flags = 0});
    }
    quorum_log_pump(&q->log);
    quorum_maybe_fetch(q);
}

/* A chunk of the snapshot we are downloading. */
static void on_fetch_snapshot_response(struct quorum *q, u32 index,
                                       const struct quorum_fetch_snapshot_response *response)
{
    if (response->LeaderEpoch > q->epoch) {
        quorum_adopt(q, response->LeaderEpoch, response->LeaderId);
        return;
    }
    if (response->LeaderEpoch < q->epoch || !q->download.active) return;
    if (q->peers[index].id != q->download.leader) return;
    if (response->ErrorCode != QUORUM_ERROR_NONE) {
        /* SNAPSHOT_NOT_FOUND: the leader has a newer one; the next fetch names it. */
        quorum_download_abort(q, "the leader answered with an error");
        return;
    }
    struct quorum_download *download = &q->download;
    if (response->SnapshotId.EndOffset != download->id.EndOffset ||
        response->SnapshotId.Epoch != download->id.Epoch) {
        quorum_download_abort(q, "the leader answered for another snapshot");
        return;
    }
    if (response->Position != download->position) return; /* A stale answer. */
    if (download->size < 0) {
        if (response->Size < (i64)QUORUM_SNAPSHOT_HEADER_SIZE) {
            quorum_download_abort(q, "the snapshot is too small to be one");
            return;
        }
        download->size = response->Size;
    } else if (response->Size != download->size) {
        quorum_download_abort(q, "the snapshot changed size");
        return;
    }
    q->leader_contact_ns = io_now_ns(q->io); /* The leader is alive: no election. */
    q->leader_heard = true;
    /* The codec bounded Size and the chunk to lie inside [0, Size). */
    ASSERT(download->size <= (i64)QUORUM_SNAPSHOT_SIZE_MAX);
    memcpy(q->snapshots.scratch + download->position, response->chunk, response->chunk_size);
    download->position += response->chunk_size;
    if (download->position < download->size) {
        if (response->chunk_size == 0) quorum_download_abort(q, "no progress");
        quorum_maybe_fetch(q);
        return;
    }
    struct quorum_snapshot_header header;
    if (!quorum_snapshot_validate(q->snapshots.scratch, (u64)download->size, &header) ||
        header.end_offset != download->id.EndOffset ||
        header.last_epoch != download->id.Epoch) {
        quorum_download_abort(q, "the downloaded bytes are not the snapshot named");
        return;
    }
    download->active = false;
    q->snapshot_purpose = QUORUM_SNAPSHOT_INSTALLING;
    quorum_snapshot_write(&q->snapshots, (u32)download->size);
}

static struct quorum_inflight *inflight_find(struct quorum *q, u32 index, i32 correlation_id)
{
    for (u32 i = 0; i < QUORUM_INFLIGHT_MAX; i++) {
        struct quorum_inflight *slot = &q->peers[index].inflight[i];
        if (slot->used && slot->correlation_id == correlation_id) return slot;
    }
    return NULL;
}

bool quorum_on_response(struct quorum *q, u32 index, const u8 *frame, u32 size)
{
    ASSERT(index < q->voter_count);
    struct quorum_reader reader = {.bytes = frame, .size = size, .position = 0};
    i32 correlation_id = 0;
    if (quorum_decode_response_header(&reader, &correlation_id) != WIRE_OK) return false;
    struct quorum_inflight *found = inflight_find(q, index, correlation_id);
    if (found == NULL) return true; /* Expired or from before a reconnect: ignore. */
    struct quorum_inflight slot = *found;
    found->used = false;
    if (is_fetch(slot.api_key)) q->fetch_inflight = false;
    if (slot.api_key == QUORUM_API_VOTE) {
        struct quorum_vote_response response;
        if (quorum_decode_vote_response(&reader, &response) != WIRE_OK) return false;
        if (q->started) on_vote_response(q, index, &slot, &response);
    } else if (slot.api_key == QUORUM_API_FETCH) {
        struct quorum_fetch_response response;
        if (quorum_decode_fetch_response(&reader, &response) != WIRE_OK) return false;
        if (q->started) on_fetch_response(q, index, &response);
    } else if (slot.api_key == QUORUM_API_FETCH_SNAPSHOT) {
        struct quorum_fetch_snapshot_response response;
        if (quorum_decode_fetch_snapshot_response(&reader, &response) != WIRE_OK) return false;
        if (q->started) on_fetch_snapshot_response(q, index, &response);
    } else {
        struct quorum_epoch_response response;
        if (quorum_decode_epoch_response(&reader, &response) != WIRE_OK) return false;
        if (q->started && response.LeaderEpoch > q->epoch) {
            quorum_adopt(q, response.LeaderEpoch, response.LeaderId);
        }
    }
    quorum_invariants(q);
    return true;
}

void quorum_peer_connected(struct quorum *q, u32 index, io_conn conn)
{
    ASSERT(index < q->voter_count);
    ASSERT(conn != 0);
    quorum_peer_forget(q, index);
    q->peers[index].conn = conn;
    if (!q->started || q->stopping) return;
    if (q->role == HISTORY_ROLE_PROSPECTIVE) quorum_send_vote_requests(q, true);
    if (q->role == HISTORY_ROLE_CANDIDATE && q->votes_sent) quorum_send_vote_requests(q, false);
    if (q->role == HISTORY_ROLE_LEADER && q->peers[index].fetch_offset < 0) {
        quorum_send_begin_epoch(q, index);
    }
    quorum_maybe_fetch(q);
    quorum_invariants(q);
}

void quorum_peer_closed(struct quorum *q, u32 index)
{
    ASSERT(index < q->voter_count);
    quorum_peer_forget(q, index);
    q->peers[index].conn = 0;
}

/* ===== Answering requests ===== */

static void respond_vote(struct quorum *q, io_conn conn, i32 correlation_id, bool granted)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, q->send_buffer, QUORUM_SEND_BUFFER_SIZE);
    quorum_frame_response_begin(&writer, correlation_id);
    /* Name a leader only if we heard from it ourselves: passing on a leader we were merely
     * told about lets a dead leader's name circulate and block elections. */
    struct quorum_vote_response response = {
        .ErrorCode = QUORUM_ERROR_NONE,
        .LeaderId = quorum_has_live_leader(q) ? q->leader_id : QUORUM_NONE,
        .LeaderEpoch = q->epoch, .VoteGranted = granted};
    quorum_encode_vote_response(&writer, &response);
    send_frame(q, conn, &writer);
}

static void respond_epoch(struct quorum *q, io_conn conn, i32 correlation_id, i16 error)
{
    struct quorum_writer writer;
    quorum_writer_init(&writer, q->send_buffer, QUORUM_SEND_BUFFER_SIZE);
    quorum_frame_response_begin(&writer, correlation_id);
    struct quorum_epoch_response response = {
        .ErrorCode = error, .LeaderId = q->leader_id, .LeaderEpoch = q->epoch};
    quorum_encode_epoch_response(&writer, &response);
    send_frame(q, conn, &writer);
}

/* Answers a fetch: an error, a divergence (epoch >= 0), or the records from fetch_offset. */
static void respond_fetch(struct quorum *q, io_conn conn, i32 correlation_id, i16 error,
                          i32 diverging_epoch, i64 diverging_end, i64 fetch_offset)
{
    struct quorum_fetch_response response = {
        .ErrorCode = error, .LeaderId = q->leader_id, .LeaderEpoch = q->epoch,
        .HighWatermark = q->commit_end, .DivergingEpoch = diverging_epoch,
        .DivergingEndOffset = diverging_end};
    response.SnapshotId = (struct quorum_snapshot_id){.EndOffset = -1, .Epoch = -1};
    memcpy(response.LeaderEndpoint, q->leader_endpoint, sizeof(response.LeaderEndpoint));
    if (error == QUORUM_ERROR_NONE && diverging_epoch < 0 && fetch_offset < q->log.start) {
        /* What the follower needs next was compacted away: send it to our snapshot, which
         * ends at or above our log start. */
        ASSERT(q->snapshots.has_current && q->snapshot_end >= q->log.start);
        response.SnapshotId = (struct quorum_snapshot_id){
            .EndOffset = q->snapshot_end, .Epoch = q->snapshots.current_header.last_epoch};
    } else if (error == QUORUM_ERROR_NONE && diverging_epoch < 0) {
        ASSERT(fetch_offset >= 0 && fetch_offset <= q->log.end);
        response.records = quorum_log_records(&q->log, fetch_offset, QUORUM_FETCH_BYTES_MAX,
                                              &response.record_count, &response.records_size);
    }
    struct quorum_writer writer;
    quorum_writer_init(&writer, q->send_buffer, QUORUM_SEND_BUFFER_SIZE);
    quorum_frame_response_begin(&writer, correlation_id);
    quorum_encode_fetch_response(&writer, &response);
    send_frame(q, conn, &writer);
}

static bool log_up_to_date(const struct quorum *q, i32 last_epoch, i64 end_offset)
{
    i32 our_epoch = quorum_log_last_epoch(&q->log);
    if (last_epoch != our_epoch) return last_epoch > our_epoch;
    return end_offset >= q->log.end;
}

static void queue_vote_answer(struct quorum *q, io_conn conn, i32 correlation_id, i32 candidate)
{
    for (u32 i = 0; i < QUORUM_PENDING_VOTES_MAX; i++) {
        struct quorum_pending_vote *vote = &q->votes[i];
        if (vote->used) continue;
        *vote = (struct quorum_pending_vote){.used = true, .conn = conn,
            .correlation_id = correlation_id, .epoch = q->epoch, .candidate = candidate};
        return;
    }
    /* Full: no answer; the candidate's request times out and it asks again. */
}

static void on_vote_request(struct quorum *q, io_conn conn, i32 correlation_id,
                            const struct quorum_vote_request *request)
{
    bool up_to_date = log_up_to_date(q, request->LastOffsetEpoch, request->LastOffset);
    if (q->self_index < 0 || request->CandidateEpoch < q->epoch || q->damaged) {
        respond_vote(q, conn, correlation_id, false);
        return;
    }
    if (request->PreVote) {
        /* Changes nothing; granted only if we too have lost the leader (KIP-996). */
        bool granted = request->CandidateEpoch > q->epoch && !quorum_has_live_leader(q) &&
                       up_to_date;
        respond_vote(q, conn, correlation_id, granted);
        return;
    }
    if (quorum_has_live_leader(q)) {
        respond_vote(q, conn, correlation_id, false);
        return;
    }
    if (request->CandidateEpoch > q->epoch) quorum_become_unattached(q, request->CandidateEpoch);
    bool free_vote = q->voted_for == QUORUM_NONE || q->voted_for == request->CandidateId;
    if (!free_vote || !up_to_date || q->leader_id >= 0 || q->role == HISTORY_ROLE_LEADER) {
        respond_vote(q, conn, correlation_id, false);
        return;
    }
    quorum_grant_vote(q, request->CandidateId);
    if (QUORUM_MUTATION == 1) {
        /* The bug: granted (and reported as cast) before the vote is durable. */
        if (q->voted_reported_epoch < q->epoch) {
            q->voted_reported_epoch = q->epoch;
            quorum_observe(q, HISTORY_QUORUM_VOTED, (u64)q->epoch, (u64)request->CandidateId, 0,
                           0);
        }
        respond_vote(q, conn, correlation_id, true);
        return;
    }
    queue_vote_answer(q, conn, correlation_id, request->CandidateId);
    quorum_answer_votes(q); /* Already durable if it repeats an earlier grant. */
}

void quorum_answer_votes(struct quorum *q)
{
    for (u32 i = 0; i < QUORUM_PENDING_VOTES_MAX; i++) {
        struct quorum_pending_vote *vote = &q->votes[i];
        if (!vote->used) continue;
        ASSERT(vote->epoch == q->epoch);
        struct quorum_election_state state = {
            .epoch = vote->epoch, .voted_for = vote->candidate, .leader = QUORUM_NONE};
        if (!quorum_store_is_durable(&q->store, &state)) continue;
        vote->used = false;
        respond_vote(q, vote->conn, vote->correlation_id, true);
    }
}

static void on_begin_epoch_request(struct quorum *q, io_conn conn, i32 correlation_id,
                                   const struct quorum_begin_epoch_request *request)
{
    if (request->LeaderEpoch < q->epoch || request->LeaderId == q->self_id) {
        respond_epoch(q, conn, correlation_id, QUORUM_ERROR_FENCED_LEADER_EPOCH);
        return;
    }
    if (request->LeaderEpoch == q->epoch && q->role == HISTORY_ROLE_LEADER) {
        io_log(q->io, IO_LOG_ERROR, "quorum: node %d claims epoch %d, which we lead",
               request->LeaderId, q->epoch);
        respond_epoch(q, conn, correlation_id, QUORUM_ERROR_FENCED_LEADER_EPOCH);
        return;
    }
    if (request->LeaderEpoch > q->epoch || q->leader_id != request->LeaderId) {
        quorum_become_follower(q, request->LeaderEpoch, request->LeaderId);
    }
    quorum_learn_leader_endpoint(q, request->LeaderId, request->LeaderEndpoint);
    q->leader_heard = true; /* The leader itself told us. */
    q->leader_contact_ns = io_now_ns(q->io);
    respond_epoch(q, conn, correlation_id, QUORUM_ERROR_NONE);
}

static void on_end_epoch_request(struct quorum *q, io_conn conn, i32 correlation_id,
                                 const struct quorum_end_epoch_request *request)
{
    if (request->LeaderEpoch < q->epoch) {
        respond_epoch(q, conn, correlation_id, QUORUM_ERROR_FENCED_LEADER_EPOCH);
        return;
    }
    if (q->self_index >= 0 && (request->LeaderEpoch > q->epoch ||
                               (q->role == HISTORY_ROLE_FOLLOWER &&
                                q->leader_id == request->LeaderId))) {
        /* The leader resigned gracefully: elect soon rather than after the fetch timeout. */
        COVER(true);
        quorum_become_unattached(q, request->LeaderEpoch);
        quorum_role_timer_set(q, 1 + io_random_below(q->io, q->election_timeout_ns / 4));
    }
    respond_epoch(q, conn, correlation_id, QUORUM_ERROR_NONE);
}

static void park_fetch(struct quorum *q, io_conn conn, i32 correlation_id,
                       const struct quorum_fetch_request *request)
{
    for (u32 i = 0; i < QUORUM_PARKED_MAX; i++) {
        struct quorum_parked *parked = &q->parked[i];
        if (parked->used) continue;
        *parked = (struct quorum_parked){.used = true, .conn = conn,
            .correlation_id = correlation_id, .request = *request,
            .parked_ns = io_now_ns(q->io)};
        return;
    }
    respond_fetch(q, conn, correlation_id, QUORUM_ERROR_NONE, -1, -1, request->FetchOffset);
}

void quorum_wake_parked(struct quorum *q, bool all)
{
    u64 now = io_now_ns(q->io);
    for (u32 i = 0; i < QUORUM_PARKED_MAX; i++) {
        struct quorum_parked *parked = &q->parked[i];
        if (!parked->used) continue;
        if (!all && now - parked->parked_ns < QUORUM_FETCH_WAIT_NS) continue;
        parked->used = false;
        respond_fetch(q, parked->conn, parked->correlation_id, QUORUM_ERROR_NONE, -1, -1,
                      parked->request.FetchOffset);
    }
}

void quorum_drop_parked(struct quorum *q, i16 error)
{
    for (u32 i = 0; i < QUORUM_PARKED_MAX; i++) {
        struct quorum_parked *parked = &q->parked[i];
        if (!parked->used) continue;
        parked->used = false;
        respond_fetch(q, parked->conn, parked->correlation_id, error, -1, -1, 0);
    }
}

static void on_fetch_request(struct quorum *q, io_conn conn, i32 correlation_id,
                             const struct quorum_fetch_request *request)
{
    if (request->CurrentLeaderEpoch > q->epoch) {
        /* Someone knows a newer epoch than ours: we cannot be its leader. */
        respond_fetch(q, conn, correlation_id, QUORUM_ERROR_UNKNOWN_LEADER_EPOCH, -1, -1, 0);
        if (q->role == HISTORY_ROLE_LEADER) quorum_adopt(q, request->CurrentLeaderEpoch, -1);
        return;
    }
    if (request->CurrentLeaderEpoch < q->epoch) {
        respond_fetch(q, conn, correlation_id, QUORUM_ERROR_FENCED_LEADER_EPOCH, -1, -1, 0);
        return;
    }
    if (q->role != HISTORY_ROLE_LEADER) {
        respond_fetch(q, conn, correlation_id, QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER, -1, -1, 0);
        return;
    }
    i32 index = quorum_voter_index(q, request->ReplicaId);
    i32 epoch_found = 0;
    i64 end_offset = 0;
    quorum_log_end_for_epoch(&q->log, request->LastFetchedEpoch, &epoch_found, &end_offset);
    if (request->FetchOffset < q->log.start || epoch_found < 0) {
        /* Its position, or where its log parts from ours, was compacted away. */
        COVER(true);
        if (index >= 0 && index != q->self_index) q->peers[index].last_fetch_ns = io_now_ns(q->io);
        respond_fetch(q, conn, correlation_id, QUORUM_ERROR_NONE, -1, -1,
                      q->log.start - 1 /* below the start: the snapshot */);
        return;
    }
    if (epoch_found != request->LastFetchedEpoch || request->FetchOffset > end_offset) {
        COVER(true); /* A follower's log diverges from ours. */
        respond_fetch(q, conn, correlation_id, QUORUM_ERROR_NONE, epoch_found, end_offset, 0);
        return;
    }
    if (index >= 0 && index != q->self_index) {
        q->peers[index].fetch_offset = request->FetchOffset;
        q->peers[index].last_fetch_ns = io_now_ns(q->io);
        quorum_update_high_watermark(q);
    }
    if (request->FetchOffset < q->log.end) {
        respond_fetch(q, conn, correlation_id, QUORUM_ERROR_NONE, -1, -1, request->FetchOffset);
    } else {
        park_fetch(q, conn, correlation_id, request);
    }
}

static void respond_fetch_snapshot(struct quorum *q, io_conn conn, i32 correlation_id,
                                   i16 error, const struct quorum_fetch_snapshot_request *request)
{
    struct quorum_fetch_snapshot_response response = {
        .ErrorCode = error, .LeaderId = q->leader_id, .LeaderEpoch = q->epoch,
        .SnapshotId = request->SnapshotId, .Size = 0, .Position = 0};
    if (error == QUORUM_ERROR_NONE) {
        const struct quorum_snapshot_store *store = &q->snapshots;
        ASSERT(request->Position <= (i64)store->current_size);
        u32 left = store->current_size - (u32)request->Position;
        response.Size = store->current_size;
        response.Position = request->Position;
        response.chunk = store->current + request->Position;
        response.chunk_size = MIN(MIN(left, (u32)request->MaxBytes), QUORUM_SNAPSHOT_CHUNK_MAX);
    }
    struct quorum_writer writer;
    quorum_writer_init(&writer, q->send_buffer, QUORUM_SEND_BUFFER_SIZE);
    quorum_frame_response_begin(&writer, correlation_id);
    quorum_encode_fetch_snapshot_response(&writer, &response);
    send_frame(q, conn, &writer);
}

/* Serves a chunk of our current snapshot, from memory, to a follower catching up. */
static void on_fetch_snapshot_request(struct quorum *q, io_conn conn, i32 correlation_id,
                                      const struct quorum_fetch_snapshot_request *request)
{
    i16 error = QUORUM_ERROR_NONE;
    const struct quorum_snapshot_store *store = &q->snapshots;
    if (request->CurrentLeaderEpoch > q->epoch) {
        error = QUORUM_ERROR_UNKNOWN_LEADER_EPOCH;
    } else if (request->CurrentLeaderEpoch < q->epoch) {
        error = QUORUM_ERROR_FENCED_LEADER_EPOCH;
    } else if (q->role != HISTORY_ROLE_LEADER) {
        error = QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER;
    } else if (!store->has_current ||
               store->current_header.end_offset != request->SnapshotId.EndOffset ||
               store->current_header.last_epoch != request->SnapshotId.Epoch) {
        error = QUORUM_ERROR_SNAPSHOT_NOT_FOUND; /* Superseded: the follower fetches again. */
    } else if (request->Position > (i64)store->current_size) {
        error = QUORUM_ERROR_POSITION_OUT_OF_RANGE;
    }
    i32 index = quorum_voter_index(q, request->ReplicaId);
    if (error == QUORUM_ERROR_NONE && index >= 0 && index != q->self_index) {
        q->peers[index].last_fetch_ns = io_now_ns(q->io); /* Alive, for check-quorum. */
    }
    respond_fetch_snapshot(q, conn, correlation_id, error, request);
}

bool quorum_on_request(struct quorum *q, io_conn conn, const u8 *frame, u32 size)
{
    struct quorum_reader reader = {.bytes = frame, .size = size, .position = 0};
    struct quorum_header header;
    if (quorum_decode_request_header(&reader, &header) != WIRE_OK) return false;
    i32 id = header.CorrelationId;
    bool ok = false;
    if (header.ApiKey == QUORUM_API_VOTE) {
        struct quorum_vote_request m;
        ok = quorum_decode_vote_request(&reader, &m) == WIRE_OK;
        if (ok && q->started) on_vote_request(q, conn, id, &m);
    } else if (header.ApiKey == QUORUM_API_BEGIN_QUORUM_EPOCH) {
        struct quorum_begin_epoch_request m;
        ok = quorum_decode_begin_epoch_request(&reader, &m) == WIRE_OK;
        if (ok && q->started) on_begin_epoch_request(q, conn, id, &m);
    } else if (header.ApiKey == QUORUM_API_END_QUORUM_EPOCH) {
        struct quorum_end_epoch_request m;
        ok = quorum_decode_end_epoch_request(&reader, &m) == WIRE_OK;
        if (ok && q->started) on_end_epoch_request(q, conn, id, &m);
    } else if (header.ApiKey == QUORUM_API_FETCH) {
        struct quorum_fetch_request m;
        ok = quorum_decode_fetch_request(&reader, &m) == WIRE_OK;
        if (ok && q->started) on_fetch_request(q, conn, id, &m);
    } else if (header.ApiKey == QUORUM_API_FETCH_SNAPSHOT) {
        struct quorum_fetch_snapshot_request m;
        ok = quorum_decode_fetch_snapshot_request(&reader, &m) == WIRE_OK;
        if (ok && q->started) on_fetch_snapshot_request(q, conn, id, &m);
    }
    quorum_invariants(q);
    return ok; /* Unknown api keys and malformed bodies close the connection. */
}

/* ===== Client appends ===== */

static void respond_append(struct quorum *q, io_conn conn, i32 correlation_id, i16 error,
                           i64 offset)
{
    struct quorum_append_response response = {
        .ErrorCode = error, .Offset = offset, .LeaderId = q->leader_id};
    if (error != QUORUM_ERROR_NONE && q->leader_id >= 0) {
        quorum_endpoint_hint(q, q->leader_id, response.LeaderEndpoint,
                             sizeof(response.LeaderEndpoint));
    }
    struct quorum_writer writer;
    quorum_writer_init(&writer, q->send_buffer, QUORUM_SEND_BUFFER_SIZE);
    quorum_frame_response_begin(&writer, correlation_id);
    quorum_encode_append_response(&writer, &response);
    send_frame(q, conn, &writer);
}

void quorum_answer_appends(struct quorum *q, bool leadership_lost)
{
    for (u32 i = 0; i < QUORUM_PENDING_APPENDS_MAX; i++) {
        struct quorum_pending_append *append = &q->appends[i];
        if (!append->used) continue;
        if (leadership_lost) {
            /* It may still be committed by a later leader: the outcome is unknown. */
            append->used = false;
            respond_append(q, append->conn, append->correlation_id,
                           QUORUM_ERROR_REQUEST_TIMED_OUT, -1);
        } else if (append->offset < q->commit_end) {
            append->used = false;
            respond_append(q, append->conn, append->correlation_id, QUORUM_ERROR_NONE,
                           append->offset);
        }
    }
}

static struct quorum_pending_append *append_slot(struct quorum *q)
{
    for (u32 i = 0; i < QUORUM_PENDING_APPENDS_MAX; i++) {
        if (!q->appends[i].used) return &q->appends[i];
    }
    return NULL;
}

bool quorum_on_client_request(struct quorum *q, io_conn conn, const u8 *frame, u32 size)
{
    struct quorum_reader reader = {.bytes = frame, .size = size, .position = 0};
    struct quorum_header header;
    struct quorum_append_request request;
    if (quorum_decode_request_header(&reader, &header) != WIRE_OK) return false;
    if (header.ApiKey != QUORUM_API_CLIENT_APPEND) return false;
    if (quorum_decode_append_request(&reader, &request) != WIRE_OK) return false;
    i32 id = header.CorrelationId;
    if (!q->started || q->stopping || q->role != HISTORY_ROLE_LEADER) {
        respond_append(q, conn, id, QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER, -1);
        return true;
    }
    if (!quorum_log_has_room(&q->log, request.value_size, false)) {
        respond_append(q, conn, id, QUORUM_ERROR_KAFKA_STORAGE_ERROR, -1);
        return true;
    }
    struct quorum_pending_append *append = append_slot(q);
    if (append == NULL) {
        respond_append(q, conn, id, QUORUM_ERROR_THROTTLING_QUOTA_EXCEEDED, -1);
        return true;
    }
    i64 offset = quorum_log_append(&q->log, q->epoch, 0, request.Value, request.value_size);
    *append = (struct quorum_pending_append){
        .used = true, .conn = conn, .correlation_id = id, .offset = offset};
    quorum_observe_appended(q, offset, false);
    quorum_log_pump(&q->log);
    quorum_wake_parked(q, true);
    quorum_invariants(q);
    return true;
}

void quorum_conn_closed(struct quorum *q, io_conn conn)
{
    for (u32 i = 0; i < QUORUM_PARKED_MAX; i++) {
        if (q->parked[i].conn == conn) q->parked[i].used = false;
    }
    for (u32 i = 0; i < QUORUM_PENDING_APPENDS_MAX; i++) {
        if (q->appends[i].conn == conn) q->appends[i].used = false;
    }
    for (u32 i = 0; i < QUORUM_PENDING_VOTES_MAX; i++) {
        if (q->votes[i].conn == conn) q->votes[i].used = false;
    }
}
