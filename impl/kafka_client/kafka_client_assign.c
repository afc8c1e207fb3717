/* kafka_client_assign.c: the ConsumerProtocol payloads and the range and cooperative-sticky
 * assignors (see kafka_client_assign.h). Members are ordered by an insertion sort over their
 * indices (ties keep index order), so the result never depends on addresses. */
#include "kafka_client_assign.h"

#include "../protocol/messages_generated.h"

#include <string.h>

#define KC_PROTOCOL_VERSION_MAX 3 /* The newest ConsumerProtocol schema version known. */

static u32 kc_bit_count(u32 mask)
{
    u32 count = 0;
    for (; mask != 0; mask &= mask - 1) count++;
    return count;
}

/* Java's String.compareTo for ASCII: bytewise, a prefix first. */
static int kc_string_compare(struct proto_string a, struct proto_string b)
{
    i32 a_size = MAX(a.size, 0), b_size = MAX(b.size, 0);
    i32 common = MIN(a_size, b_size);
    int order = common > 0 ? memcmp(a.data, b.data, (size_t)common) : 0;
    if (order != 0 || a_size == b_size) return order;
    return a_size < b_size ? -1 : 1;
}

int kafka_client_member_compare(const struct kafka_client_assign_member *a,
                                const struct kafka_client_assign_member *b)
{
    bool a_static = a->instance_id.size >= 0, b_static = b->instance_id.size >= 0;
    if (a_static && b_static) return kc_string_compare(a->instance_id, b->instance_id);
    if (a_static != b_static) return a_static ? -1 : 1;
    return kc_string_compare(a->member_id, b->member_id);
}

/* The subscribed members' indices in Kafka's order; returns how many. */
static u32 kc_members_sorted(const struct kafka_client_assign_member *members, u32 count,
                             u32 *order)
{
    u32 sorted = 0;
    for (u32 i = 0; i < count; i++) {
        if (!members[i].subscribed) continue;
        u32 at = sorted++;
        while (at > 0 && kafka_client_member_compare(&members[i], &members[order[at - 1]]) < 0) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    return sorted;
}

void kafka_client_assign_range(const struct kafka_client_assign_member *members, u32 count,
                               u32 partitions, u32 *assigned)
{
    ASSERT(count <= KAFKA_CLIENT_ASSIGN_MEMBERS_MAX);
    ASSERT(partitions <= 32);
    u32 order[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    for (u32 i = 0; i < count; i++) assigned[i] = 0;
    u32 n = kc_members_sorted(members, count, order);
    if (n == 0) return;
    u32 base = partitions / n, extra = partitions % n;
    for (u32 i = 0; i < n; i++) {
        u32 start = base * i + MIN(i, extra);
        u32 length = base + (i < extra ? 1u : 0u);
        for (u32 p = start; p < start + length; p++) assigned[order[i]] |= 1u << p;
    }
}

void kafka_client_assign_cooperative_sticky(const struct kafka_client_assign_member *members,
                                            u32 count, u32 partitions, u32 *assigned)
{
    ASSERT(count <= KAFKA_CLIENT_ASSIGN_MEMBERS_MAX);
    ASSERT(partitions <= 32);
    u32 order[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    for (u32 i = 0; i < count; i++) assigned[i] = 0;
    u32 n = kc_members_sorted(members, count, order);
    if (n == 0) return;
    u32 all = partitions == 32 ? UINT32_MAX : (1u << partitions) - 1;
    /* A claim stands only when exactly one member makes it, and that member stays in the
     * assignment: any other claimant (an unsubscribed one too) still reads the partition. */
    u32 claimed = 0, contested = 0;
    for (u32 i = 0; i < count; i++) {
        u32 owned = members[i].owned & all;
        contested |= claimed & owned;
        claimed |= owned;
    }
    u32 valid[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    for (u32 k = 0; k < n; k++) valid[k] = members[order[k]].owned & all & ~contested;
    /* The (partitions mod members) larger shares go to those owning most, so fewer move. */
    u32 base = partitions / n, extra = partitions % n;
    u32 by_owned[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    for (u32 k = 0; k < n; k++) {
        u32 at = k;
        while (at > 0 && kc_bit_count(valid[by_owned[at - 1]]) < kc_bit_count(valid[k])) {
            by_owned[at] = by_owned[at - 1];
            at--;
        }
        by_owned[at] = k;
    }
    u32 quota[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    for (u32 j = 0; j < n; j++) quota[by_owned[j]] = base + (j < extra ? 1u : 0u);
    u32 result[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    u32 load[KAFKA_CLIENT_ASSIGN_MEMBERS_MAX];
    for (u32 k = 0; k < n; k++) { /* Keep the lowest owned partitions up to the share. */
        result[k] = 0;
        load[k] = 0;
        for (u32 p = 0; p < partitions && load[k] < quota[k]; p++) {
            if ((valid[k] >> p) & 1) {
                result[k] |= 1u << p;
                load[k]++;
            }
        }
    }
    /* Claimed partitions not kept move: left out until their owner revoked them (KIP-429).
     * The unclaimed ones go to the least loaded member below its share, in member order. */
    for (u32 p = 0; p < partitions; p++) {
        if ((claimed >> p) & 1) continue;
        u32 best = n;
        for (u32 k = 0; k < n; k++) {
            if (load[k] >= quota[k]) continue;
            if (best == n || load[k] < load[best]) best = k;
        }
        ASSERT(best < n); /* The shares add up to the partitions. */
        result[best] |= 1u << p;
        load[best]++;
    }
    for (u32 k = 0; k < n; k++) assigned[order[k]] = result[k];
}

/* ===== ConsumerProtocol payloads ===== */

static u32 kc_mask_to_list(u32 mask, i32 *list)
{
    u32 count = 0;
    for (u32 p = 0; p < 32; p++) {
        if ((mask >> p) & 1) list[count++] = (i32)p;
    }
    return count;
}

static u32 kc_payload_finish(struct proto_writer *writer, enum proto_error error)
{
    if (error != PROTO_OK || writer->error != PROTO_OK) return 0;
    return writer->position;
}

u32 kafka_client_subscription_encode(u8 *out, u32 capacity, const char *topic, u32 owned)
{
    struct proto_string name = proto_string_of(topic);
    i32 owned_list[32];
    struct kafka_consumer_protocol_subscription_topic_partition owned_topic;
    kafka_consumer_protocol_subscription_topic_partition_init(&owned_topic);
    owned_topic.Topic = name;
    owned_topic.Partitions.items = owned_list;
    owned_topic.Partitions.count = (i32)kc_mask_to_list(owned, owned_list);
    struct kafka_consumer_protocol_subscription subscription;
    kafka_consumer_protocol_subscription_init(&subscription);
    subscription.Topics.items = &name;
    subscription.Topics.count = 1;
    subscription.UserData = PROTO_BYTES_NULL;
    subscription.OwnedPartitions.items = &owned_topic;
    subscription.OwnedPartitions.count = owned != 0 ? 1 : 0;
    struct proto_writer writer;
    proto_writer_init(&writer, out, capacity);
    proto_write_i16(&writer, 1);
    enum proto_error error = kafka_consumer_protocol_subscription_encode(&writer, 1, &subscription);
    return kc_payload_finish(&writer, error);
}

static u32 kc_list_to_mask(const i32 *list, i32 count, u32 partitions)
{
    u32 mask = 0;
    for (i32 i = 0; i < count; i++) {
        if (list[i] >= 0 && (u32)list[i] < partitions) mask |= 1u << list[i];
    }
    return mask;
}

/* Reads the int16 version; false when it is missing or negative. */
static bool kc_payload_version(struct proto_reader *reader, const u8 *bytes, u32 size,
                               i16 *version)
{
    proto_reader_init(reader, bytes, size);
    *version = proto_read_i16(reader);
    if (reader->error != PROTO_OK || *version < 0) return false;
    *version = MIN(*version, (i16)KC_PROTOCOL_VERSION_MAX);
    return true;
}

bool kafka_client_subscription_decode(const u8 *bytes, u32 size, const char *topic,
                                      u32 partitions, struct proto_arena *arena,
                                      bool *subscribed, u32 *owned)
{
    ASSERT(partitions <= 32);
    *subscribed = false;
    *owned = 0;
    struct proto_reader reader;
    i16 version = 0;
    if (!kc_payload_version(&reader, bytes, size, &version)) return false;
    struct kafka_consumer_protocol_subscription subscription;
    if (kafka_consumer_protocol_subscription_decode(&reader, version, &subscription, arena) !=
        PROTO_OK) {
        return false;
    }
    for (i32 i = 0; i < subscription.Topics.count; i++) {
        if (proto_string_equal_cstr(subscription.Topics.items[i], topic)) *subscribed = true;
    }
    for (i32 i = 0; i < subscription.OwnedPartitions.count; i++) {
        const struct kafka_consumer_protocol_subscription_topic_partition *owned_topic =
            &subscription.OwnedPartitions.items[i];
        if (!proto_string_equal_cstr(owned_topic->Topic, topic)) continue;
        *owned |= kc_list_to_mask(owned_topic->Partitions.items, owned_topic->Partitions.count,
                                  partitions);
    }
    return true;
}

u32 kafka_client_assignment_encode(u8 *out, u32 capacity, const char *topic, u32 mask)
{
    i32 list[32];
    struct kafka_consumer_protocol_assignment_topic_partition assigned_topic;
    kafka_consumer_protocol_assignment_topic_partition_init(&assigned_topic);
    assigned_topic.Topic = proto_string_of(topic);
    assigned_topic.Partitions.items = list;
    assigned_topic.Partitions.count = (i32)kc_mask_to_list(mask, list);
    struct kafka_consumer_protocol_assignment assignment;
    kafka_consumer_protocol_assignment_init(&assignment);
    assignment.AssignedPartitions.items = &assigned_topic;
    assignment.AssignedPartitions.count = mask != 0 ? 1 : 0;
    assignment.UserData = PROTO_BYTES_NULL;
    struct proto_writer writer;
    proto_writer_init(&writer, out, capacity);
    proto_write_i16(&writer, 1);
    return kc_payload_finish(&writer,
                             kafka_consumer_protocol_assignment_encode(&writer, 1, &assignment));
}

bool kafka_client_assignment_decode(const u8 *bytes, u32 size, const char *topic, u32 partitions,
                                    struct proto_arena *arena, u32 *mask)
{
    ASSERT(partitions <= 32);
    *mask = 0;
    if (size == 0) return true; /* The coordinator's empty assignment. */
    struct proto_reader reader;
    i16 version = 0;
    if (!kc_payload_version(&reader, bytes, size, &version)) return false;
    struct kafka_consumer_protocol_assignment assignment;
    if (kafka_consumer_protocol_assignment_decode(&reader, version, &assignment, arena) !=
        PROTO_OK) {
        return false;
    }
    for (i32 i = 0; i < assignment.AssignedPartitions.count; i++) {
        const struct kafka_consumer_protocol_assignment_topic_partition *assigned_topic =
            &assignment.AssignedPartitions.items[i];
        if (!proto_string_equal_cstr(assigned_topic->Topic, topic)) continue;
        *mask |= kc_list_to_mask(assigned_topic->Partitions.items,
                                 assigned_topic->Partitions.count, partitions);
    }
    return true;
}
