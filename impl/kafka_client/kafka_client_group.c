/* kafka_client_group.c: the group consumer's membership, Kafka's classic consumer protocol as
 * librdkafka and the Java consumer speak it (see kafka_client.h and the README).
 *
 * FindCoordinator (through any link but the coordinator's) names the coordinator; every group
 * request then goes over the coordinator's own link, one at a time, in this order of need:
 * the commit and revocation a rejoin starts with, JoinGroup, SyncGroup, a due commit, the
 * OffsetFetch of newly assigned partitions, a due heartbeat. A commit goes before a heartbeat
 * that is due at the same time, and commits every owned position (moved or not), so a member
 * that wakes up from a long pause sends its stale commit first, as a zombie does, and learns
 * from its answer that it was fenced.
 *
 * Ownership: `owned` is what the member reads (each partition in a kc_group_partition state).
 * Under the eager protocol a rejoin first commits and revokes everything; under the
 * cooperative one it commits and keeps reading, and after SyncGroup revokes only what its new
 * assignment lacks (committing those first), then rejoins for the second round. An answer
 * UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION or FENCED_INSTANCE_ID means the partitions are already
 * someone else's: they are lost at once (REVOKED with that error), with no commit.
 *
 * Every observation is the HISTORY_GROUP_* vocabulary of model/history.h. */
#include "kafka_client_assign.h"
#include "kafka_client_internal.h"

#include "../protocol/errors_generated.h"

#include <stdio.h>
#include <string.h>

#define KCG_UNKNOWN_OUTCOME 0xffffu /* COMMIT_FAILED's d when the answer never came. */

static const char *const kcg_protocol_names[] = {
    [HISTORY_GROUP_EAGER] = "range",
    [HISTORY_GROUP_COOPERATIVE] = "cooperative-sticky",
};

static bool kcg_eager(const struct kafka_client *client)
{
    return client->config.assignor == KAFKA_CLIENT_ASSIGNOR_RANGE;
}

static bool kcg_fencing_error(i16 error)
{
    return error == KAFKA_ERROR_UNKNOWN_MEMBER_ID || error == KAFKA_ERROR_ILLEGAL_GENERATION ||
           error == KAFKA_ERROR_FENCED_INSTANCE_ID;
}

static bool kcg_coordinator_error(i16 error)
{
    return error == KAFKA_ERROR_NOT_COORDINATOR || error == KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
}

static struct proto_string kcg_member_id(const struct kc_group *group)
{
    struct proto_string id = {.data = group->member_id, .size = (i32)group->member_id_size};
    return id;
}

static struct proto_string kcg_instance_id(const struct kc_group *group)
{
    return group->instance_id[0] != '\0' ? kc_string(group->instance_id) : PROTO_STRING_NULL;
}

void kc_group_init(struct kafka_client *client)
{
    struct kc_group *group = &client->group;
    memset(group, 0, sizeof(*group));
    group->phase = KCG_UNJOINED;
    group->coordinator_link = -1;
    group->generation = -1;
    group->owned_generation = -1;
    group->protocol = kcg_eager(client) ? HISTORY_GROUP_EAGER : HISTORY_GROUP_COOPERATIVE;
    if (client->config.static_member) {
        int written = snprintf(group->instance_id, sizeof(group->instance_id), "i%u",
                               client->config.client_id);
        ASSERT(written > 0 && (u32)written < sizeof(group->instance_id));
    }
}

static u32 kcg_in_state(const struct kafka_client *client, enum kc_group_partition state)
{
    u32 mask = 0;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (client->group.partition[p] == state) mask |= 1u << p;
    }
    return mask;
}

u32 kc_group_listable(const struct kafka_client *client)
{
    return kcg_in_state(client, KCG_PARTITION_LIST);
}

u32 kc_group_readable(const struct kafka_client *client)
{
    return kcg_in_state(client, KCG_PARTITION_READY);
}

static void kcg_position(struct kafka_client *client, u32 p, i64 offset)
{
    struct kc_group *group = &client->group;
    client->position[p] = offset;
    group->positioned |= 1u << p;
    group->partition[p] = KCG_PARTITION_READY;
    kc_observe(client, HISTORY_GROUP_POSITION, p, (u64)offset, (u64)(i64)group->generation, 0);
}

void kc_group_positioned(struct kafka_client *client, u32 p, i64 offset)
{
    ASSERT(p < client->config.partition_count);
    if (client->group.partition[p] != KCG_PARTITION_LIST) return;
    kcg_position(client, p, offset);
}

void kc_group_out_of_range(struct kafka_client *client, u32 p)
{
    ASSERT(p < client->config.partition_count);
    struct kc_group *group = &client->group;
    if (group->partition[p] != KCG_PARTITION_READY) return;
    group->partition[p] = KCG_PARTITION_LIST;
    group->positioned &= ~(1u << p);
}

/* The member stops reading these partitions and forgets their positions. */
static void kcg_drop(struct kafka_client *client, u32 mask)
{
    struct kc_group *group = &client->group;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if ((mask >> p) & 1) group->partition[p] = KCG_PARTITION_NONE;
    }
    group->owned &= ~mask;
    group->positioned &= ~mask;
    group->revoking &= ~mask;
    group->offset_fetch_mask &= ~mask;
    kc_forget_partitions(client, mask);
}

static void kcg_request_rejoin(struct kafka_client *client)
{
    struct kc_group *group = &client->group;
    group->phase = KCG_UNJOINED;
    group->join_prepared = false;
}

/* Fenced: its partitions already belong to someone else, so they are lost without a commit,
 * and it joins again (as a new member when its member id is no longer known). */
static void kcg_lost(struct kafka_client *client, i16 error)
{
    struct kc_group *group = &client->group;
    io_log(client->io, IO_LOG_INFO, "group consumer %u: fenced in generation %d (error %d)",
           client->config.client_id, group->generation, error);
    if (group->owned != 0) {
        kc_observe(client, HISTORY_GROUP_REVOKED, (u64)(i64)group->owned_generation, group->owned,
                   (u64)(u16)error, 0);
    }
    kcg_drop(client, group->owned);
    group->revoke_commit_sent = false;
    group->rejoin_after_revoke = false;
    group->generation = -1;
    if (error == KAFKA_ERROR_UNKNOWN_MEMBER_ID || error == KAFKA_ERROR_FENCED_INSTANCE_ID) {
        group->member_id_size = 0;
    }
    group->phase = KCG_UNJOINED;
    group->join_prepared = true; /* Nothing left to commit or revoke. */
}

/* Finds the coordinator again (after a backoff); the member keeps its generation. */
static void kcg_coordinator_lost(struct kafka_client *client, i16 error)
{
    struct kc_group *group = &client->group;
    if (group->coordinator_link < 0) return;
    kc_link_lost(client, (u32)group->coordinator_link, error); /* Calls kc_group_link_lost. */
    ASSERT(group->coordinator_link < 0);
}

static void kcg_commit_unknown(struct kafka_client *client)
{
    struct kc_group *group = &client->group;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (!((group->commit_mask >> p) & 1)) continue;
        kc_observe(client, HISTORY_GROUP_COMMIT_FAILED, (u64)(i64)group->commit_generation, p,
                   (u64)group->commit_offset[p], KCG_UNKNOWN_OUTCOME);
    }
    group->commit_mask = 0;
}

void kc_group_link_lost(struct kafka_client *client, u32 index, enum kafka_client_request pending,
                        i16 error)
{
    struct kc_group *group = &client->group;
    u64 now = io_now_ns(client->io);
    (void)error;
    switch (pending) {
    case KC_FIND_COORDINATOR: group->find_not_before_ns = now + KC_BACKOFF_NS; break;
    case KC_JOIN_GROUP:
        group->phase = KCG_UNJOINED; /* Its commit and revocation are done: join again. */
        break;
    case KC_SYNC_GROUP: kcg_request_rejoin(client); break;
    case KC_OFFSET_COMMIT: kcg_commit_unknown(client); break;
    case KC_OFFSET_FETCH: group->offset_fetch_mask = 0; break; /* Asked again. */
    default: break;
    }
    if ((i32)index == group->coordinator_link) {
        group->coordinator_link = -1;
        group->find_not_before_ns = now + KC_BACKOFF_NS;
    }
}

/* ===== Requests ===== */

static void kcg_find_coordinator(struct kafka_client *client)
{
    struct kc_group *group = &client->group;
    if (kc_any_pending(client, KC_FIND_COORDINATOR)) return;
    if (io_now_ns(client->io) < group->find_not_before_ns) {
        kc_wake(client, group->find_not_before_ns);
        return;
    }
    i32 index = kc_setup_link(client);
    if (index < 0) return;
    union kafka_request body;
    kafka_find_coordinator_request_init(&body.FindCoordinator);
    body.FindCoordinator.Key = kc_string(client->config.group);
    body.FindCoordinator.KeyType = 0; /* A group. */
    if (!kc_send(client, (u32)index, KC_FIND_COORDINATOR, KAFKA_API_FIND_COORDINATOR,
                 KC_VERSION_FIND_COORDINATOR, &body)) {
        kc_link_lost(client, (u32)index, KAFKA_ERROR_NETWORK_EXCEPTION);
    }
}

/* A rebalance may park a JoinGroup or SyncGroup up to the rebalance timeout. */
static void kcg_extend_timeout(struct kafka_client *client, u32 index)
{
    io_timer_set(client->io, KC_TIMER_LINK + index,
                 io_now_ns(client->io) + client->config.rebalance_timeout_ns +
                     client->config.request_timeout_ns);
}

static void kcg_send_join(struct kafka_client *client, u32 index)
{
    struct kc_group *group = &client->group;
    ASSERT(group->revoking == 0);
    u32 size = kafka_client_subscription_encode(group->payload[0], KC_PAYLOAD_MAX,
                                                client->config.topic, group->owned);
    ASSERT(size > 0);
    struct kafka_join_group_request_protocol protocol;
    kafka_join_group_request_protocol_init(&protocol);
    protocol.Name = kc_string(kcg_protocol_names[kcg_eager(client) ? HISTORY_GROUP_EAGER
                                                                   : HISTORY_GROUP_COOPERATIVE]);
    protocol.Metadata.data = group->payload[0];
    protocol.Metadata.size = (i32)size;
    union kafka_request body;
    kafka_join_group_request_init(&body.JoinGroup);
    body.JoinGroup.GroupId = kc_string(client->config.group);
    body.JoinGroup.SessionTimeoutMs = (i32)(client->config.session_timeout_ns / NS_PER_MS);
    body.JoinGroup.RebalanceTimeoutMs = (i32)(client->config.rebalance_timeout_ns / NS_PER_MS);
    body.JoinGroup.MemberId = kcg_member_id(group);
    body.JoinGroup.GroupInstanceId = kcg_instance_id(group);
    body.JoinGroup.ProtocolType = kc_string("consumer");
    body.JoinGroup.Protocols.items = &protocol;
    body.JoinGroup.Protocols.count = 1;
    body.JoinGroup.Reason = PROTO_STRING_NULL;
    if (!kc_send(client, index, KC_JOIN_GROUP, KAFKA_API_JOIN_GROUP, KC_VERSION_JOIN_GROUP,
                 &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
        return;
    }
    group->phase = KCG_JOINING;
    kcg_extend_timeout(client, index);
}

static void kcg_send_sync(struct kafka_client *client, u32 index)
{
    struct kc_group *group = &client->group;
    struct kafka_sync_group_request_assignment assignments[KC_GROUP_MEMBERS_MAX];
    u32 count = group->leader ? group->sync_count : 0;
    for (u32 i = 0; i < count; i++) {
        kafka_sync_group_request_assignment_init(&assignments[i]);
        assignments[i].MemberId.data = group->sync_member[i];
        assignments[i].MemberId.size = (i32)group->sync_member_size[i];
        u32 size = kafka_client_assignment_encode(group->payload[i], KC_PAYLOAD_MAX,
                                                  client->config.topic, group->sync_mask[i]);
        ASSERT(size > 0);
        assignments[i].Assignment.data = group->payload[i];
        assignments[i].Assignment.size = (i32)size;
    }
    union kafka_request body;
    kafka_sync_group_request_init(&body.SyncGroup);
    body.SyncGroup.GroupId = kc_string(client->config.group);
    body.SyncGroup.GenerationId = group->generation;
    body.SyncGroup.MemberId = kcg_member_id(group);
    body.SyncGroup.GroupInstanceId = kcg_instance_id(group);
    body.SyncGroup.ProtocolType = kc_string("consumer");
    body.SyncGroup.ProtocolName = kc_string(kcg_protocol_names[group->protocol]);
    body.SyncGroup.Assignments.items = count > 0 ? assignments : NULL;
    body.SyncGroup.Assignments.count = (i32)count;
    if (!kc_send(client, index, KC_SYNC_GROUP, KAFKA_API_SYNC_GROUP, KC_VERSION_SYNC_GROUP,
                 &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
        return;
    }
    kcg_extend_timeout(client, index);
}

/* Commits the position (the offset after the last record read) of each positioned partition
 * of mask, moved or not, as the Java consumer's auto-commit commits everything it consumed:
 * so a member that wakes up from a pause commits in its old generation, as a zombie does,
 * even when it read nothing since its last commit. False when there was nothing to commit. */
static bool kcg_send_commit(struct kafka_client *client, u32 index, u32 mask)
{
    struct kc_group *group = &client->group;
    ASSERT(group->commit_mask == 0);
    struct kafka_offset_commit_request_partition partitions[KAFKA_CLIENT_PARTITIONS_MAX];
    u32 count = 0, sent = 0;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        bool valid = ((mask & group->positioned) >> p) & 1;
        if (!valid) continue;
        kafka_offset_commit_request_partition_init(&partitions[count]);
        partitions[count].PartitionIndex = (i32)p;
        partitions[count].CommittedOffset = client->position[p];
        partitions[count].CommittedLeaderEpoch = -1;
        partitions[count++].CommittedMetadata = kc_string("");
        sent |= 1u << p;
    }
    if (count == 0) return false;
    struct kafka_offset_commit_request_topic topic;
    kafka_offset_commit_request_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    topic.Partitions.items = partitions;
    topic.Partitions.count = (i32)count;
    union kafka_request body;
    kafka_offset_commit_request_init(&body.OffsetCommit);
    body.OffsetCommit.GroupId = kc_string(client->config.group);
    body.OffsetCommit.GenerationIdOrMemberEpoch = group->generation;
    body.OffsetCommit.MemberId = kcg_member_id(group);
    body.OffsetCommit.GroupInstanceId = kcg_instance_id(group);
    body.OffsetCommit.Topics.items = &topic;
    body.OffsetCommit.Topics.count = 1;
    if (!kc_send(client, index, KC_OFFSET_COMMIT, KAFKA_API_OFFSET_COMMIT,
                 KC_VERSION_OFFSET_COMMIT, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION); /* Not sent: no report. */
        return true;
    }
    group->commit_mask = sent;
    group->commit_generation = group->generation;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (!((sent >> p) & 1)) continue;
        group->commit_offset[p] = client->position[p];
        kc_observe(client, HISTORY_GROUP_COMMIT, (u64)(i64)group->generation, p,
                   (u64)client->position[p], 0);
    }
    return true;
}

static void kcg_send_offset_fetch(struct kafka_client *client, u32 index, u32 mask)
{
    struct kc_group *group = &client->group;
    i32 indexes[KAFKA_CLIENT_PARTITIONS_MAX];
    u32 count = 0;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if ((mask >> p) & 1) indexes[count++] = (i32)p;
    }
    ASSERT(count > 0);
    struct kafka_offset_fetch_request_topic topic;
    kafka_offset_fetch_request_topic_init(&topic);
    topic.Name = kc_string(client->config.topic);
    topic.PartitionIndexes.items = indexes;
    topic.PartitionIndexes.count = (i32)count;
    union kafka_request body;
    kafka_offset_fetch_request_init(&body.OffsetFetch);
    body.OffsetFetch.GroupId = kc_string(client->config.group);
    body.OffsetFetch.Topics.items = &topic;
    body.OffsetFetch.Topics.count = 1;
    body.OffsetFetch.RequireStable = false;
    if (!kc_send(client, index, KC_OFFSET_FETCH, KAFKA_API_OFFSET_FETCH,
                 KC_VERSION_OFFSET_FETCH, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
        return;
    }
    group->offset_fetch_asked = mask;
    group->offset_fetch_mask = mask;
    group->offset_fetch_generation = group->generation;
    group->offset_fetch_sent_ns = io_now_ns(client->io);
}

static void kcg_send_heartbeat(struct kafka_client *client, u32 index)
{
    struct kc_group *group = &client->group;
    union kafka_request body;
    kafka_heartbeat_request_init(&body.Heartbeat);
    body.Heartbeat.GroupId = kc_string(client->config.group);
    body.Heartbeat.GenerationId = group->generation;
    body.Heartbeat.MemberId = kcg_member_id(group);
    body.Heartbeat.GroupInstanceId = kcg_instance_id(group);
    if (!kc_send(client, index, KC_HEARTBEAT, KAFKA_API_HEARTBEAT, KC_VERSION_HEARTBEAT, &body)) {
        kc_link_lost(client, index, KAFKA_ERROR_NETWORK_EXCEPTION);
    }
}

/* ===== Revocation ===== */

/* The member gives these partitions up: no more reads; their positions are committed, then
 * they are reported REVOKED (and under the cooperative protocol it rejoins). */
static void kcg_start_revoke(struct kafka_client *client, u32 mask, bool rejoin_after)
{
    struct kc_group *group = &client->group;
    ASSERT(group->revoking == 0);
    ASSERT((mask & ~group->owned) == 0);
    group->revoking = mask;
    group->revoke_generation = group->owned_generation;
    group->revoke_commit_sent = false;
    group->rejoin_after_revoke = rejoin_after;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if ((mask >> p) & 1) group->partition[p] = KCG_PARTITION_REVOKING;
    }
    group->offset_fetch_mask &= ~mask;
    kc_forget_partitions(client, mask);
}

static void kcg_finish_revoke(struct kafka_client *client)
{
    struct kc_group *group = &client->group;
    u32 revoked = group->revoking;
    ASSERT(revoked != 0);
    kc_observe(client, HISTORY_GROUP_REVOKED, (u64)(i64)group->revoke_generation, revoked, 0, 0);
    kcg_drop(client, revoked);
    group->revoke_commit_sent = false;
    if (group->rejoin_after_revoke) {
        group->rejoin_after_revoke = false;
        kcg_request_rejoin(client);
    }
}

/* True when it sent the revocation's commit; else the revocation is over. */
static bool kcg_revoke_step(struct kafka_client *client, u32 index)
{
    struct kc_group *group = &client->group;
    if (!group->revoke_commit_sent) {
        group->revoke_commit_sent = true;
        if (kcg_send_commit(client, index, group->revoking)) return true;
    }
    if (group->revoking != 0) kcg_finish_revoke(client); /* A fencing answer may have lost it. */
    return false;
}

/* ===== The pump ===== */

/* The coordinator's link is connected and idle: the next group request, if any is due. */
static void kcg_next_request(struct kafka_client *client, u32 index)
{
    struct kc_group *group = &client->group;
    u64 now = io_now_ns(client->io);
    if (group->phase == KCG_JOINING) group->phase = KCG_UNJOINED; /* Its JoinGroup is gone. */
    if (group->phase == KCG_UNJOINED) {
        if (!group->join_prepared) {
            group->join_prepared = true;
            if (kcg_eager(client) && group->owned != 0) {
                kcg_start_revoke(client, group->owned, false);
            } else if (kcg_send_commit(client, index, group->owned)) {
                return; /* Cooperative: commits what it read, and reads on. */
            }
        }
        if (group->revoking != 0 && kcg_revoke_step(client, index)) return;
        if (group->phase != KCG_UNJOINED || client->links[index].pending != KC_NONE) return;
        if (now < group->join_not_before_ns) {
            kc_wake(client, group->join_not_before_ns);
            return;
        }
        kcg_send_join(client, index);
        return;
    }
    if (group->phase == KCG_SYNCING) {
        kcg_send_sync(client, index);
        return;
    }
    ASSERT(group->phase == KCG_STABLE);
    if (group->revoking != 0 && kcg_revoke_step(client, index)) return;
    if (group->phase != KCG_STABLE || client->links[index].pending != KC_NONE) return;
    bool heartbeat_due = now >= group->heartbeat_at_ns;
    /* A due commit goes first, but only once: slow commits must not starve the heartbeats. */
    if (now >= group->commit_at_ns && !(heartbeat_due && group->heartbeat_passed_over)) {
        group->commit_at_ns = now + client->config.commit_interval_ns;
        if (kcg_send_commit(client, index, group->owned)) {
            group->heartbeat_passed_over = heartbeat_due;
            return;
        }
    }
    u32 unfetched = kcg_in_state(client, KCG_PARTITION_OFFSET_FETCH);
    if (unfetched != 0 && now >= group->offset_fetch_not_before_ns) {
        kcg_send_offset_fetch(client, index, unfetched);
        return;
    }
    if (unfetched != 0) kc_wake(client, group->offset_fetch_not_before_ns);
    if (heartbeat_due) {
        group->heartbeat_at_ns = now + client->config.heartbeat_interval_ns;
        group->heartbeat_passed_over = false;
        kcg_send_heartbeat(client, index);
    }
}

void kc_group_pump(struct kafka_client *client)
{
    struct kc_group *group = &client->group;
    u64 now = io_now_ns(client->io);
    /* Asked again on every pass (kc_wake keeps the earliest); one already due waits for the
     * coordinator's link, whose answer or failure runs the pump. */
    if (group->phase == KCG_STABLE) {
        if (group->heartbeat_at_ns > now) kc_wake(client, group->heartbeat_at_ns);
        if (group->commit_at_ns > now) kc_wake(client, group->commit_at_ns);
    }
    if (group->coordinator_link < 0) {
        kcg_find_coordinator(client);
        return;
    }
    u32 index = (u32)group->coordinator_link;
    struct kc_link *link = &client->links[index];
    if (link->conn == 0) {
        if (now >= link->not_before_ns) kc_connect(client, index);
        else kc_wake(client, link->not_before_ns);
        return;
    }
    if (!link->connected || link->pending != KC_NONE) return;
    if (now < link->not_before_ns) {
        kc_wake(client, link->not_before_ns);
        return;
    }
    kcg_next_request(client, index);
}

/* ===== Answers ===== */

static void kcg_on_find_coordinator(struct kafka_client *client,
                                    const struct kafka_find_coordinator_response *response)
{
    struct kc_group *group = &client->group;
    u64 now = io_now_ns(client->io);
    if (group->coordinator_link >= 0) return; /* Found meanwhile. */
    char endpoint[CONFIG_ENDPOINT_MAX];
    int written = snprintf(endpoint, sizeof(endpoint), "%.*s:%d",
                           (int)MAX(response->Host.size, 0), response->Host.data, response->Port);
    i32 index = -1;
    if (response->ErrorCode == KAFKA_ERROR_NONE && response->NodeId >= 0 && written > 0 &&
        (u32)written < sizeof(endpoint)) {
        index = kc_link_of(client, endpoint, true);
    }
    if (index < 0) { /* Not available yet (its partition has no leader), or unusable. */
        group->find_not_before_ns = now + KC_BACKOFF_NS;
        kc_wake(client, group->find_not_before_ns);
        return;
    }
    client->links[index].broker_id = response->NodeId;
    group->coordinator_link = index;
}

/* The leader's part: every member's assignment, by the protocol the group chose. False when
 * the members cannot be held (too many, an id too long). */
static bool kcg_assign(struct kafka_client *client,
                       const struct kafka_join_group_response *response)
{
    struct kc_group *group = &client->group;
    if (response->Members.count < 0 || (u32)response->Members.count > KC_GROUP_MEMBERS_MAX) {
        return false;
    }
    u32 count = (u32)response->Members.count;
    struct kafka_client_assign_member members[KC_GROUP_MEMBERS_MAX];
    for (u32 i = 0; i < count; i++) {
        const struct kafka_join_group_response_member *member = &response->Members.items[i];
        if (member->MemberId.size < 0 || (u32)member->MemberId.size >= KC_MEMBER_ID_MAX) {
            return false;
        }
        members[i].member_id = member->MemberId;
        members[i].instance_id = member->GroupInstanceId;
        struct proto_arena arena;
        proto_arena_init(&arena, group->decode_memory, sizeof(group->decode_memory));
        const struct proto_bytes metadata = member->Metadata;
        if (metadata.size < 0 ||
            !kafka_client_subscription_decode(metadata.data, (u32)metadata.size,
                                              client->config.topic,
                                              client->config.partition_count, &arena,
                                              &members[i].subscribed, &members[i].owned)) {
            members[i].subscribed = false; /* Unreadable: it gets nothing. */
            members[i].owned = 0;
        }
    }
    if (group->protocol == HISTORY_GROUP_COOPERATIVE) {
        kafka_client_assign_cooperative_sticky(members, count, client->config.partition_count,
                                               group->sync_mask);
    } else {
        kafka_client_assign_range(members, count, client->config.partition_count,
                                  group->sync_mask);
    }
    for (u32 i = 0; i < count; i++) {
        memcpy(group->sync_member[i], members[i].member_id.data,
               (size_t)members[i].member_id.size);
        group->sync_member_size[i] = (u32)members[i].member_id.size;
    }
    group->sync_count = count;
    return true;
}

/* The answer's error is not one the protocol handles in place: rejoin after a backoff. */
static void kcg_retry_join(struct kafka_client *client, const char *what, i16 error)
{
    struct kc_group *group = &client->group;
    io_log(client->io, IO_LOG_WARN, "group consumer %u: %s (error %d); joining again",
           client->config.client_id, what, error);
    group->phase = KCG_UNJOINED;
    group->join_not_before_ns = io_now_ns(client->io) + KC_BACKOFF_NS;
    kc_wake(client, group->join_not_before_ns);
}

/* Errors every group answer may carry; true when handled. */
static bool kcg_on_group_error(struct kafka_client *client, i16 error)
{
    if (kcg_fencing_error(error)) {
        kcg_lost(client, error);
        return true;
    }
    if (kcg_coordinator_error(error)) {
        kcg_coordinator_lost(client, error);
        return true;
    }
    return false;
}

static void kcg_on_join(struct kafka_client *client,
                        const struct kafka_join_group_response *response)
{
    struct kc_group *group = &client->group;
    i16 error = response->ErrorCode;
    if (group->phase != KCG_JOINING) return;
    group->phase = KCG_UNJOINED; /* Unless it joined, below. */
    const struct proto_string member_id = response->MemberId;
    bool id_fits = member_id.size >= 0 && (u32)member_id.size < KC_MEMBER_ID_MAX;
    if (error == KAFKA_ERROR_MEMBER_ID_REQUIRED && id_fits && member_id.size > 0) {
        memcpy(group->member_id, member_id.data, (size_t)member_id.size); /* KIP-394 */
        group->member_id_size = (u32)member_id.size;
        return; /* Joins again at once, with the id. */
    }
    if (error == KAFKA_ERROR_REBALANCE_IN_PROGRESS) return;
    if (error != KAFKA_ERROR_NONE) {
        if (!kcg_on_group_error(client, error)) kcg_retry_join(client, "JoinGroup failed", error);
        return;
    }
    if (!id_fits || member_id.size == 0) {
        kcg_retry_join(client, "JoinGroup gave an unusable member id", error);
        return;
    }
    memcpy(group->member_id, member_id.data, (size_t)member_id.size);
    group->member_id_size = (u32)member_id.size;
    group->generation = response->GenerationId;
    group->leader = proto_string_equal(response->Leader, member_id);
    group->protocol = proto_string_equal_cstr(response->ProtocolName, "cooperative-sticky")
                          ? HISTORY_GROUP_COOPERATIVE
                          : HISTORY_GROUP_EAGER;
    /* Only the leader hears of the other members. */
    kc_observe(client, HISTORY_GROUP_JOINED, (u64)(i64)group->generation, group->leader ? 1 : 0,
               group->protocol, (u64)MAX(response->Members.count, 0));
    group->sync_count = 0;
    /* A static leader rejoining a stable group is told to keep the assignment (KIP-814). */
    if (group->leader && !response->SkipAssignment && !kcg_assign(client, response)) {
        kcg_retry_join(client, "too many members or too long a member id to assign", 0);
        return;
    }
    group->phase = KCG_SYNCING;
}

static void kcg_on_sync(struct kafka_client *client,
                        const struct kafka_sync_group_response *response)
{
    struct kc_group *group = &client->group;
    i16 error = response->ErrorCode;
    if (group->phase != KCG_SYNCING) return;
    if (error == KAFKA_ERROR_REBALANCE_IN_PROGRESS) {
        kcg_request_rejoin(client);
        return;
    }
    if (error != KAFKA_ERROR_NONE) {
        kcg_request_rejoin(client);
        if (!kcg_on_group_error(client, error)) kcg_retry_join(client, "SyncGroup failed", error);
        return;
    }
    struct proto_arena arena;
    proto_arena_init(&arena, group->decode_memory, sizeof(group->decode_memory));
    u32 assigned = 0;
    if (response->Assignment.size < 0 ||
        !kafka_client_assignment_decode(response->Assignment.data, (u32)response->Assignment.size,
                                        client->config.topic, client->config.partition_count,
                                        &arena, &assigned)) {
        kcg_request_rejoin(client);
        kcg_retry_join(client, "SyncGroup gave a malformed assignment", error);
        return;
    }
    kc_observe(client, HISTORY_GROUP_ASSIGNED, (u64)(i64)group->generation, assigned, 0, 0);
    u32 revoked = group->owned & ~assigned;
    u32 added = assigned & ~group->owned;
    if (revoked != 0) kcg_start_revoke(client, revoked, true); /* Cooperative's second round. */
    group->owned |= added;
    group->owned_generation = group->generation;
    for (u32 p = 0; p < client->config.partition_count; p++) {
        if (!((added >> p) & 1)) continue;
        group->partition[p] = KCG_PARTITION_OFFSET_FETCH;
        group->positioned &= ~(1u << p);
    }
    u64 now = io_now_ns(client->io);
    group->phase = KCG_STABLE;
    group->heartbeat_at_ns = now + client->config.heartbeat_interval_ns;
    if (group->commit_at_ns == 0) group->commit_at_ns = now + client->config.commit_interval_ns;
}

static void kcg_on_heartbeat(struct kafka_client *client,
                             const struct kafka_heartbeat_response *response)
{
    i16 error = response->ErrorCode;
    if (client->group.phase != KCG_STABLE || error == KAFKA_ERROR_NONE) return;
    if (error == KAFKA_ERROR_REBALANCE_IN_PROGRESS) {
        kcg_request_rejoin(client);
        return;
    }
    kcg_on_group_error(client, error); /* Anything else: the next heartbeat tries again. */
}

static void kcg_on_commit(struct kafka_client *client,
                          const struct kafka_offset_commit_response *response)
{
    struct kc_group *group = &client->group;
    u32 waiting = group->commit_mask;
    group->commit_mask = 0;
    i16 worst = KAFKA_ERROR_NONE; /* The error that decides what the member does next. */
    for (i32 t = 0; t < response->Topics.count; t++) {
        const struct kafka_offset_commit_response_topic *topic = &response->Topics.items[t];
        if (!proto_string_equal_cstr(topic->Name, client->config.topic)) continue;
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            i32 p = topic->Partitions.items[i].PartitionIndex;
            i16 error = topic->Partitions.items[i].ErrorCode;
            if (p < 0 || (u32)p >= client->config.partition_count || !((waiting >> p) & 1)) {
                continue;
            }
            waiting &= ~(1u << p);
            u64 offset = (u64)group->commit_offset[p];
            if (error == KAFKA_ERROR_NONE) {
                kc_observe(client, HISTORY_GROUP_COMMITTED, (u64)(i64)group->commit_generation,
                           (u64)p, offset, 0);
                continue;
            }
            kc_observe(client, HISTORY_GROUP_COMMIT_FAILED, (u64)(i64)group->commit_generation,
                       (u64)p, offset, (u64)(u16)error);
            if (kcg_fencing_error(error) || worst == KAFKA_ERROR_NONE) worst = error;
        }
    }
    group->commit_mask = waiting; /* Left out of the answer: its outcome is unknown. */
    kcg_commit_unknown(client);
    if (worst == KAFKA_ERROR_REBALANCE_IN_PROGRESS) {
        if (group->phase == KCG_STABLE && group->revoking == 0) kcg_request_rejoin(client);
        return;
    }
    kcg_on_group_error(client, worst); /* Other errors: the next commit tries again. */
}

static void kcg_on_offset_fetch(struct kafka_client *client,
                                const struct kafka_offset_fetch_response *response)
{
    struct kc_group *group = &client->group;
    u32 asked = group->offset_fetch_asked, waiting = group->offset_fetch_mask;
    group->offset_fetch_asked = 0;
    group->offset_fetch_mask = 0;
    u64 now = io_now_ns(client->io);
    if (response->ErrorCode != KAFKA_ERROR_NONE) {
        if (!kcg_on_group_error(client, response->ErrorCode)) {
            group->offset_fetch_not_before_ns = now + KC_BACKOFF_NS; /* Loading, unstable. */
        }
        return;
    }
    bool retry = false;
    for (i32 t = 0; t < response->Topics.count; t++) {
        const struct kafka_offset_fetch_response_topic *topic = &response->Topics.items[t];
        if (!proto_string_equal_cstr(topic->Name, client->config.topic)) continue;
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            const struct kafka_offset_fetch_response_partition *partition =
                &topic->Partitions.items[i];
            i32 p = partition->PartitionIndex;
            if (p < 0 || (u32)p >= client->config.partition_count || !((asked >> p) & 1)) {
                continue;
            }
            asked &= ~(1u << p);
            if (partition->ErrorCode != KAFKA_ERROR_NONE) {
                retry = true;
                continue;
            }
            i64 committed = MAX(partition->CommittedOffset, (i64)-1);
            kc_observe(client, HISTORY_GROUP_OFFSET_FETCHED,
                       (u64)(i64)group->offset_fetch_generation, (u64)p,
                       committed < 0 ? UINT64_MAX : (u64)committed, group->offset_fetch_sent_ns);
            /* Revoked or lost since it asked: the answer is someone else's business now. */
            if (!((waiting >> p) & 1) || group->partition[p] != KCG_PARTITION_OFFSET_FETCH) {
                continue;
            }
            if (committed >= 0) kcg_position(client, (u32)p, committed);
            else group->partition[p] = KCG_PARTITION_LIST; /* auto.offset.reset=earliest */
        }
    }
    if (retry || asked != 0) group->offset_fetch_not_before_ns = now + KC_BACKOFF_NS;
}

void kc_group_dispatch(struct kafka_client *client, u32 index, enum kafka_client_request kind,
                       const union kafka_response *response)
{
    (void)index;
    switch (kind) {
    case KC_FIND_COORDINATOR: kcg_on_find_coordinator(client, &response->FindCoordinator); break;
    case KC_JOIN_GROUP: kcg_on_join(client, &response->JoinGroup); break;
    case KC_SYNC_GROUP: kcg_on_sync(client, &response->SyncGroup); break;
    case KC_HEARTBEAT: kcg_on_heartbeat(client, &response->Heartbeat); break;
    case KC_OFFSET_COMMIT: kcg_on_commit(client, &response->OffsetCommit); break;
    case KC_OFFSET_FETCH: kcg_on_offset_fetch(client, &response->OffsetFetch); break;
    default: ASSERT(false); break;
    }
}
