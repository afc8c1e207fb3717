/* quorum.c: the Raft metadata quorum's roles, timers, durable state, commit and apply.
 *
 * The role machine (KRaft, KIP-595 with KIP-996 pre-vote):
 *   unattached --election timeout--> prospective --majority of pre-votes--> candidate
 *   candidate --self-vote durable, majority of votes--> leader
 *   candidate/prospective --round times out--> prospective (a new pre-vote round)
 *   any --higher epoch seen--> follower (leader known) or unattached
 *   follower --no fetch answered within quorum_fetch_timeout_ms--> prospective
 *   leader --no majority fetched within quorum_fetch_timeout_ms (check-quorum)--> resigned
 *   leader --on_stop--> resigned (EndQuorumEpoch sent); resigned --timeout--> prospective
 * Observers (non-voters) only fetch. Pre-vote changes no durable state, so a node coming back
 * from a partition cannot disrupt a healthy leader: voters that heard from a leader within the
 * fetch timeout refuse it.
 *
 * Invariants (quorum_invariants, after every handler): the log's epochs never exceed ours;
 * a leader is a voter and leads itself; commit_end never exceeds the log end; a candidate
 * voted for itself; an observer never votes; pending votes are for the current epoch;
 * log start <= snapshot end <= commit_end, and the durable snapshot is the one that ends there.
 *
 * Snapshots (KIP-630): when enough has been committed since the last one (or the committed part
 * of the log fills half of it), the state machine's state at commit_end goes into the snapshot
 * store with our digest and the last entry's epoch; once it is durable the log drops the prefix
 * it covers. Recovery loads the snapshot, then the log above it. A follower whose position lies
 * below the leader's log start downloads the leader's snapshot (quorum_rpc.c) and installs it
 * once durable: the state machine loads it, and the log restarts at its end.
 *
 * Tested by tests/unit/test_quorum_raft.c (a fake io drives transitions by hand) and by every
 * simulated run, judged by model/quorum_checkers.c. */
#include "quorum_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void quorum_observe(const struct quorum *q, u32 kind, u64 a, u64 b, u64 c, u64 d)
{
    struct io_observation observation = {.kind = kind, .a = a, .b = b, .c = c, .d = d};
    io_observe(q->io, &observation);
}

void quorum_invariants(const struct quorum *q)
{
    ASSERT(q->epoch >= 0);
    ASSERT(q->commit_end >= 0);
    ASSERT(q->commit_end <= q->log.end);
    ASSERT(quorum_log_last_epoch(&q->log) <= q->epoch || !q->started);
    if (q->role == HISTORY_ROLE_LEADER) {
        ASSERT(q->self_index >= 0);
        ASSERT(q->leader_id == q->self_id);
        ASSERT(q->voted_for == q->self_id);
        ASSERT(q->epoch_start_offset < q->log.end);
    }
    if (q->role == HISTORY_ROLE_CANDIDATE) ASSERT(q->voted_for == q->self_id);
    if (q->role == HISTORY_ROLE_FOLLOWER) ASSERT(q->leader_id >= 0 && q->leader_id != q->self_id);
    if (q->self_index < 0) {
        ASSERT(q->voted_for == QUORUM_NONE);
        ASSERT(!q->started || q->role == HISTORY_ROLE_OBSERVER);
    }
    for (u32 i = 0; i < QUORUM_PENDING_VOTES_MAX; i++) {
        if (q->votes[i].used) ASSERT(q->votes[i].epoch == q->epoch);
    }
    if (q->started) {
        ASSERT(q->log.start <= q->snapshot_end);
        ASSERT(q->snapshot_end <= q->commit_end);
        ASSERT(q->snapshots.has_current == (q->snapshot_end > 0));
        ASSERT(q->snapshot_end == 0 || q->snapshots.current_header.end_offset == q->snapshot_end);
    }
    if (q->download.active) {
        ASSERT(q->snapshot_purpose == QUORUM_SNAPSHOT_IDLE && !q->snapshots.writing);
        ASSERT(q->download.position >= 0 && q->download.id.EndOffset > q->commit_end);
    }
}

i32 quorum_voter_index(const struct quorum *q, i32 id)
{
    for (u32 i = 0; i < q->voter_count; i++) {
        if (q->peers[i].id == id) return (i32)i;
    }
    return -1;
}

/* ===== Create, start, stop ===== */

/* Our client endpoint as clients reach it: the advertised listener of the client listener's
 * name if any, else the listener itself; an empty or wildcard host becomes our voter host. */
static void client_endpoint_init(struct quorum *q)
{
    const struct config_listener *client = config_client_listener(q->config);
    if (client == NULL) return;
    const char *endpoint = client->endpoint;
    for (u32 i = 0; i < q->config->advertised_count; i++) {
        if (strcmp(q->config->advertised[i].name, client->name) == 0) {
            endpoint = q->config->advertised[i].endpoint;
        }
    }
    char host[QUORUM_ENDPOINT_MAX - 8], voter_host[QUORUM_ENDPOINT_MAX - 8]; /* + ":port" */
    u16 port = 0, voter_port = 0;
    if (!io_endpoint_parse(endpoint, host, sizeof(host), &port)) return;
    if ((host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) && q->self_index >= 0 &&
        io_endpoint_parse(q->config->voters[q->self_index].endpoint, voter_host,
                          sizeof(voter_host), &voter_port)) {
        memcpy(host, voter_host, sizeof(host));
    }
    snprintf(q->client_endpoint, sizeof(q->client_endpoint), "%s:%u", host, (unsigned)port);
}

struct quorum *quorum_create(const struct node_config *config, struct io *io, u32 timer_base,
                             u64 file_tag)
{
    ASSERT(timer_base + QUORUM_TIMERS <= IO_TIMERS_MAX);
    ASSERT((file_tag & (((u64)1 << 56) - 1)) == 0);
    ASSERT(config->voter_count > 0 && config->voter_count <= CONFIG_VOTERS_MAX);
    struct quorum *q = calloc(1, sizeof(*q));
    if (q == NULL) return NULL;
    q->io = io;
    q->config = config;
    q->timer_base = timer_base;
    q->file_tag = file_tag;
    q->self_id = (i32)config->node_id;
    q->voter_count = config->voter_count;
    q->majority = config->voter_count / 2 + 1;
    for (u32 i = 0; i < q->voter_count; i++) {
        q->peers[i].id = (i32)config->voters[i].id;
        q->peers[i].fetch_offset = -1;
    }
    q->self_index = quorum_voter_index(q, q->self_id);
    q->election_timeout_ns = config->quorum_election_timeout_ms * NS_PER_MS;
    q->fetch_timeout_ns = config->quorum_fetch_timeout_ms * NS_PER_MS;
    q->request_timeout_ns = config->quorum_request_timeout_ms * NS_PER_MS;
    ASSERT(q->election_timeout_ns > 0 && q->fetch_timeout_ns > 0 && q->request_timeout_ns > 0);
    q->role = q->self_index >= 0 ? HISTORY_ROLE_UNATTACHED : HISTORY_ROLE_OBSERVER;
    q->leader_id = QUORUM_NONE;
    q->voted_for = QUORUM_NONE;
    client_endpoint_init(q);
    q->digests = calloc(QUORUM_LOG_ENTRIES_MAX, sizeof(u64));
    quorum_snapshot_init(&q->snapshots, io, file_tag | QUORUM_TAG_SNAPSHOT);
    q->send_buffer = calloc(1, QUORUM_SEND_BUFFER_SIZE);
    ASSERT(q->digests != NULL && q->send_buffer != NULL);
    quorum_log_init(&q->log, io, file_tag | QUORUM_TAG_LOG);
    quorum_store_init(&q->store, io, file_tag | QUORUM_TAG_STORE);
    quorum_invariants(q);
    return q;
}

void quorum_destroy(struct quorum *q)
{
    if (q == NULL) return;
    quorum_log_free(&q->log);
    quorum_snapshot_free(&q->snapshots);
    free(q->digests);
    free(q->send_buffer);
    free(q);
}

void quorum_start(struct quorum *q)
{
    ASSERT(!q->started);
    quorum_store_open(&q->store);
    io_timer_set(q->io, q->timer_base + QUORUM_TIMER_TICK, io_now_ns(q->io) + QUORUM_TICK_NS);
    if (q->store.failed) {
        io_timer_set(q->io, q->timer_base + QUORUM_TIMER_DISK,
                     io_now_ns(q->io) + QUORUM_DISK_RETRY_NS);
    }
}

void quorum_stop(struct quorum *q)
{
    q->stopping = true;
    io_timer_cancel(q->io, q->timer_base + QUORUM_TIMER_ROLE);
    if (q->role != HISTORY_ROLE_LEADER) return;
    /* Graceful resignation: tell the voters now so they elect without waiting for the fetch
     * timeout (KRaft's EndQuorumEpoch). */
    for (u32 i = 0; i < q->voter_count; i++) {
        if ((i32)i != q->self_index) quorum_send_end_epoch(q, i);
    }
    quorum_answer_appends(q, true);
    quorum_drop_parked(q, QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER);
    q->role = HISTORY_ROLE_RESIGNED;
    quorum_observe(q, HISTORY_QUORUM_ROLE, (u64)q->epoch, q->role, (u64)(i64)q->leader_id, 0);
    quorum_invariants(q);
}

void quorum_status(const struct quorum *q, struct quorum_status *status)
{
    status->role = q->role;
    status->epoch = q->epoch;
    status->leader_id = q->leader_id;
    status->voted_for = q->voted_for;
    status->log_end = q->log.end;
    status->synced_end = q->log.synced_end;
    status->commit_end = q->commit_end;
    status->digest = q->digest;
    status->recovered = q->started;
    status->epoch_start_offset = q->role == HISTORY_ROLE_LEADER ? q->epoch_start_offset : -1;
    status->log_start = q->log.start;
    status->snapshot_end = q->snapshot_end;
}

void quorum_set_state_machine(struct quorum *q, const struct quorum_state_machine *machine)
{
    ASSERT(!q->started); /* Recovery loads the snapshot into it, and replays from there. */
    q->machine = machine != NULL ? *machine : (struct quorum_state_machine){0};
}

i64 quorum_propose(struct quorum *q, const u8 *payload, u32 size)
{
    ASSERT(payload != NULL || size == 0);
    if (!q->started || q->stopping || q->role != HISTORY_ROLE_LEADER) return -1;
    if (size > QUORUM_ENTRY_SIZE_MAX) {
        io_log(q->io, IO_LOG_ERROR, "quorum: proposal of %u bytes exceeds the entry limit %u",
               size, QUORUM_ENTRY_SIZE_MAX);
        return -1;
    }
    if (!quorum_log_has_room(&q->log, size, false)) return -1;
    i64 offset = quorum_log_append(&q->log, q->epoch, QUORUM_RECORD_PROPOSED, payload, size);
    quorum_observe_appended(q, offset, false);
    quorum_log_pump(&q->log);
    quorum_wake_parked(q, true);
    return offset;
}

/* ===== Roles ===== */

u64 quorum_election_delay(const struct quorum *q)
{
    return q->election_timeout_ns + io_random_below(q->io, q->election_timeout_ns);
}

void quorum_role_timer_set(struct quorum *q, u64 delay_ns)
{
    if (q->stopping) return;
    io_timer_set(q->io, q->timer_base + QUORUM_TIMER_ROLE, io_now_ns(q->io) + delay_ns);
}

bool quorum_has_live_leader(const struct quorum *q)
{
    if (q->role == HISTORY_ROLE_LEADER) return true;
    if (q->role != HISTORY_ROLE_FOLLOWER || !q->leader_heard) return false;
    return io_now_ns(q->io) - q->leader_contact_ns < q->fetch_timeout_ns;
}

static void persist(struct quorum *q)
{
    struct quorum_election_state state = {
        .epoch = q->epoch, .voted_for = q->voted_for, .leader = q->leader_id,
        .flags = q->damaged ? QUORUM_STATE_ABSTAIN : 0};
    if (q->self_index < 0) return; /* Observers keep no election state. */
    quorum_store_set(&q->store, &state);
}

/* Leaves the current role: whatever belonged to it (leadership, a vote round) ends. */
static void leave_role(struct quorum *q, i32 epoch_next)
{
    ASSERT(epoch_next >= q->epoch);
    if (q->role == HISTORY_ROLE_LEADER) {
        quorum_answer_appends(q, true);
        quorum_drop_parked(q, QUORUM_ERROR_NOT_LEADER_OR_FOLLOWER);
    }
    if (epoch_next > q->epoch) {
        q->leader_endpoint[0] = '\0';
        q->epoch = epoch_next;
        q->voted_for = QUORUM_NONE;
        q->leader_id = QUORUM_NONE;
        for (u32 i = 0; i < QUORUM_PENDING_VOTES_MAX; i++) q->votes[i].used = false;
    }
    q->vote_round++;
    q->votes_sent = false;
    q->fetch_inflight = false;
    /* A download belongs to one leader's tenure; a finished one being made durable stays. */
    if (q->download.active) quorum_download_abort(q, "the role changed");
}

static void enter_role(struct quorum *q, u32 role)
{
    q->role = role;
    quorum_observe(q, HISTORY_QUORUM_ROLE, (u64)q->epoch, role, (u64)(i64)q->leader_id, 0);
    io_log(q->io, IO_LOG_INFO, "quorum: role %u epoch %d leader %d", role, q->epoch,
           q->leader_id);
}

void quorum_become_unattached(struct quorum *q, i32 epoch)
{
    ASSERT(q->self_index >= 0);
    ASSERT(epoch >= q->epoch);
    leave_role(q, epoch);
    q->leader_id = QUORUM_NONE;
    persist(q);
    enter_role(q, HISTORY_ROLE_UNATTACHED);
    quorum_role_timer_set(q, quorum_election_delay(q));
    quorum_invariants(q);
}

void quorum_become_follower(struct quorum *q, i32 epoch, i32 leader)
{
    ASSERT(leader >= 0 && leader != q->self_id);
    ASSERT(epoch >= q->epoch);
    leave_role(q, epoch);
    if (q->leader_id != leader) q->leader_endpoint[0] = '\0';
    q->leader_id = leader;
    q->leader_contact_ns = io_now_ns(q->io); /* The fetch timeout starts now. */
    q->leader_heard = false;
    if (q->self_index < 0) {
        enter_role(q, HISTORY_ROLE_OBSERVER);
    } else {
        persist(q);
        enter_role(q, HISTORY_ROLE_FOLLOWER);
    }
    quorum_role_timer_set(q, q->fetch_timeout_ns);
    quorum_maybe_fetch(q);
    quorum_invariants(q);
}

/* A message carried a newer epoch (or named the leader of ours): follow what it says. */
void quorum_adopt(struct quorum *q, i32 epoch, i32 leader)
{
    ASSERT(epoch >= q->epoch);
    if (leader >= 0 && leader != q->self_id) {
        quorum_become_follower(q, epoch, leader);
    } else if (q->self_index >= 0) {
        quorum_become_unattached(q, epoch);
    } else {
        leave_role(q, epoch);
        enter_role(q, HISTORY_ROLE_OBSERVER);
    }
}

static void become_prospective(struct quorum *q)
{
    ASSERT(q->self_index >= 0);
    leave_role(q, q->epoch);
    q->leader_id = QUORUM_NONE;
    for (u32 i = 0; i < q->voter_count; i++) {
        q->peers[i].granted = (i32)i == q->self_index;
        q->peers[i].rejected = false;
    }
    enter_role(q, HISTORY_ROLE_PROSPECTIVE);
    quorum_role_timer_set(q, quorum_election_delay(q));
    if (quorum_tally(q) >= q->majority && !q->damaged) {
        quorum_become_candidate(q); /* A single voter needs nobody's pre-vote. */
        return;
    }
    quorum_send_vote_requests(q, true);
    quorum_invariants(q);
}

void quorum_become_candidate(struct quorum *q)
{
    ASSERT(q->self_index >= 0);
    leave_role(q, q->epoch + 1);
    q->voted_for = q->self_id;
    for (u32 i = 0; i < q->voter_count; i++) {
        q->peers[i].granted = (i32)i == q->self_index;
        q->peers[i].rejected = false;
    }
    persist(q);
    enter_role(q, HISTORY_ROLE_CANDIDATE);
    quorum_role_timer_set(q, quorum_election_delay(q));
    /* Vote requests go out once our own vote is durable (quorum_on_store_durable). */
    quorum_invariants(q);
}

void quorum_become_leader(struct quorum *q)
{
    ASSERT(q->role == HISTORY_ROLE_CANDIDATE);
    ASSERT(quorum_store_is_durable(&q->store, &(struct quorum_election_state){
        .epoch = q->epoch, .voted_for = q->self_id, .leader = QUORUM_NONE}));
    leave_role(q, q->epoch);
    q->leader_id = q->self_id;
    memcpy(q->leader_endpoint, q->client_endpoint, sizeof(q->leader_endpoint));
    u64 now = io_now_ns(q->io);
    for (u32 i = 0; i < q->voter_count; i++) {
        q->peers[i].fetch_offset = -1;
        q->peers[i].last_fetch_ns = now; /* Check-quorum grace: one fetch timeout. */
        q->peers[i].begin_sent_ns = 0;
    }
    if (!quorum_log_has_room(&q->log, 16, true)) {
        io_log(q->io, IO_LOG_ERROR, "quorum: log full, cannot lead epoch %d", q->epoch);
        enter_role(q, HISTORY_ROLE_RESIGNED);
        quorum_role_timer_set(q, quorum_election_delay(q));
        return;
    }
    /* The leader-change record: the leader commits nothing until an entry of its own epoch is
     * committed, and this is the first one (KRaft's LeaderChangeMessage). */
    u8 payload[16];
    store_u32_be(payload, 0x4b4c4348u); /* "KLCH" */
    store_u32_be(payload + 4, (u32)q->epoch);
    store_u32_be(payload + 8, (u32)q->self_id);
    store_u32_be(payload + 12, q->voter_count);
    q->epoch_start_offset = quorum_log_append(&q->log, q->epoch, QUORUM_RECORD_CONTROL, payload,
                                              sizeof(payload));
    persist(q);
    enter_role(q, HISTORY_ROLE_LEADER);
    quorum_observe_appended(q, q->epoch_start_offset, false);
    quorum_log_pump(&q->log);
    for (u32 i = 0; i < q->voter_count; i++) {
        if ((i32)i != q->self_index) quorum_send_begin_epoch(q, i);
    }
    q->leader_contact_ns = now;
    quorum_role_timer_set(q, q->fetch_timeout_ns);
    quorum_update_high_watermark(q);
    quorum_invariants(q);
}

static void become_resigned(struct quorum *q)
{
    ASSERT(q->role == HISTORY_ROLE_LEADER);
    leave_role(q, q->epoch);
    enter_role(q, HISTORY_ROLE_RESIGNED);
    quorum_role_timer_set(q, quorum_election_delay(q));
    quorum_invariants(q);
}

/* Records a vote for candidate in the current epoch; the answer waits until it is durable. */
void quorum_grant_vote(struct quorum *q, i32 candidate)
{
    ASSERT(q->self_index >= 0);
    ASSERT(q->voted_for == QUORUM_NONE || q->voted_for == candidate);
    q->voted_for = candidate;
    persist(q);
    /* Granting resets the election timer, so we do not immediately compete with the candidate
     * we just voted for. */
    if (q->role == HISTORY_ROLE_UNATTACHED || q->role == HISTORY_ROLE_PROSPECTIVE) {
        quorum_role_timer_set(q, quorum_election_delay(q));
    }
}

/* ===== Commit and apply ===== */

static u64 digest_mix(u64 digest, i64 offset, u64 checksum)
{
    /* The state machine for now: an order-sensitive running digest of applied entries. */
    u64 x = digest ^ (checksum + 0x9e3779b97f4a7c15ull + ((u64)offset << 6) + (digest >> 2));
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Reports and applies [commit_end, end) in offset order. */
static void commit_advance(struct quorum *q, i64 end)
{
    ASSERT(end > q->commit_end);
    ASSERT(end <= q->log.end);
    for (i64 offset = q->commit_end; offset < end; offset++) {
        const struct quorum_log_entry *entry = quorum_log_entry(&q->log, offset);
        bool control = (entry->attributes & QUORUM_RECORD_CONTROL) != 0;
        u64 flags = (control ? HISTORY_ENTRY_CONTROL : 0u) |
                    ((entry->attributes & QUORUM_RECORD_PROPOSED) ? HISTORY_ENTRY_PROPOSED : 0u);
        quorum_observe(q, HISTORY_QUORUM_COMMITTED, (u64)offset, (u64)entry->epoch,
                       entry->checksum, flags);
        q->digest = digest_mix(q->digest, offset, entry->checksum);
        q->digests[offset % QUORUM_LOG_ENTRIES_MAX] = q->digest;
        q->snapshot_bytes += QUORUM_RECORD_HEADER_SIZE + entry->size;
        quorum_observe(q, HISTORY_QUORUM_APPLIED, (u64)offset, 0, q->digest, 0);
        if (q->machine.apply != NULL) {
            q->machine.apply(q->machine.context, offset, entry->epoch,
                             quorum_log_payload(&q->log, offset), entry->size,
                             (entry->attributes & QUORUM_RECORD_CONTROL) != 0);
        }
    }
    q->commit_end = end;
    quorum_maybe_snapshot(q);
    quorum_invariants(q);
}

void quorum_update_high_watermark(struct quorum *q)
{
    ASSERT(q->role == HISTORY_ROLE_LEADER);
    i64 offsets[CONFIG_VOTERS_MAX];
    for (u32 i = 0; i < q->voter_count; i++) {
        /* The leader counts only what it has synced; followers report only synced offsets. */
        offsets[i] = (i32)i == q->self_index ? q->log.synced_end : MAX(q->peers[i].fetch_offset, 0);
        offsets[i] = MIN(offsets[i], q->log.end);
    }
    for (u32 i = 1; i < q->voter_count; i++) { /* Insertion sort, descending: at most 9. */
        i64 value = offsets[i];
        u32 j = i;
        while (j > 0 && offsets[j - 1] < value) {
            offsets[j] = offsets[j - 1];
            j--;
        }
        offsets[j] = value;
    }
    i64 high_watermark = offsets[q->majority - 1];
    ASSERT(high_watermark <= q->log.end);
    /* Raft's rule: only an entry of the leader's own epoch commits by counting replicas. */
    if (high_watermark <= q->epoch_start_offset) return;
    if (high_watermark <= q->commit_end) return;
    commit_advance(q, high_watermark);
    quorum_answer_appends(q, false);
    quorum_wake_parked(q, true);
}

void quorum_follower_commit(struct quorum *q, i64 high_watermark)
{
    /* Our log [0, end) is a prefix of the leader's (the fetch position was validated), so
     * everything below min(leader's high watermark, our end) is committed. */
    i64 end = MIN(high_watermark, q->log.end);
    if (end > q->commit_end) commit_advance(q, end);
}

void quorum_follower_truncate(struct quorum *q, i64 end)
{
    ASSERT(end < q->log.end);
    /* A snapshot covers only committed entries, which no leader ever tells us to cut. */
    ASSERT(end >= q->snapshot_end);
    COVER(end < q->log.synced_end); /* Durable entries of a deposed leader are cut. */
    if (end < q->commit_end) {
        /* Only possible if Raft's safety was broken elsewhere (a mutated build): report it and
         * keep going, so the checkers can judge the history instead of a crash hiding it. */
        io_log(q->io, IO_LOG_ERROR, "quorum: truncating committed entries: end %lld < "
               "committed %lld", (long long)end, (long long)q->commit_end);
        q->commit_end = end;
        q->digest = end > q->snapshot_end ? q->digests[(end - 1) % QUORUM_LOG_ENTRIES_MAX]
                    : q->snapshot_end > 0 ? q->snapshots.current_header.digest : 0;
    }
    quorum_log_truncate(&q->log, end);
    quorum_observe(q, HISTORY_QUORUM_TRUNCATED, (u64)end, 0, 0, 0);
    quorum_log_pump(&q->log);
    quorum_invariants(q);
}

void quorum_observe_appended(const struct quorum *q, i64 offset, bool recovered)
{
    const struct quorum_log_entry *entry = quorum_log_entry(&q->log, offset);
    u64 flags = ((entry->attributes & QUORUM_RECORD_CONTROL) ? HISTORY_ENTRY_CONTROL : 0u) |
                ((entry->attributes & QUORUM_RECORD_PROPOSED) ? HISTORY_ENTRY_PROPOSED : 0u) |
                (recovered ? HISTORY_ENTRY_RECOVERED : 0u);
    quorum_observe(q, HISTORY_QUORUM_APPENDED, (u64)offset, (u64)entry->epoch, entry->checksum,
                   flags);
}

/* ===== Snapshots ===== */

/* Takes a snapshot at commit_end if one is due and nothing else uses the store or the log's
 * rewrite: enough record bytes committed since the last one (Kafka's
 * metadata.log.max.record.bytes.between.snapshots), or the committed part of the log filling
 * half of its bound. */
void quorum_maybe_snapshot(struct quorum *q)
{
    if (q->machine.save_snapshot == NULL || !q->started) return;
    if (q->snapshots.writing || q->download.active || quorum_log_compacting(&q->log)) return;
    if (q->commit_end <= q->snapshot_end || q->commit_end < q->snapshot_retry_from) return;
    bool due = q->snapshot_bytes >= q->config->metadata_snapshot_bytes ||
               q->commit_end - q->log.start > (i64)QUORUM_LOG_ENTRIES_MAX / 2 ||
               quorum_log_position(&q->log, q->commit_end) > QUORUM_LOG_BYTES_MAX / 2;
    if (!due) return;
    u8 *image = q->snapshots.scratch;
    u32 capacity = QUORUM_SNAPSHOT_SIZE_MAX - QUORUM_SNAPSHOT_HEADER_SIZE;
    u32 size = q->machine.save_snapshot(q->machine.context, image + QUORUM_SNAPSHOT_HEADER_SIZE,
                                        capacity);
    if (size == 0 || size > capacity) {
        io_log(q->io, IO_LOG_WARN, "quorum: the state machine could not save a snapshot at "
               "%lld (capacity %u)", (long long)q->commit_end, capacity);
        q->snapshot_retry_from = q->commit_end + QUORUM_LOG_RESERVE;
        return;
    }
    struct quorum_snapshot_header header = {
        .end_offset = q->commit_end, .last_epoch = quorum_log_epoch_at(&q->log, q->commit_end - 1),
        .data_size = size, .digest = q->digest};
    u32 image_size = quorum_snapshot_encode(image, &header);
    io_log(q->io, IO_LOG_INFO, "quorum: snapshot at %lld (epoch %d, %u bytes)",
           (long long)header.end_offset, header.last_epoch, image_size);
    q->snapshot_bytes = 0;
    q->snapshot_purpose = QUORUM_SNAPSHOT_TAKING;
    quorum_snapshot_write(&q->snapshots, image_size);
}

/* A snapshot fetched from the leader is durable: it replaces our state, and the log restarts
 * at its end (whatever the log held is either in the snapshot or was never committed). */
static void snapshot_install(struct quorum *q)
{
    const struct quorum_snapshot_header *header = &q->snapshots.current_header;
    ASSERT(header->end_offset > q->commit_end);
    ASSERT(q->role != HISTORY_ROLE_LEADER && !quorum_log_compacting(&q->log));
    const u8 *data = q->snapshots.current + QUORUM_SNAPSHOT_HEADER_SIZE;
    if (q->machine.load_snapshot != NULL &&
        !q->machine.load_snapshot(q->machine.context, data, header->data_size)) {
        /* The bytes passed their checksums: they are what the leader's state machine saved.
         * Refusing them means incompatible software, not bad data. */
        io_log(q->io, IO_LOG_ERROR, "quorum: the state machine refused the snapshot at %lld",
               (long long)header->end_offset);
    }
    q->snapshot_end = header->end_offset;
    q->commit_end = header->end_offset;
    q->digest = header->digest;
    q->snapshot_bytes = 0;
    quorum_log_reset(&q->log, header->end_offset, header->last_epoch);
    quorum_observe(q, HISTORY_QUORUM_SNAPSHOT, (u64)header->end_offset, (u64)header->last_epoch,
                   header->digest, HISTORY_SNAPSHOT_FETCHED);
    io_log(q->io, IO_LOG_INFO, "quorum: installed the leader's snapshot at %lld (epoch %d)",
           (long long)header->end_offset, header->last_epoch);
}

static void on_snapshot_durable(struct quorum *q)
{
    enum quorum_snapshot_purpose purpose = q->snapshot_purpose;
    q->snapshot_purpose = QUORUM_SNAPSHOT_IDLE;
    const struct quorum_snapshot_header *header = &q->snapshots.current_header;
    if (purpose == QUORUM_SNAPSHOT_INSTALLING) {
        snapshot_install(q);
    } else {
        ASSERT(purpose == QUORUM_SNAPSHOT_TAKING);
        ASSERT(header->end_offset > q->snapshot_end && header->end_offset <= q->commit_end);
        q->snapshot_end = header->end_offset;
        quorum_observe(q, HISTORY_QUORUM_SNAPSHOT, (u64)header->end_offset,
                       (u64)header->last_epoch, header->digest, HISTORY_SNAPSHOT_TAKEN);
        /* Only now that the snapshot is durable may the entries it covers go. */
        quorum_log_compact(&q->log, q->snapshot_end);
    }
    quorum_log_pump(&q->log);
    quorum_maybe_fetch(q);
}

/* Recovery read the snapshot (if any) and the log: make them one history. The log may still
 * hold entries the snapshot covers (a crash before compaction finished: compact again), or not
 * continue it at all (a crash between installing a fetched snapshot and cutting the old log:
 * start the log afresh at the snapshot's end). Returns whether synced data was lost. */
static bool recover_snapshot(struct quorum *q)
{
    struct quorum_snapshot_store *store = &q->snapshots;
    struct quorum_log *log = &q->log;
    const struct quorum_snapshot_header *header = &store->current_header;
    if (store->has_current && q->machine.load_snapshot != NULL &&
        !q->machine.load_snapshot(q->machine.context,
                                  store->current + QUORUM_SNAPSHOT_HEADER_SIZE,
                                  header->data_size)) {
        io_log(q->io, IO_LOG_ERROR, "quorum: the state machine refused the snapshot on disk");
        store->has_current = false;
        store->damaged = true;
    }
    if (!store->has_current) {
        if (log->start == 0) return false; /* The log holds everything: nothing was lost. */
        /* The snapshot that covered the log's prefix is gone: that prefix cannot be applied.
         * Start empty; the leader will send its snapshot. */
        io_log(q->io, IO_LOG_WARN, "quorum: no valid snapshot below the log start %lld",
               (long long)log->start);
        quorum_log_reset(log, 0, 0);
        return true;
    }
    i64 end = header->end_offset;
    bool lost = false;
    if (log->start > end) {
        io_log(q->io, IO_LOG_WARN, "quorum: the log starts at %lld, above the snapshot end "
               "%lld", (long long)log->start, (long long)end);
        quorum_log_reset(log, end, header->last_epoch);
        lost = true;
    } else if (log->end < end ||
               (log->start < end && quorum_log_epoch_at(log, end - 1) != header->last_epoch)) {
        quorum_log_reset(log, end, header->last_epoch);
    } else if (log->start == end) {
        log->start_epoch = header->last_epoch;
    } else {
        quorum_log_compact(log, end); /* Finish what a crash interrupted. */
    }
    q->snapshot_end = end;
    q->commit_end = end;
    q->digest = header->digest;
    quorum_observe(q, HISTORY_QUORUM_SNAPSHOT, (u64)end, (u64)header->last_epoch,
                   header->digest, HISTORY_SNAPSHOT_RECOVERED);
    return lost;
}

void quorum_learn_leader_endpoint(struct quorum *q, i32 leader, const char *endpoint)
{
    if (leader < 0 || leader != q->leader_id || endpoint[0] == '\0') return;
    snprintf(q->leader_endpoint, sizeof(q->leader_endpoint), "%s", endpoint);
}

/* The client endpoint of node leader: what it told us (BeginQuorumEpoch, fetch responses), or
 * else a guess: its controller host with our own client listener port (a simplification that
 * holds when every node uses the same ports), never when that would name ourselves. */
void quorum_endpoint_hint(const struct quorum *q, i32 leader, char *target, u32 size)
{
    ASSERT(size > 0);
    target[0] = '\0';
    if (leader == q->leader_id && q->leader_endpoint[0] != '\0') {
        snprintf(target, size, "%s", q->leader_endpoint);
        return;
    }
    i32 index = quorum_voter_index(q, leader);
    const struct config_listener *client = config_client_listener(q->config);
    if (index < 0 || client == NULL) return;
    char host[CONFIG_ENDPOINT_MAX], own_host[CONFIG_ENDPOINT_MAX];
    u16 port = 0, own_port = 0;
    if (!io_endpoint_parse(q->config->voters[index].endpoint, host, sizeof(host), &port)) return;
    if (!io_endpoint_parse(client->endpoint, own_host, sizeof(own_host), &own_port)) return;
    i32 self = q->self_index;
    char self_host[CONFIG_ENDPOINT_MAX];
    u16 self_port = 0;
    if (self >= 0 && io_endpoint_parse(q->config->voters[self].endpoint, self_host,
                                       sizeof(self_host), &self_port)) {
        if (strcmp(self_host, host) == 0) return; /* Same host: the guess would be us. */
    } else if (strcmp(own_host, host) == 0) {
        return;
    }
    snprintf(target, size, "%s:%u", host, (unsigned)own_port);
}

/* ===== Timers ===== */

static void on_role_timer(struct quorum *q)
{
    if (!q->started || q->stopping) return;
    u64 now = io_now_ns(q->io);
    switch (q->role) {
    case HISTORY_ROLE_FOLLOWER:
        if (now - q->leader_contact_ns < q->fetch_timeout_ns) {
            quorum_role_timer_set(q, q->leader_contact_ns + q->fetch_timeout_ns - now);
            return;
        }
        io_log(q->io, IO_LOG_INFO, "quorum: leader %d silent for the fetch timeout",
               q->leader_id);
        become_prospective(q);
        return;
    case HISTORY_ROLE_LEADER: {
        u32 heard = 1;
        for (u32 i = 0; i < q->voter_count; i++) {
            if ((i32)i == q->self_index) continue;
            if (now - q->peers[i].last_fetch_ns < q->fetch_timeout_ns) heard++;
        }
        if (heard >= q->majority) {
            quorum_role_timer_set(q, q->fetch_timeout_ns / 2);
            return;
        }
        io_log(q->io, IO_LOG_INFO, "quorum: check-quorum failed (%u of %u voters): resigning",
               heard, q->voter_count);
        COVER(true);
        become_resigned(q);
        return;
    }
    case HISTORY_ROLE_OBSERVER:
        if (now - q->leader_contact_ns >= q->fetch_timeout_ns) {
            q->leader_id = QUORUM_NONE; /* Ask the voters again. */
            q->fetch_inflight = false;
            quorum_maybe_fetch(q);
        }
        quorum_role_timer_set(q, q->fetch_timeout_ns);
        return;
    default:
        become_prospective(q); /* Unattached, prospective, candidate, resigned. */
        return;
    }
}

static void on_tick(struct quorum *q)
{
    u64 now = io_now_ns(q->io);
    io_timer_set(q->io, q->timer_base + QUORUM_TIMER_TICK, now + QUORUM_TICK_NS);
    if (!q->started) return;
    quorum_expire_inflight(q);
    if (q->role == HISTORY_ROLE_LEADER) {
        quorum_wake_parked(q, false);
        /* Voters that never fetched in this epoch, or went quiet, hear BeginQuorumEpoch again:
         * one stuck at a higher epoch (a failed candidacy) answers with it, and we step down,
         * rather than leaving it outside the quorum forever (its pre-votes cannot win while we
         * lead, and it cannot follow a lower epoch). */
        for (u32 i = 0; i < q->voter_count; i++) {
            if ((i32)i == q->self_index) continue;
            bool quiet = q->peers[i].fetch_offset < 0 ||
                         now - q->peers[i].last_fetch_ns >= q->fetch_timeout_ns / 2;
            if (quiet && now - q->peers[i].begin_sent_ns >= q->request_timeout_ns / 2) {
                quorum_send_begin_epoch(q, i);
            }
        }
    }
    quorum_maybe_fetch(q);
    quorum_log_pump(&q->log);
}

void quorum_on_timer(struct quorum *q, u32 timer_id)
{
    ASSERT(timer_id >= q->timer_base && timer_id < q->timer_base + QUORUM_TIMERS);
    switch (timer_id - q->timer_base) {
    case QUORUM_TIMER_ROLE: on_role_timer(q); break;
    case QUORUM_TIMER_TICK: on_tick(q); break;
    case QUORUM_TIMER_DISK:
        quorum_store_retry(&q->store);
        quorum_snapshot_retry(&q->snapshots);
        quorum_log_retry(&q->log);
        break;
    default: break;
    }
    quorum_invariants(q);
}

/* ===== Disk ===== */

static void on_recovered(struct quorum *q)
{
    ASSERT(q->store.recovered && q->snapshots.recovered && q->log.recovered);
    bool lost = recover_snapshot(q);
    q->epoch = MAX(q->store.durable.epoch, quorum_log_last_epoch(&q->log));
    q->voted_for = q->store.durable.epoch == q->epoch ? q->store.durable.voted_for : QUORUM_NONE;
    /* A recovered vote was reported before the crash. */
    q->voted_reported_epoch = q->store.durable.epoch - (q->store.durable.voted_for >= 0 ? 0 : 1);
    if (q->self_index < 0) q->voted_for = QUORUM_NONE;
    for (i64 offset = q->snapshot_end; offset < q->log.end; offset++) {
        quorum_observe_appended(q, offset, true);
    }
    io_log(q->io, IO_LOG_INFO, "quorum: recovered epoch %d, voted for %d, snapshot to %lld, "
           "entries [%lld, %lld)", q->epoch, q->voted_for, (long long)q->snapshot_end,
           (long long)q->log.start, (long long)q->log.end);
    q->started = true;
    bool evidence = lost || q->log.damaged || q->store.damaged ||
                    (q->store.durable.flags & QUORUM_STATE_ABSTAIN) != 0;
    q->damaged = evidence && q->voter_count > 1 && q->self_index >= 0;
    COVER(q->damaged);
    if (q->damaged) {
        io_log(q->io, IO_LOG_WARN, "quorum: damaged disk: abstaining from elections until "
               "caught up with a leader");
        /* Cutting the corrupt tail erases the evidence: record the verdict durably first. */
        q->log.hold = (q->store.durable.flags & QUORUM_STATE_ABSTAIN) == 0;
    }
    quorum_log_pump(&q->log);
    if (q->self_index < 0) {
        enter_role(q, HISTORY_ROLE_OBSERVER);
        quorum_role_timer_set(q, q->fetch_timeout_ns);
        quorum_maybe_fetch(q);
    } else {
        persist(q);
        enter_role(q, HISTORY_ROLE_UNATTACHED);
        /* The only voter has nobody to wait for (Kafka's KafkaRaftClient elects itself at
         * once): a one-node cluster is ready without an election timeout. */
        quorum_role_timer_set(q, q->voter_count == 1 ? 0 : quorum_election_delay(q));
    }
}

static void on_store_durable(struct quorum *q)
{
    if (q->log.hold && (q->store.durable.flags & QUORUM_STATE_ABSTAIN) != 0) {
        q->log.hold = false;
        quorum_log_pump(&q->log);
    }
    const struct quorum_election_state *durable = &q->store.durable;
    if (durable->voted_for >= 0 && durable->epoch > q->voted_reported_epoch) {
        q->voted_reported_epoch = durable->epoch;
        quorum_observe(q, HISTORY_QUORUM_VOTED, (u64)durable->epoch, (u64)durable->voted_for, 0,
                       0);
    }
    quorum_answer_votes(q);
    if (q->role == HISTORY_ROLE_CANDIDATE && !q->votes_sent &&
        quorum_store_is_durable(&q->store, &(struct quorum_election_state){
            .epoch = q->epoch, .voted_for = q->self_id, .leader = QUORUM_NONE})) {
        if (quorum_tally(q) >= q->majority) {
            quorum_become_leader(q);
            return;
        }
        quorum_send_vote_requests(q, false);
    }
    quorum_maybe_fetch(q);
}

void quorum_on_file(struct quorum *q, const struct io_completion *completion)
{
    u64 component = completion->user_data & ((u64)0xff << 48);
    bool failed = false;
    if (component == QUORUM_TAG_STORE) {
        enum quorum_store_event event = quorum_store_on_file(&q->store, completion);
        failed = event == STORE_EVENT_ERROR;
        if (event == STORE_EVENT_RECOVERED) quorum_snapshot_open(&q->snapshots);
        if (event == STORE_EVENT_DURABLE && q->started) on_store_durable(q);
        failed = failed || q->snapshots.failed;
    } else if (component == QUORUM_TAG_SNAPSHOT) {
        enum quorum_snapshot_event event = quorum_snapshot_on_file(&q->snapshots, completion);
        failed = event == SNAPSHOT_EVENT_ERROR;
        if (event == SNAPSHOT_EVENT_RECOVERED) quorum_log_open(&q->log);
        if (event == SNAPSHOT_EVENT_DURABLE) on_snapshot_durable(q);
        failed = failed || q->log.failed;
    } else if (component == QUORUM_TAG_LOG) {
        enum quorum_log_event event = quorum_log_on_file(&q->log, completion);
        failed = event == LOG_EVENT_ERROR;
        if (event == LOG_EVENT_RECOVERED) on_recovered(q);
        if (event == LOG_EVENT_SYNCED && q->role == HISTORY_ROLE_LEADER) {
            quorum_update_high_watermark(q);
        }
        if (event == LOG_EVENT_COMPACTED) {
            /* A newer snapshot may have become durable while the copy ran. */
            if (q->snapshot_end > q->log.start) quorum_log_compact(&q->log, q->snapshot_end);
            quorum_maybe_snapshot(q);
        }
        if (q->started) quorum_maybe_fetch(q);
        quorum_log_pump(&q->log);
    }
    if (failed) {
        io_timer_set(q->io, q->timer_base + QUORUM_TIMER_DISK,
                     io_now_ns(q->io) + QUORUM_DISK_RETRY_NS);
    }
    quorum_invariants(q);
}
