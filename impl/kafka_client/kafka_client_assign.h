/* kafka_client_assign.h: what a group consumer puts in its JoinGroup and SyncGroup, and how the
 * group's leader splits the partitions, as pure functions (no io, no state).
 *
 * The ConsumerProtocol payloads are Kafka's own (ConsumerProtocolSubscription and
 * ConsumerProtocolAssignment, each an int16 version followed by the schema's fields, encoded
 * with the generated codec). Partitions are those of the one workload topic, as a bit mask
 * (bit p = partition p, fewer than 32 partitions).
 *
 * The assignors are Kafka's:
 *  - range (RangeAssignor): the subscribed members sorted as Kafka's MemberInfo sorts them
 *    (by group.instance.id when both have one, static members first, else by member id) split
 *    the partitions in order, the first (partitions mod members) getting one more;
 *  - cooperative-sticky (KIP-429): a balanced assignment (every member floor or ceil of
 *    partitions/members) that keeps each member's owned partitions up to its share; a partition
 *    that would move from its owner to another member is left out of this round (its owner
 *    revokes it, and the follow-up rebalance gives it to the least loaded member), as is a
 *    partition two members both claim. Repeating the round with the result as the new owned
 *    sets reaches, in one more round, an assignment where every partition is assigned once.
 *
 * May depend on: base.h, protocol/ (codec and generated ConsumerProtocol structs). */
#ifndef KAFKA_CLIENT_ASSIGN_H
#define KAFKA_CLIENT_ASSIGN_H

#include "../protocol/codec.h"

#define KAFKA_CLIENT_ASSIGN_MEMBERS_MAX 64u

struct kafka_client_assign_member {
    struct proto_string member_id;
    struct proto_string instance_id; /* size -1 (null): a dynamic member. */
    bool subscribed;                 /* Its subscription lists the topic. */
    u32 owned;                       /* Partitions it says it owns (cooperative: kept if valid). */
};

/* Fills assigned[i] for each of the count members (unsubscribed ones get 0). */
void kafka_client_assign_range(const struct kafka_client_assign_member *members, u32 count,
                               u32 partitions, u32 *assigned);
void kafka_client_assign_cooperative_sticky(const struct kafka_client_assign_member *members,
                                            u32 count, u32 partitions, u32 *assigned);

/* Kafka's MemberInfo order: <0 when a sorts before b. */
int kafka_client_member_compare(const struct kafka_client_assign_member *a,
                                const struct kafka_client_assign_member *b);

/* ConsumerProtocolSubscription v1: [topic], null userData, ownedPartitions [topic, [owned]].
 * Returns the bytes written, 0 when out is too small. */
u32 kafka_client_subscription_encode(u8 *out, u32 capacity, const char *topic, u32 owned);
/* Any version (a newer one is read as the newest known, as Kafka does). False when malformed;
 * else whether it lists the topic and the partitions below `partitions` it owns of it. */
WARN_UNUSED bool kafka_client_subscription_decode(const u8 *bytes, u32 size, const char *topic,
                                                  u32 partitions, struct proto_arena *arena,
                                                  bool *subscribed, u32 *owned);

/* ConsumerProtocolAssignment v1: [topic, [partitions]] (no topic entry when mask is 0), null
 * userData. Returns the bytes written, 0 when out is too small. */
u32 kafka_client_assignment_encode(u8 *out, u32 capacity, const char *topic, u32 mask);
/* Empty bytes are an empty assignment. False when malformed; else the partitions below
 * `partitions` assigned of the topic. */
WARN_UNUSED bool kafka_client_assignment_decode(const u8 *bytes, u32 size, const char *topic,
                                                u32 partitions, struct proto_arena *arena,
                                                u32 *mask);

#endif
