/* controller_decide.h: the controller's decisions as pure functions.
 *
 * Each function reads the committed metadata image and one decoded request (or an event: a
 * session expired, a periodic check), and writes the metadata records that carry the decision
 * out (proposed by controller.c as one quorum entry) and the response the requester gets once
 * that entry is applied. Nothing here touches io, time or randomness: the entropy for new topic
 * ids comes in as `seed`, so the same inputs give the same records, and a test can build an
 * image from exactly the records a decision returned.
 *
 * The rules every decision shares (see controller.h and README.md):
 *  - A broker may lead (or join an ISR) when it is registered, unfenced and not in controlled
 *    shutdown. Elections pick the first such replica in assignment order that is in the ISR;
 *    an out-of-sync replica only when unclean.leader.election.enable (the broker's config or
 *    the topic's override) is true, and then the ISR becomes just the new leader.
 *  - An ISR loses members that cannot be in it (fenced, shutting down, unregistered, no longer
 *    replicas) unless that would empty it: the last member stays, leaderless if need be.
 *  - A reassignment completes once every adding replica is in the ISR: replicas become the
 *    target, the ISR keeps only target members, and the leader is re-elected if it left.
 *  - A decision touches each partition at most once and emits a change only when something
 *    changes, so settling an already settled image yields no records (a fixed point).
 *
 * Responses live in the caller's arena (`arena`); a function returns false when the arena ran
 * out (the response is then incomplete, and the caller refuses the request).
 *
 * May depend on: base.h, config.h, metadata/, protocol/. */
#ifndef CONTROLLER_DECIDE_H
#define CONTROLLER_DECIDE_H

#include "../config.h"
#include "../metadata/metadata.h"
#include "../protocol/header.h"

/* Records in one decision: one quorum entry. */
#define CONTROLLER_RECORDS_MAX METADATA_ENTRY_RECORDS_MAX

struct controller_decide_input {
    const struct node_config *config;
    const struct metadata_image *image;
    u64 seed;                  /* Entropy for new topic ids. */
    struct proto_arena *arena; /* Response memory. */
};

/* Producer ids handed to a broker at a time (Kafka's ProducerIdManager block size). */
#define CONTROLLER_PRODUCER_ID_BLOCK 1000

struct controller_decision {
    struct metadata_record *records; /* The caller's array of CONTROLLER_RECORDS_MAX. */
    u32 count;
    /* BrokerRegistration: the response's BrokerEpoch is the offset the entry gets, which only
     * the proposer learns (the epoch is that offset, by the image's rule). */
    bool epoch_is_offset;
};

void controller_decision_init(struct controller_decision *decision,
                              struct metadata_record *records);

/* ===== Requests (api key in the name). Each fills *response (already _init'ed by it). ===== */

WARN_UNUSED bool controller_decide_register(const struct controller_decide_input *in,
                                            struct controller_decision *out,
                                            const struct kafka_broker_registration_request *request,
                                            struct kafka_broker_registration_response *response);
WARN_UNUSED bool controller_decide_heartbeat(const struct controller_decide_input *in,
                                             struct controller_decision *out,
                                             const struct kafka_broker_heartbeat_request *request,
                                             struct kafka_broker_heartbeat_response *response);
/* UnregisterBroker has no generated codec: its one field is passed as is. */
i16 controller_decide_unregister(const struct controller_decide_input *in,
                                 struct controller_decision *out, i32 broker_id);
WARN_UNUSED bool controller_decide_create_topics(
    const struct controller_decide_input *in, struct controller_decision *out, i16 version,
    const struct kafka_create_topics_request *request,
    struct kafka_create_topics_response *response);
WARN_UNUSED bool controller_decide_delete_topics(
    const struct controller_decide_input *in, struct controller_decision *out, i16 version,
    const struct kafka_delete_topics_request *request,
    struct kafka_delete_topics_response *response);
WARN_UNUSED bool controller_decide_create_partitions(
    const struct controller_decide_input *in, struct controller_decision *out,
    const struct kafka_create_partitions_request *request,
    struct kafka_create_partitions_response *response);
WARN_UNUSED bool controller_decide_alter_partition(
    const struct controller_decide_input *in, struct controller_decision *out, i16 version,
    const struct kafka_alter_partition_request *request,
    struct kafka_alter_partition_response *response);
WARN_UNUSED bool controller_decide_elect_leaders(
    const struct controller_decide_input *in, struct controller_decision *out, i16 version,
    const struct kafka_elect_leaders_request *request,
    struct kafka_elect_leaders_response *response);
WARN_UNUSED bool controller_decide_alter_configs(
    const struct controller_decide_input *in, struct controller_decision *out,
    const struct kafka_incremental_alter_configs_request *request,
    struct kafka_incremental_alter_configs_response *response);
WARN_UNUSED bool controller_decide_alter_reassignments(
    const struct controller_decide_input *in, struct controller_decision *out,
    const struct kafka_alter_partition_reassignments_request *request,
    struct kafka_alter_partition_reassignments_response *response);
WARN_UNUSED bool controller_decide_list_reassignments(
    const struct controller_decide_input *in,
    const struct kafka_list_partition_reassignments_request *request,
    struct kafka_list_partition_reassignments_response *response);

/* Any of the above by api key (UnregisterBroker excluded). */
WARN_UNUSED bool controller_decide_request(const struct controller_decide_input *in,
                                           struct controller_decision *out, i16 api_key,
                                           i16 version, const union kafka_request *request,
                                           union kafka_response *response);
/* A response that answers every item of request with error (NOT_CONTROLLER when inactive, a
 * retriable error when the decision could not be proposed). */
WARN_UNUSED bool controller_error_response(i16 api_key, i16 version,
                                           const union kafka_request *request, i16 error,
                                           struct proto_arena *arena,
                                           union kafka_response *response);
/* Whether the controller serves api_key (UnregisterBroker included). */
bool controller_serves(i16 api_key);

/* ===== Events ===== */

/* broker.session.timeout.ms passed without a heartbeat: fence it, move its leaderships. */
void controller_decide_expire(const struct controller_decide_input *in,
                              struct controller_decision *out, i32 broker_id);
/* Moves every leadership to the preferred replica where it is eligible and in the ISR. */
void controller_decide_preferred(const struct controller_decide_input *in,
                                 struct controller_decision *out);
/* Settles every partition by the shared rules (leaderless partitions whose ISR has an eligible
 * member, leaders that may no longer lead, ISRs holding brokers that cannot be in them,
 * reassignments whose adding replicas have all joined). Run after each decision: it finishes
 * what a full decision had no room for and is a no-op on a settled image. */
void controller_decide_settle(const struct controller_decide_input *in,
                              struct controller_decision *out);

/* ===== Helpers the server half and the tests use ===== */

/* Whether broker id may lead or be in an ISR according to the image. */
bool controller_broker_eligible(const struct metadata_image *image, i32 id);
/* Whether the broker leads any partition. */
bool controller_broker_leads(const struct metadata_image *image, i32 id);
/* Kafka's legal topic names: [a-zA-Z0-9._-], 1..249 characters, not "." or "..". */
bool controller_topic_name_valid(struct proto_string name);

/* Rack-aware placement of `partitions` partitions of `replication` replicas over the eligible
 * brokers of image, starting at broker index `start` (CreateTopics derives it from the topic
 * id). out[p] is partition p's replicas, leader first. false when fewer eligible brokers than
 * replicas. Properties (tested): the replicas of a partition are distinct brokers on distinct
 * racks while racks remain; leaders are spread evenly (counts differ by at most one). */
bool controller_place(const struct metadata_image *image, u32 partitions, u32 replication,
                      u32 start, struct metadata_ids *out);

#endif
