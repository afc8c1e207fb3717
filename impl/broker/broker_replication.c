/* broker_replication.c: the leader's side of replication and role changes (see
 * broker_replication.h for the rules; this file keeps the state they need).
 *
 * Roles come from the image alone (broker_replica_reconcile). A new role or a new leader epoch
 * starts fresh: the peers (the image's replicas but this broker) are unknown, the ISR members
 * among them count as caught up now (Kafka's makeLeader), epoch_start_offset is the log end.
 * The high watermark is not reset: a replica keeps the one it knew as a follower (clamped into
 * its log), as Kafka's log keeps its high watermark across role changes, so a new leader never
 * shows consumers less than they could read before; it only grows within the epoch.
 *
 * High watermark (leader) = min(this log's broker_high_watermark, the log end of every other
 * member of the maximal ISR), a member whose end is not known yet counting as -1. The maximal
 * ISR is the image's ISR plus isr_pending while an AlterPartition is unresolved (KIP-497: an
 * addition counts from the moment it is asked for, a removal only once the image shows it).
 * "Unresolved" lasts from the request until an error answer, or until the image's partition
 * epoch reaches the one a successful answer named: the controller answers once its record is
 * committed, which may be before this broker's image applies it, and in that gap the member it
 * added is already eligible for election, so it must already hold back the high watermark.
 *
 * The ISR check (BROKER_TIMER_REPLICATION, every replica.lag.time.max.ms / 2, armed only
 * while this broker leads a partition with other replicas, so a cluster without replication
 * runs no extra timer) asks to drop the members not caught up within replica.lag.time.max.ms.
 * A follower is added as soon as a fetch shows it caught up (Kafka's maybeExpandIsr runs on
 * every follower fetch), and the check retries additions an error answer dropped. One
 * AlterPartition per partition at a time, on the link to the active controller, identified by
 * its correlation id; a lost link clears every one in flight (the next check asks again).
 *
 * Produce acks=-1 and parked fetches wait on the high watermark: when it moves,
 * broker_fetch_wake_parked and broker_produce_wake look at the BROKER_SLOTS_MAX slots only.
 *
 * Observations: HISTORY_REPLICA_HIGH_WATERMARK (role leader) when a leadership starts and each
 * time the leader's high watermark moves; HISTORY_REPLICA_APPENDED is broker_data.c's.
 *
 * Invariants: peers are the image's replicas but this broker, in image order; a leader's high
 * watermark never exceeds its log end and never moves back within an epoch; alter_inflight
 * implies the partition is led here at the epoch the request named. Tested by
 * tests/unit/test_broker.c (high watermark over the ISR, acks=-1, ISR shrink and expansion
 * through AlterPartition decided by the controller's own code). */
#include "broker_internal.h"

#include "../../model/history.h"

#include <string.h>

#define REPLICATION_ALTER_VERSION BROKER_ALTER_PARTITION_VERSION

static u64 replication_now(const struct broker *broker) { return io_now_ns(broker->io); }

static u64 replication_lag_ns(const struct broker *broker)
{
    return broker->config.replica_lag_time_max_ms * NS_PER_MS;
}

static struct broker_replica *replication_replica(struct broker *broker, u32 topic,
                                                  u32 partition)
{
    struct broker_topic *entry = &broker->topics[topic];
    ASSERT(entry->used && partition < entry->partition_count);
    return &entry->replicas[partition];
}

static struct broker_replica_peer *replication_peer(struct broker_replica *replica, i32 id)
{
    for (u32 i = 0; i < replica->peer_count; i++) {
        if (replica->peers[i].broker_id == id) return &replica->peers[i];
    }
    return NULL;
}

static void replication_observe_high_watermark(struct broker *broker, u32 topic, u32 partition)
{
    const struct broker_replica *replica = &broker->topics[topic].replicas[partition];
    struct io_observation observation = {
        .kind = HISTORY_REPLICA_HIGH_WATERMARK,
        .a = history_topic_hash(broker->topics[topic].id.bytes),
        .b = partition,
        .c = (u64)replica->high_watermark,
        .d = (u64)(u32)replica->leader_epoch | (u64)HISTORY_REPLICA_LEADER << 32,
    };
    io_observe(broker->io, &observation);
}

/* Whether an AlterPartition of this partition is still unresolved (see the file comment). */
static bool replication_alter_pending(const struct broker_replica *replica,
                                      const struct metadata_partition *metadata)
{
    if (!replica->alter_inflight) return false;
    if (replica->alter_answered_epoch < 0) return true; /* No answer yet. */
    return metadata != NULL && metadata->partition_epoch < replica->alter_answered_epoch;
}

/* The maximal ISR: the image's, plus what an unresolved AlterPartition asked for. */
static void replication_maximal_isr(const struct broker_replica *replica,
                                    const struct metadata_partition *metadata,
                                    struct metadata_ids *out)
{
    *out = metadata->isr;
    if (!replication_alter_pending(replica, metadata)) return;
    for (u32 i = 0; i < replica->isr_pending.count; i++) {
        i32 id = replica->isr_pending.ids[i];
        if (!metadata_ids_contains(out, id) && out->count < METADATA_REPLICAS_MAX) {
            out->ids[out->count++] = id;
        }
    }
}

/* Recomputes the leader's high watermark; true when it moved (observed). */
static bool replication_update_high_watermark(struct broker *broker, u32 topic, u32 partition)
{
    struct broker_topic *entry = &broker->topics[topic];
    struct broker_replica *replica = &entry->replicas[partition];
    ASSERT(replica->role == BROKER_REPLICA_LEADER);
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, (i32)partition);
    if (metadata == NULL) return false;
    const struct partition_log *log = &entry->logs[partition];
    i64 high_watermark = broker_high_watermark(log);
    struct metadata_ids isr;
    replication_maximal_isr(replica, metadata, &isr);
    for (u32 i = 0; i < isr.count; i++) {
        if (isr.ids[i] == (i32)broker->config.node_id) continue;
        const struct broker_replica_peer *peer = replication_peer(replica, isr.ids[i]);
        high_watermark = MIN(high_watermark, peer != NULL ? peer->log_end : -1);
    }
    if (high_watermark <= replica->high_watermark) return false;
    ASSERT(high_watermark <= partition_log_end_offset(log));
    replica->high_watermark = high_watermark;
    replication_observe_high_watermark(broker, topic, partition);
    return true;
}

/* The high watermark may move (grew: the log itself grew, so parked replica fetches have
 * something new): wakes what waits on it. */
static void replication_advance(struct broker *broker, u32 topic, u32 partition, bool grew)
{
    struct broker_replica *replica = replication_replica(broker, topic, partition);
    bool moved = replica->role == BROKER_REPLICA_LEADER &&
                 replication_update_high_watermark(broker, topic, partition);
    if (grew || moved) broker_fetch_wake_parked(broker, topic, (i32)partition, grew, moved);
    if (moved) broker_produce_wake(broker, topic, (i32)partition);
}

/* ===== The ISR check timer ===== */

/* The timer has work: an ISR to watch, or an offline log to open again. */
static bool replication_leads_with_peers(const struct broker *broker)
{
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        const struct broker_topic *entry = &broker->topics[t];
        if (!entry->used) continue;
        for (u32 p = 0; p < entry->partition_count; p++) {
            const struct broker_replica *replica = &entry->replicas[p];
            if (replica->role == BROKER_REPLICA_LEADER && replica->peer_count > 0) return true;
            /* Any log here may go offline later: the check keeps looking while one is hosted. */
            if (entry->states[p] != BROKER_PARTITION_NOT_HOSTED) return true;
        }
    }
    return false;
}

static void replication_arm(struct broker *broker)
{
    if (broker->replication_timer_armed || !replication_leads_with_peers(broker)) return;
    u64 interval = MAX(replication_lag_ns(broker) / 2, NS_PER_MS);
    io_timer_set(broker->io, broker->timer_base + BROKER_TIMER_REPLICATION,
                 replication_now(broker) + interval);
    broker->replication_timer_armed = true;
}

/* ===== AlterPartition ===== */

/* Sends an AlterPartition asking for isr; false when it could not be sent (no registered link
 * to a controller right now: the next check asks again). */
static bool replication_alter(struct broker *broker, u32 topic, u32 partition,
                              const struct metadata_ids *isr)
{
    struct broker_replica *replica = replication_replica(broker, topic, partition);
    ASSERT(replica->role == BROKER_REPLICA_LEADER && !replica->alter_inflight);
    ASSERT(isr->count > 0 && metadata_ids_contains(isr, (i32)broker->config.node_id));
    if (broker->link.state != BROKER_LINK_REGISTERED || !broker->link.connected) return false;
    struct kafka_alter_partition_request_broker_state members[METADATA_REPLICAS_MAX];
    for (u32 i = 0; i < isr->count; i++) {
        kafka_alter_partition_request_broker_state_init(&members[i]);
        members[i].BrokerId = isr->ids[i];
        /* The controller refuses a member whose registration is not the one named (a member
         * that restarted since it caught up); -1 when the image does not know it. */
        const struct metadata_broker *known = metadata_broker_find(broker->image, isr->ids[i]);
        members[i].BrokerEpoch = known != NULL ? known->epoch : -1;
    }
    struct kafka_alter_partition_request_partition_data asked;
    kafka_alter_partition_request_partition_data_init(&asked);
    asked.PartitionIndex = (i32)partition;
    asked.LeaderEpoch = replica->leader_epoch;
    asked.NewIsrWithEpochs.items = members;
    asked.NewIsrWithEpochs.count = (i32)isr->count;
    asked.LeaderRecoveryState = 0;
    asked.PartitionEpoch = replica->partition_epoch;
    struct kafka_alter_partition_request_topic_data topic_data;
    kafka_alter_partition_request_topic_data_init(&topic_data);
    topic_data.TopicId = broker->topics[topic].id;
    topic_data.Partitions.items = &asked;
    topic_data.Partitions.count = 1;
    union kafka_request body;
    kafka_alter_partition_request_init(&body.AlterPartition);
    body.AlterPartition.BrokerId = (i32)broker->config.node_id;
    body.AlterPartition.BrokerEpoch = broker->link.broker_epoch;
    body.AlterPartition.Topics.items = &topic_data;
    body.AlterPartition.Topics.count = 1;
    i32 correlation = broker_link_request(broker, KAFKA_API_ALTER_PARTITION,
                                          REPLICATION_ALTER_VERSION, &body);
    if (correlation < 0) return false;
    replica->alter_inflight = true;
    replica->alter_correlation = correlation;
    replica->alter_answered_epoch = -1;
    replica->isr_pending = *isr;
    io_log(broker->io, IO_LOG_INFO, "broker: %s-%u asks the controller for an ISR of %u",
           broker->topics[topic].name, partition, isr->count);
    return true;
}

/* Kafka's isReplicaIsrEligible: registered, unfenced, not shutting down. */
static bool replication_eligible(const struct broker *broker, i32 id)
{
    const struct metadata_broker *known = metadata_broker_find(broker->image, id);
    return known != NULL && !known->fenced && !known->in_controlled_shutdown;
}

/* A follower outside the maximal ISR that may join it (Kafka's isFollowerInSync). */
static bool replication_may_join(const struct broker *broker, const struct broker_replica *replica,
                                 const struct broker_replica_peer *peer)
{
    return peer->log_end >= 0 && peer->log_end >= replica->high_watermark &&
           peer->log_end >= replica->epoch_start_offset &&
           replication_eligible(broker, peer->broker_id);
}

/* Asks to add every peer that may join; false when none may (or nothing could be sent). */
static bool replication_maybe_expand(struct broker *broker, u32 topic, u32 partition)
{
    struct broker_replica *replica = replication_replica(broker, topic, partition);
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, (i32)partition);
    if (replica->role != BROKER_REPLICA_LEADER || metadata == NULL ||
        replication_alter_pending(replica, metadata)) {
        return false;
    }
    struct metadata_ids isr = metadata->isr;
    bool grown = false;
    for (u32 i = 0; i < replica->peer_count; i++) {
        const struct broker_replica_peer *peer = &replica->peers[i];
        if (metadata_ids_contains(&isr, peer->broker_id)) continue;
        if (!replication_may_join(broker, replica, peer)) continue;
        ASSERT(isr.count < METADATA_REPLICAS_MAX);
        isr.ids[isr.count++] = peer->broker_id;
        grown = true;
    }
    return grown && replication_alter(broker, topic, partition, &isr);
}

/* Asks to drop every member not caught up within replica.lag.time.max.ms. */
static bool replication_maybe_shrink(struct broker *broker, u32 topic, u32 partition, u64 now)
{
    struct broker_replica *replica = replication_replica(broker, topic, partition);
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, (i32)partition);
    if (metadata == NULL || replication_alter_pending(replica, metadata)) return false;
    struct metadata_ids isr = {.count = 0};
    bool shrunk = false;
    for (u32 i = 0; i < metadata->isr.count; i++) {
        i32 id = metadata->isr.ids[i];
        const struct broker_replica_peer *peer = replication_peer(replica, id);
        bool lagging = id != (i32)broker->config.node_id &&
                       (peer == NULL || now - MIN(peer->caught_up_ns, now) >
                                            replication_lag_ns(broker));
        if (lagging) {
            shrunk = true;
        } else {
            isr.ids[isr.count++] = id;
        }
    }
    if (!shrunk) return false;
    if (!metadata_ids_contains(&isr, (i32)broker->config.node_id)) {
        return false; /* The image does not list the leader in its ISR: not ours to fix. */
    }
    return replication_alter(broker, topic, partition, &isr);
}

void broker_replication_on_timer(struct broker *broker)
{
    broker->replication_timer_armed = false;
    broker_partitions_restart_offline(broker);
    u64 now = replication_now(broker);
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        struct broker_topic *entry = &broker->topics[t];
        if (!entry->used) continue;
        for (u32 p = 0; p < entry->partition_count; p++) {
            struct broker_replica *replica = &entry->replicas[p];
            if (replica->role != BROKER_REPLICA_LEADER || replica->peer_count == 0) continue;
            if (!replication_maybe_shrink(broker, t, p, now)) {
                (void)replication_maybe_expand(broker, t, p);
            }
        }
    }
    replication_arm(broker);
}

bool broker_replication_awaits(const struct broker *broker, i32 correlation)
{
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        const struct broker_topic *entry = &broker->topics[t];
        if (!entry->used) continue;
        for (u32 p = 0; p < entry->partition_count; p++) {
            const struct broker_replica *replica = &entry->replicas[p];
            if (replica->alter_inflight && replica->alter_answered_epoch < 0 &&
                replica->alter_correlation == correlation) {
                return true;
            }
        }
    }
    return false;
}

/* The answer's entry for the partition, or NULL. */
static const struct kafka_alter_partition_response_partition_data *
replication_answer_of(const struct broker *broker, u32 topic, u32 partition,
                      const struct kafka_alter_partition_response *response)
{
    for (i32 i = 0; i < response->Topics.count; i++) {
        const struct kafka_alter_partition_response_topic_data *data = &response->Topics.items[i];
        if (memcmp(data->TopicId.bytes, broker->topics[topic].id.bytes, 16) != 0) continue;
        for (i32 k = 0; k < data->Partitions.count; k++) {
            if (data->Partitions.items[k].PartitionIndex == (i32)partition) {
                return &data->Partitions.items[k];
            }
        }
    }
    return NULL;
}

/* The answer for one partition: success waits for the image, anything else clears. */
static void replication_on_answer(struct broker *broker, u32 topic, u32 partition,
                                  const union kafka_response *response)
{
    struct broker_replica *replica = replication_replica(broker, topic, partition);
    const struct kafka_alter_partition_response_partition_data *answer =
        response == NULL || response->AlterPartition.ErrorCode != KAFKA_ERROR_NONE
            ? NULL
            : replication_answer_of(broker, topic, partition, &response->AlterPartition);
    i16 error = response == NULL ? KAFKA_ERROR_NETWORK_EXCEPTION
                : answer == NULL ? (response->AlterPartition.ErrorCode != KAFKA_ERROR_NONE
                                        ? response->AlterPartition.ErrorCode
                                        : KAFKA_ERROR_UNKNOWN_SERVER_ERROR)
                                 : answer->ErrorCode;
    if (error != KAFKA_ERROR_NONE || answer->Isr.count <= 0 ||
        (u32)answer->Isr.count > METADATA_REPLICAS_MAX) {
        io_log(broker->io, IO_LOG_WARN, "broker: AlterPartition of %s-%u failed: %s",
               broker->topics[topic].name, partition, kafka_error_name(error));
        replica->alter_inflight = false;
        return;
    }
    /* Committed: the ISR the controller recorded is the one that counts until the image
     * shows it (it may differ from the one asked for). */
    replica->alter_answered_epoch = answer->PartitionEpoch;
    replica->isr_pending.count = 0;
    for (i32 i = 0; i < answer->Isr.count; i++) {
        replica->isr_pending.ids[replica->isr_pending.count++] = answer->Isr.items[i];
    }
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, (i32)partition);
    if (!replication_alter_pending(replica, metadata)) replica->alter_inflight = false;
}

void broker_replication_on_alter_answer(struct broker *broker, i32 correlation,
                                        const union kafka_response *response)
{
    for (u32 t = 0; t < BROKER_TOPICS_MAX; t++) {
        struct broker_topic *entry = &broker->topics[t];
        if (!entry->used) continue;
        for (u32 p = 0; p < entry->partition_count; p++) {
            struct broker_replica *replica = &entry->replicas[p];
            if (!replica->alter_inflight || replica->alter_answered_epoch >= 0) continue;
            if (correlation != -1 && replica->alter_correlation != correlation) continue;
            replication_on_answer(broker, t, p, response);
            /* A resolved addition no longer holds back the high watermark. */
            replication_advance(broker, t, p, false);
        }
    }
}

/* ===== Roles ===== */

/* Ends the long poll of fetches parked on a partition no longer led here. */
static void replication_end_parked_fetches(struct broker *broker, u32 topic, u32 partition)
{
    for (u32 s = 0; s < BROKER_SLOTS_MAX; s++) {
        struct broker_slot *slot = &broker->slots[s];
        if (!slot->used || !slot->parked || slot->header.RequestApiKey != KAFKA_API_FETCH) {
            continue;
        }
        for (u32 i = 0; i < slot->part_count; i++) {
            const struct broker_part *part = &slot->parts[i];
            /* A part that failed already has nothing to lose (as broker_on_metadata's own
             * sweep of parked fetches judges). */
            if (part->topic == topic && part->partition == (i32)partition &&
                part->error == KAFKA_ERROR_NONE) {
                broker_fetch_on_timer(broker, slot); /* Answers now (NOT_LEADER_OR_FOLLOWER). */
                break;
            }
        }
    }
}

/* The peers follow the image's replicas; a peer staying keeps what it reported. */
static void replication_sync_peers(struct broker *broker, struct broker_replica *replica,
                                   const struct metadata_partition *metadata, bool fresh)
{
    struct broker_replica_peer peers[METADATA_REPLICAS_MAX];
    u32 count = 0;
    u64 now = replication_now(broker);
    for (u32 i = 0; i < metadata->replicas.count; i++) {
        i32 id = metadata->replicas.ids[i];
        if (id == (i32)broker->config.node_id) continue;
        const struct broker_replica_peer *known = fresh ? NULL : replication_peer(replica, id);
        if (known != NULL) {
            peers[count++] = *known;
            continue;
        }
        /* Kafka's resetReplicaState: an ISR member counts as caught up now, so that it has
         * replica.lag.time.max.ms to show it; anyone else has not caught up yet. */
        peers[count++] = (struct broker_replica_peer){
            .broker_id = id,
            .log_end = -1,
            .leader_end_at_fetch = INT64_MAX,
            .caught_up_ns = metadata_ids_contains(&metadata->isr, id) ? now : 0,
            .last_fetch_ns = 0,
        };
    }
    memcpy(replica->peers, peers, sizeof(peers[0]) * count);
    replica->peer_count = count;
}

/* Whether the image shows this broker's current registration (its incarnation id). */
static bool replication_registered_in_image(const struct broker *broker)
{
    const struct metadata_broker *self =
        metadata_broker_find(broker->image, (i32)broker->config.node_id);
    return self != NULL && memcmp(self->incarnation_id.bytes, broker->link.incarnation.bytes,
                                  sizeof(self->incarnation_id.bytes)) == 0;
}

static void replica_reconcile(struct broker *broker, u32 topic, u32 partition)
{
    struct broker_topic *entry = &broker->topics[topic];
    struct broker_replica *replica = replication_replica(broker, topic, partition);
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, (i32)partition);
    bool open = entry->states[partition] == BROKER_PARTITION_OPEN;
    enum broker_replica_role role = BROKER_REPLICA_NONE;
    if (metadata != NULL && open && metadata->leader >= 0) {
        role = metadata->leader == (i32)broker->config.node_id ? BROKER_REPLICA_LEADER
                                                                 : BROKER_REPLICA_FOLLOWER;
    }
    if (role == BROKER_REPLICA_LEADER && metadata->replicas.count > 1 &&
        !replication_registered_in_image(broker)) {
        role = BROKER_REPLICA_NONE; /* A leadership from before a restart (see the header). */
    }
    i32 leader_epoch = metadata != NULL ? metadata->leader_epoch : -1;
    if (role == replica->role && leader_epoch == replica->leader_epoch) {
        if (role != BROKER_REPLICA_LEADER) return;
        /* Same leadership: the ISR, the partition epoch or the replicas may have moved. */
        replica->partition_epoch = metadata->partition_epoch;
        if (replica->alter_inflight && !replication_alter_pending(replica, metadata)) {
            replica->alter_inflight = false;
        }
        replication_sync_peers(broker, replica, metadata, false);
        replication_advance(broker, topic, partition, false); /* A smaller ISR may let it. */
        replication_arm(broker);
        return;
    }
    bool was_leader = replica->role == BROKER_REPLICA_LEADER;
    i64 high_watermark = replica->high_watermark;
    memset(replica, 0, sizeof(*replica));
    replica->role = role;
    replica->leader_id = metadata != NULL ? metadata->leader : -1;
    replica->leader_epoch = leader_epoch;
    replica->partition_epoch = metadata != NULL ? metadata->partition_epoch : -1;
    replica->high_watermark = -1;
    replica->alter_correlation = -1;
    replica->alter_answered_epoch = -1;
    if (open) {
        const struct partition_log *log = &entry->logs[partition];
        high_watermark = MAX(high_watermark, partition_log_start_offset(log));
        replica->high_watermark = MIN(high_watermark, partition_log_end_offset(log));
    }
    if (was_leader) {
        /* Produce answers waiting here fail unless this broker still leads (a new epoch of
         * the same leader keeps them waiting). */
        broker_produce_wake(broker, topic, (i32)partition);
        if (role != BROKER_REPLICA_LEADER) replication_end_parked_fetches(broker, topic, partition);
    }
    if (role != BROKER_REPLICA_LEADER) return;
    replica->epoch_start_offset = partition_log_end_offset(&entry->logs[partition]);
    replication_sync_peers(broker, replica, metadata, true);
    if (!replication_update_high_watermark(broker, topic, partition)) {
        replication_observe_high_watermark(broker, topic, partition);
    }
    replication_arm(broker);
}

void broker_replica_reconcile(struct broker *broker, u32 topic, u32 partition)
{
    replica_reconcile(broker, topic, partition);
    replication_arm(broker);
}

/* ===== Progress ===== */

bool broker_replica_leads(const struct broker *broker, u32 topic, i32 partition)
{
    if (!broker_partition_ready(broker, topic, partition)) return false;
    const struct broker_replica *replica = &broker->topics[topic].replicas[partition];
    const struct metadata_partition *metadata =
        broker_partition_metadata(broker, topic, partition);
    ASSERT(metadata != NULL); /* Ready. */
    return replica->role == BROKER_REPLICA_LEADER &&
           replica->leader_epoch == metadata->leader_epoch;
}

i64 broker_replica_high_watermark(const struct broker *broker, u32 topic, u32 partition)
{
    const struct broker_topic *entry = &broker->topics[topic];
    ASSERT(entry->used && partition < entry->partition_count);
    const struct broker_replica *replica = &entry->replicas[partition];
    if (replica->role == BROKER_REPLICA_NONE) return -1;
    return replica->high_watermark;
}

void broker_replica_on_log_progress(struct broker *broker, u32 topic, u32 partition)
{
    replication_advance(broker, topic, partition, true);
}

void broker_replica_follower_fetched(struct broker *broker, u32 topic, u32 partition,
                                     i32 replica_id, i64 fetch_offset)
{
    struct broker_replica *replica = replication_replica(broker, topic, partition);
    ASSERT(replica->role == BROKER_REPLICA_LEADER);
    struct broker_replica_peer *peer = replication_peer(replica, replica_id);
    if (peer == NULL) return; /* Checked by the caller: only replicas fetch as one. */
    u64 now = replication_now(broker);
    i64 leader_end = partition_log_end_offset(&broker->topics[topic].logs[partition]);
    ASSERT(fetch_offset >= 0 && fetch_offset <= leader_end);
    /* Kafka's Replica.updateFetchState: caught up now when it asks for the leader's end, or
     * caught up at its previous fetch when it now asks for what the leader's end was then. */
    if (fetch_offset >= leader_end) {
        peer->caught_up_ns = MAX(peer->caught_up_ns, now);
    } else if (fetch_offset >= peer->leader_end_at_fetch) {
        peer->caught_up_ns = MAX(peer->caught_up_ns, peer->last_fetch_ns);
    }
    peer->leader_end_at_fetch = leader_end;
    peer->last_fetch_ns = now;
    peer->log_end = fetch_offset;
    replication_advance(broker, topic, partition, false);
    (void)replication_maybe_expand(broker, topic, partition);
}

u32 broker_replica_min_insync(const struct broker *broker, u32 topic)
{
    const struct broker_topic *entry = &broker->topics[topic];
    ASSERT(entry->used);
    if (entry->overrides_set & (1u << BROKER_CONFIG_MIN_INSYNC_REPLICAS)) {
        return (u32)entry->overrides[BROKER_CONFIG_MIN_INSYNC_REPLICAS];
    }
    return broker->config.min_insync_replicas;
}
