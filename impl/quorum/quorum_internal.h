/* quorum_internal.h: the quorum's state, shared by quorum.c (roles, timers, disk, commit) and
 * quorum_rpc.c (the messages). Nothing outside impl/quorum includes this file.
 *
 * May depend on: quorum.h, log.h, snapshot.h, state.h, wire.h, model/history.h (observation
 * kinds). */
#ifndef QUORUM_INTERNAL_H
#define QUORUM_INTERNAL_H

#include "../../model/history.h"
#include "log.h"
#include "quorum.h"
#include "snapshot.h"
#include "state.h"
#include "wire.h"

/* A compile-time switch for "a deliberately broken build is caught by the checkers" tests:
 * 1 grants a vote before the vote is durable; 2 counts every vote twice. 0: correct. */
#ifndef QUORUM_MUTATION
#define QUORUM_MUTATION 0
#endif

#define QUORUM_INFLIGHT_MAX 8u         /* Requests awaiting a response, per peer. */
/* Fetches the leader holds until data arrives: one per voter and per observer, with room for
 * the largest simulated cluster (128 nodes); beyond it a fetch is answered at once, which is
 * correct but turns that fetcher into a busy poller. */
#define QUORUM_PARKED_MAX 256u
#define QUORUM_PENDING_APPENDS_MAX 1024u
#define QUORUM_PENDING_VOTES_MAX 16u
#define QUORUM_TICK_NS (50 * NS_PER_MS)
#define QUORUM_FETCH_WAIT_NS (500 * NS_PER_MS) /* Fetch long-poll, as KRaft's MaxWaitMs. */
#define QUORUM_DISK_RETRY_NS (100 * NS_PER_MS)
#define QUORUM_SEND_BUFFER_SIZE (QUORUM_FETCH_BYTES_MAX + 1024u)
#define QUORUM_TAG_STORE ((u64)1 << 48)
#define QUORUM_TAG_LOG ((u64)2 << 48)
#define QUORUM_TAG_SNAPSHOT ((u64)3 << 48)
#define QUORUM_NONE (-1)

enum quorum_timer { QUORUM_TIMER_ROLE, QUORUM_TIMER_TICK, QUORUM_TIMER_DISK };

struct quorum_inflight {
    bool used;
    i16 api_key;
    i32 correlation_id;
    u32 round; /* Election round a Vote belongs to; stale rounds are not counted. */
    bool pre_vote;
    u64 sent_ns;
};

struct quorum_peer {
    i32 id;
    io_conn conn; /* Our outgoing connection to it; 0 when down. */
    struct quorum_inflight inflight[QUORUM_INFLIGHT_MAX];
    /* The leader's view of this voter in the current epoch. */
    i64 fetch_offset; /* Its synced log end, as its last fetch said; -1 until it fetched. */
    u64 last_fetch_ns;
    u64 begin_sent_ns;
    /* The current election round. */
    bool granted;
    bool rejected;
};

struct quorum_parked {
    bool used;
    io_conn conn;
    i32 correlation_id;
    struct quorum_fetch_request request;
    u64 parked_ns;
};

struct quorum_pending_append {
    bool used;
    io_conn conn;
    i32 correlation_id;
    i64 offset;
};

struct quorum_pending_vote {
    bool used;
    io_conn conn;
    i32 correlation_id;
    i32 epoch;
    i32 candidate;
};

/* What the snapshot store's scratch buffer is on its way to disk for. */
enum quorum_snapshot_purpose {
    QUORUM_SNAPSHOT_IDLE,
    QUORUM_SNAPSHOT_TAKING,     /* Our own state machine's, at our commit point. */
    QUORUM_SNAPSHOT_INSTALLING, /* One fetched from the leader: installed once durable. */
};

/* A follower's download of the leader's snapshot (FetchSnapshot), into the store's scratch. */
struct quorum_download {
    bool active;
    i32 leader;
    struct quorum_snapshot_id id;
    i64 size; /* -1 until the first answer says it. */
    i64 position;
};

struct quorum {
    struct io *io;
    const struct node_config *config;
    u32 timer_base;
    u64 file_tag;
    i32 self_id;
    i32 self_index; /* Index in peers, or -1 for an observer. */
    u32 voter_count;
    u32 majority;
    struct quorum_peer peers[CONFIG_VOTERS_MAX];
    u64 election_timeout_ns, fetch_timeout_ns, request_timeout_ns;

    u32 role; /* enum history_quorum_role */
    i32 epoch;
    i32 leader_id;
    i32 voted_for;
    bool store_recovered;
    bool started; /* Store and log recovered: the quorum takes part. */
    bool stopping;
    bool damaged; /* Recovery found synced state corrupted: we may have lost entries we had
                   * acknowledged, or our vote. Until we have caught up with a leader of the
                   * current epoch we neither vote nor stand for election. */
    u64 leader_contact_ns; /* Follower: last good fetch response. Leader: election time. */
    bool leader_heard;     /* Follower: the leader itself answered a fetch in this epoch (not
                            * merely named by another voter, which could be stale hearsay). */

    i32 voted_reported_epoch; /* HISTORY_QUORUM_VOTED is reported once per epoch. */
    u32 vote_round;
    bool votes_sent; /* Candidate: Vote requests went out (after the self-vote was durable). */
    bool fetch_inflight;
    u32 observer_next; /* Observer without a known leader: next voter to ask. */

    i64 epoch_start_offset; /* Leader: offset of its leader-change record. */
    i64 commit_end;         /* Entries below are known committed (the high watermark). */
    u64 digest;             /* State machine: running digest of the applied entries. */
    /* digests[o % QUORUM_LOG_ENTRIES_MAX]: the digest after applying offset o, for o in
     * [log start, commit_end) (the log never holds more entries than that). */
    u64 *digests;
    struct quorum_state_machine machine; /* All NULL when none was set. */

    /* Snapshots: the latest durable one covers [0, snapshot_end); the log starts at or below
     * it, commit_end at or above it. */
    struct quorum_snapshot_store snapshots;
    i64 snapshot_end;
    u64 snapshot_bytes;        /* Record bytes committed since the last snapshot was taken. */
    i64 snapshot_retry_from;   /* After a failed save: no new attempt below this commit_end. */
    enum quorum_snapshot_purpose snapshot_purpose;
    struct quorum_download download;

    struct quorum_log log;
    struct quorum_store store;
    struct quorum_parked parked[QUORUM_PARKED_MAX];
    struct quorum_pending_append appends[QUORUM_PENDING_APPENDS_MAX];
    struct quorum_pending_vote votes[QUORUM_PENDING_VOTES_MAX];
    i32 correlation_next;
    u8 *send_buffer;
    char client_endpoint[QUORUM_ENDPOINT_MAX]; /* Ours, as clients reach it; "" if none. */
    char leader_endpoint[QUORUM_ENDPOINT_MAX]; /* The current leader's, as it told us. */
};

/* quorum.c */
void quorum_invariants(const struct quorum *q);
void quorum_observe(const struct quorum *q, u32 kind, u64 a, u64 b, u64 c, u64 d);
i32 quorum_voter_index(const struct quorum *q, i32 id);
bool quorum_has_live_leader(const struct quorum *q);
void quorum_adopt(struct quorum *q, i32 epoch, i32 leader);
void quorum_become_follower(struct quorum *q, i32 epoch, i32 leader);
void quorum_become_unattached(struct quorum *q, i32 epoch);
void quorum_become_candidate(struct quorum *q);
void quorum_become_leader(struct quorum *q);
void quorum_grant_vote(struct quorum *q, i32 candidate);
void quorum_update_high_watermark(struct quorum *q);
void quorum_follower_commit(struct quorum *q, i64 high_watermark);
void quorum_follower_truncate(struct quorum *q, i64 end);
void quorum_role_timer_set(struct quorum *q, u64 delay_ns);
u64 quorum_election_delay(const struct quorum *q);
void quorum_endpoint_hint(const struct quorum *q, i32 leader, char *target, u32 size);
void quorum_learn_leader_endpoint(struct quorum *q, i32 leader, const char *endpoint);
void quorum_observe_appended(const struct quorum *q, i64 offset, bool recovered);
void quorum_maybe_snapshot(struct quorum *q);
void quorum_download_begin(struct quorum *q, const struct quorum_snapshot_id *id);
void quorum_download_abort(struct quorum *q, const char *why);

/* quorum_rpc.c */
void quorum_send_vote_requests(struct quorum *q, bool pre_vote);
void quorum_send_begin_epoch(struct quorum *q, u32 index);
void quorum_send_end_epoch(struct quorum *q, u32 index);
void quorum_maybe_fetch(struct quorum *q); /* A log fetch, or the next snapshot chunk. */
void quorum_wake_parked(struct quorum *q, bool all);
void quorum_drop_parked(struct quorum *q, i16 error);
void quorum_answer_appends(struct quorum *q, bool leadership_lost);
void quorum_answer_votes(struct quorum *q);
void quorum_expire_inflight(struct quorum *q);
void quorum_peer_forget(struct quorum *q, u32 index);
u32 quorum_tally(const struct quorum *q);

#endif
