/* broker_replication.h: leader/follower replication of partition logs, Kafka's ISR model.
 *
 * Every hosted partition (this broker is in the image's replica list) has one
 * struct broker_replica, kept beside its log. Which role it plays comes from the metadata
 * image only: image leader == this broker => LEADER; another live broker => FOLLOWER; no
 * leader (-1) => NONE. broker_replica_reconcile() is called for every hosted partition after
 * each image change and after the partition's log opens; it is the one place a role changes.
 * A restarted broker's image names it leader of what it led before the crash until its new
 * registration (which fenced it and moved those leaderships) is applied: until the image
 * shows this broker's own incarnation, a partition with other replicas gets role NONE rather
 * than LEADER (Kafka's broker does not serve before catching up with its registration), else
 * it would append at offsets the others committed while it was down. A partition with a
 * single replica keeps leading as before: there is no other copy to diverge from.
 *
 * Leader (broker_replication.c, with broker_fetch.c and broker_data.c):
 *   - Followers fetch with Fetch v12 (ReplicaId = their broker id, CurrentLeaderEpoch, FetchOffset
 *     = their log end, LastFetchedEpoch = the newest epoch in their log). A fetch whose
 *     (LastFetchedEpoch, FetchOffset) is not a prefix of the leader's log is answered with
 *     DivergingEpoch = (largest epoch <= LastFetchedEpoch, its end offset:
 *     partition_log_epoch_end_offset) and no records (Kafka's KIP-320/KIP-595 rule); otherwise
 *     the FetchOffset is the follower's log end: it is recorded (broker_replica_follower_fetched),
 *     records are read up to the leader's log end (not the high watermark), and the answer
 *     carries the leader's HighWatermark and LogStartOffset.
 *   - High watermark = min over the "maximal ISR" (the image's ISR plus additions this leader
 *     has asked for and not yet seen applied, KIP-497) of each member's log end, where the
 *     leader's own is broker_high_watermark(log) (its durable end with flush.messages=1) and a
 *     follower whose log end is not known since this broker became leader counts as -1 (the
 *     high watermark waits for its first fetch, as in Kafka). It never moves backwards while
 *     this broker leads the epoch, and a new role starts from the one the replica knew before
 *     (clamped into its log; the log start after a restart), as Kafka's log keeps its high
 *     watermark across role changes. Consumers (ReplicaId < 0) read only below it; ListOffsets
 *     latest and DeleteRecords use it.
 *   - A follower is caught up at time t when a fetch at t asked for offset >= the leader's log
 *     end at the previous fetch (Kafka's lastCaughtUpTime rule). Every
 *     replica.lag.time.max.ms / 2 the leader drops from its ISR each follower not caught up
 *     within replica.lag.time.max.ms, and adds a follower outside it whose fetch offset reached
 *     the high watermark and the start offset of the leader's epoch, if the image shows it
 *     registered, unfenced and not shutting down (an addition is also asked for at once when a
 *     fetch shows it, as Kafka's maybeExpandIsr does). Changes go to the active controller as
 *     AlterPartition (v3 with topic ids, NewIsrWithEpochs, the image's partition epoch) over
 *     the broker link; at most one in flight per partition; the image, not the answer, makes
 *     them real. An error answer just clears the pending change (the next check retries); a
 *     successful one keeps it pending until the image's partition epoch reaches the answer's
 *     (the controller answers once it committed, possibly before this image applied it).
 *   - Produce with acks=-1: refused with NOT_ENOUGH_REPLICAS before the append when the image's
 *     ISR is smaller than min.insync.replicas (topic override, else the broker's); after the
 *     append the partition's answer waits until the high watermark passes the batch's last
 *     offset, then is NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank below
 *     min.insync.replicas meanwhile, else success; NOT_LEADER_OR_FOLLOWER if leadership was lost
 *     first; REQUEST_TIMED_OUT after the request's TimeoutMs. acks=1 and acks=0 do not wait.
 *
 * Follower (broker_fetcher.c):
 *   - One fetcher connection per leader broker (to the client endpoint the image registers for
 *     it), one Fetch in flight on it, naming every partition this broker follows there. The
 *     answer's frame is held (io_frame_hold) until its batches are appended, then released and
 *     the next Fetch is sent. Appends keep the leader's offsets and epochs
 *     (partition_log_append with leader_epoch -1, assign_offsets false).
 *   - DivergingEpoch (E, O) => partition_log_truncate_to(min(O, own log end)), refined by
 *     Kafka's follower rule so that a cut always makes progress: with (E', O') the largest own
 *     epoch <= E and its end (or E and the first own epoch's start when all are above E), cut
 *     at min(O', O, log end) if E' = E, at min(O', log end) if E' < E (the next fetch asks
 *     again); a cut that would not shorten the log backs off. Then fetch on.
 *     OFFSET_OUT_OF_RANGE (Kafka's handleOutOfRangeError) below the leader's log start =>
 *     partition_log_truncate_fully(the leader's LogStartOffset): the log starts over empty
 *     there (Kafka's truncateFullyAndStartAt); above the leader's log end => cut there, or
 *     start over there when that is below the follower's own log start. The leader's log end
 *     is not in the answer: its HighWatermark (<= its log end) stands in for it, so the cut
 *     may take a little more than Kafka's, which is fetched again. NOT_LEADER_OR_FOLLOWER /
 *     FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH / any other error => retry after
 *     replica.fetch.backoff.ms.
 *     An answer is applied to a partition only if the image still names the same leader and
 *     leader epoch the request was built for.
 *   - Follower high watermark = min(leader's HighWatermark, own log end), never backwards
 *     within the leader epoch (a cut below it lowers it to the new end, as Kafka's log does).
 *     The follower's log start follows the leader's LogStartOffset up to that high watermark
 *     (partition_log_delete_records), so DeleteRecords and retention reach followers.
 *
 * Offline logs: an I/O error takes a log offline (partition_log.h); the ISR check's timer
 * (armed while any partition is hosted) reopens every offline log that has nothing in flight,
 * which runs recovery, and the role is set from the image again. Kafka would report the failed
 * log directory to the controller instead, which moves leadership away; that report is not
 * built, so a leader whose reopened log lost committed batches to a corrupted disk keeps leading
 * (the checkers label such losses by the corruption fault).
 *
 * Observations (model/history.h, judged by model/replication_checkers.c): every replica
 * reports HISTORY_REPLICA_APPENDED after each batch is in its log (leader or follower),
 * HISTORY_REPLICA_TRUNCATED when it cuts its log, HISTORY_REPLICA_HIGH_WATERMARK when its high
 * watermark moves. The partition is named by (history_topic_hash(topic id), partition index).
 *
 * May depend on: broker_internal.h. */
#ifndef BROKER_REPLICATION_H
#define BROKER_REPLICATION_H

#include "../base.h"
#include "../metadata/metadata.h"
#include "../log/partition_log.h"
#include "../protocol/messages_generated.h"

#define BROKER_ALTER_PARTITION_VERSION 3 /* Topic ids and NewIsrWithEpochs. */

enum broker_replica_role {
    BROKER_REPLICA_NONE = 0, /* Not hosted, not open yet, or no leader in the image. */
    BROKER_REPLICA_LEADER,
    BROKER_REPLICA_FOLLOWER,
};

/* The leader's view of one other replica of the partition. */
struct broker_replica_peer {
    i32 broker_id;
    i64 log_end;          /* Its FetchOffset at its last fetch in this epoch; -1 unknown. */
    i64 leader_end_at_fetch; /* The leader's log end when that fetch was answered. */
    u64 caught_up_ns;     /* Kafka's lastCaughtUpTimeMs (the leader's monotonic clock). */
    u64 last_fetch_ns;    /* When that fetch arrived (Kafka's lastFetchTimeMs). */
};

struct broker_replica {
    enum broker_replica_role role;
    i32 leader_id;        /* As the image says when the role was set. */
    i32 leader_epoch;     /* The image's leader epoch the role was set for. */
    i32 partition_epoch;  /* The image's partition epoch (AlterPartition names it). */
    i64 high_watermark;   /* -1 until known. */
    /* Leader. */
    struct broker_replica_peer peers[METADATA_REPLICAS_MAX]; /* The image's replicas but us. */
    u32 peer_count;
    i64 epoch_start_offset; /* The leader's log end when it took this epoch. */
    bool alter_inflight;    /* An AlterPartition for this partition awaits its answer, or
                             * (alter_answered_epoch >= 0) the image to show what it did. */
    i32 alter_correlation;  /* Its correlation id on the link. */
    i32 alter_answered_epoch; /* The partition epoch a successful answer named, or -1. */
    struct metadata_ids isr_pending; /* The ISR asked for (answered), while alter_inflight. */
    /* Follower (broker_fetcher.c; what is in flight is kept by the fetcher's links). */
    u64 retry_ns;           /* No fetch before this time (backoff after an error). */
};

struct broker;
struct broker_slot;
struct broker_part;
struct partition_log;

/* ===== broker_replication.c (leader side and role changes) ===== */

/* Sets the partition's role from the image (see the header comment); a leader epoch change
 * resets the peers. Called for every hosted partition after each image change and when its log
 * opens. Wakes what waits on the partition when the role changes (parked produce answers fail
 * with NOT_LEADER_OR_FOLLOWER, parked fetches answer). */
void broker_replica_reconcile(struct broker *broker, u32 topic, u32 partition);
/* Whether this broker serves the partition as its leader now: open, led here in the image,
 * and the LEADER role taken for the image's epoch (see broker_replica_reconcile: a restarted
 * broker takes no leadership of a replicated partition before its image shows its own new
 * registration). Produce, Fetch, ListOffsets, DeleteRecords and OffsetForLeaderEpoch ask it. */
bool broker_replica_leads(const struct broker *broker, u32 topic, i32 partition);
/* The high watermark consumers may read below (leader), or the follower's. -1 when none. */
i64 broker_replica_high_watermark(const struct broker *broker, u32 topic, u32 partition);
/* The leader's log grew or became durable (an append or a flush completed): recompute the
 * high watermark and release what waited for it. */
void broker_replica_on_log_progress(struct broker *broker, u32 topic, u32 partition);
/* A follower's fetch asked for fetch_offset (its log end) in the current epoch. */
void broker_replica_follower_fetched(struct broker *broker, u32 topic, u32 partition,
                                     i32 replica_id, i64 fetch_offset);
/* The ISR check (timer BROKER_TIMER_REPLICATION). */
void broker_replication_on_timer(struct broker *broker);
/* Whether an AlterPartition sent with this correlation id awaits its answer. */
bool broker_replication_awaits(const struct broker *broker, i32 correlation);
/* The answer to an AlterPartition the link sent (broker_link.c routes it here by correlation);
 * response NULL when it could not be decoded, or (correlation -1) when the link lost its
 * connection: then every AlterPartition awaiting an answer is given up. */
void broker_replication_on_alter_answer(struct broker *broker, i32 correlation,
                                        const union kafka_response *response);
/* min.insync.replicas of the topic (its override, else the broker's). */
u32 broker_replica_min_insync(const struct broker *broker, u32 topic);

/* ===== broker_fetcher.c (follower side) ===== */

/* After broker_replica_reconcile of every partition: open or close fetcher connections to the
 * leaders the image names, and send a Fetch where none is in flight. */
void broker_fetcher_reconcile(struct broker *broker);
/* Timer BROKER_TIMER_FETCHER: reconnect and retry after a backoff. */
void broker_fetcher_on_timer(struct broker *broker);
/* Log events of follower appends and truncations (owner user_data kind
 * BROKER_EVENT_REPLICA). */
void broker_fetcher_on_log_event(struct broker *broker, u32 topic, u32 partition,
                                 const struct log_event *event);

#endif
