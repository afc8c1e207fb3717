/* quorum.h: the KRaft-style Raft metadata quorum of one node (KIP-595, KIP-996 pre-vote).
 *
 * The voters come from controller.quorum.voters; a node that is not among them is an observer
 * (it fetches and applies, never votes). Roles: unattached, follower, prospective (pre-vote),
 * candidate, leader, resigned; observers. Followers and observers FETCH from the leader; the
 * leader's high watermark is the majority of the voters' fetch offsets (its own counting only
 * what it has synced) and moves only once an entry of its own epoch is covered (the
 * leader-change record it writes first). Epochs fence everything. The election state is made
 * durable before a vote is granted and before a newly adopted epoch is acted upon. Committed
 * entries are applied in order into a running digest (the state machine for now).
 *
 * The node (impl/node.c) owns connections and hands the quorum its events:
 *   - outgoing connections to voters (quorum_peer_connected/closed) carry our requests and
 *     their responses (quorum_on_response);
 *   - accepted connections carry requests from peers (quorum_on_request) and clients
 *     (quorum_on_client_request); the quorum answers on the same connection;
 *   - timers [timer_base, timer_base + QUORUM_TIMERS) and file completions whose user_data
 *     carries the tag given at creation.
 * Every fact the checkers judge is reported with io_observe (model/history.h).
 *
 * Snapshots (KIP-630): with a state machine set, each node snapshots its state when
 * metadata.log.max.record.bytes.between.snapshots of entries have committed since the last one
 * (or the committed log fills half its bound), makes it durable, then drops the log below it. A
 * follower or observer whose fetch position lies below the leader's log start is told the
 * leader's snapshot id and downloads it (FetchSnapshot, api key 59) before fetching on.
 *
 * May depend on: base.h, io.h, config.h, quorum/wire.h, quorum/log.h, quorum/snapshot.h,
 * quorum/state.h. */
#ifndef QUORUM_H
#define QUORUM_H

#include "../config.h"
#include "../io.h"

#define QUORUM_TIMERS 4u

struct quorum;

/* Allocates everything the quorum will ever use. file_tag: bits 56..63 of user_data that the
 * node routes back to quorum_on_file (the low 56 bits are the quorum's). */
struct quorum *quorum_create(const struct node_config *config, struct io *io, u32 timer_base,
                             u64 file_tag);
void quorum_destroy(struct quorum *quorum);

void quorum_start(struct quorum *quorum); /* Begins recovery from disk. */
void quorum_stop(struct quorum *quorum);  /* Graceful: a leader resigns (EndQuorumEpoch). */

void quorum_on_timer(struct quorum *quorum, u32 timer_id);
void quorum_on_file(struct quorum *quorum, const struct io_completion *completion);

void quorum_peer_connected(struct quorum *quorum, u32 voter_index, io_conn conn);
void quorum_peer_closed(struct quorum *quorum, u32 voter_index);
/* Each returns false when the frame is malformed: the node logs and closes the connection. */
WARN_UNUSED bool quorum_on_response(struct quorum *quorum, u32 voter_index, const u8 *frame,
                                    u32 size);
WARN_UNUSED bool quorum_on_request(struct quorum *quorum, io_conn conn, const u8 *frame,
                                   u32 size);
WARN_UNUSED bool quorum_on_client_request(struct quorum *quorum, io_conn conn, const u8 *frame,
                                          u32 size);
/* An accepted connection closed: forget parked fetches, pending votes and appends on it. */
void quorum_conn_closed(struct quorum *quorum, io_conn conn);

/* ===== The replicated state machine (the node's metadata image) =====
 * apply: one committed entry, in offset order, exactly once per process lifetime after the
 *   snapshot it started from (control records included, flagged; their payload is the quorum's
 *   own). After a restart the log is replayed from the snapshot's end as entries commit again.
 * save_snapshot: writes the state as of the last applied entry into buffer; returns its size,
 *   or 0 if capacity is too small (the quorum then skips this snapshot).
 * load_snapshot: replaces the state with a snapshot's (at recovery, or one fetched from the
 *   leader with FetchSnapshot); returns false when the bytes are not a valid snapshot.
 * Every function is optional (NULL); without a state machine the quorum keeps only its digest
 * and never snapshots. */
struct quorum_state_machine {
    void *context;
    void (*apply)(void *context, i64 offset, i32 epoch, const u8 *payload, u32 size,
                  bool control);
    u32 (*save_snapshot)(void *context, u8 *buffer, u32 capacity);
    bool (*load_snapshot)(void *context, const u8 *data, u32 size);
};
/* Before quorum_start: recovery loads the snapshot into it. */
void quorum_set_state_machine(struct quorum *quorum, const struct quorum_state_machine *machine);

/* Leader only: appends payload as one entry of the current epoch (made durable, replicated and
 * committed like a client append; its commit reaches apply). Returns the entry's offset, or -1
 * when this node is not the leader, is stopping, the log is full, or size exceeds
 * QUORUM_ENTRY_SIZE_MAX. */
i64 quorum_propose(struct quorum *quorum, const u8 *payload, u32 size);

/* Introspection for tests, the node and reports. */
struct quorum_status {
    u32 role; /* enum history_quorum_role */
    i32 epoch;
    i32 leader_id;
    i32 voted_for;
    i64 log_end;
    i64 synced_end;
    i64 commit_end;
    u64 digest;
    bool recovered;
    i64 epoch_start_offset; /* Leader: the offset of its leader-change record. */
    i64 log_start;          /* First offset held in the log (the latest snapshot's end). */
    i64 snapshot_end;       /* End offset of the latest snapshot, 0 when none. */
};
void quorum_status(const struct quorum *quorum, struct quorum_status *status);

#endif
