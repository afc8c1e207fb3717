/* controller.h: the active controller: every decision about brokers, topics, partition
 * leaders and ISR, written as metadata records (impl/metadata) to the metadata log.
 *
 * Every node with process.roles containing "controller" has one; it is ACTIVE while its quorum
 * is the leader and its own leader-change record has been applied (so its image holds every
 * earlier decision). Requests arrive Kafka-framed on the controller listener (node.c routes
 * every api key that is not one of the quorum's there): BrokerRegistration (62),
 * BrokerHeartbeat (63), AlterPartition (56), CreateTopics (19), DeleteTopics (20),
 * CreatePartitions (37), ElectLeaders (43), IncrementalAlterConfigs (44, topic resources),
 * AlterPartitionReassignments (45), ListPartitionReassignments (46), UnregisterBroker (64).
 * Brokers forward their clients' admin requests here unchanged (only the correlation id is
 * theirs), so every version a broker advertises is accepted. An inactive controller answers
 * NOT_CONTROLLER. Answers may leave out of request order (a heartbeat is answered at once, a
 * registration once its record commits): callers match them by correlation id.
 *
 * One decision at a time: a decision is computed from the committed image, proposed as one
 * entry (quorum_propose), and its answer is held until that entry is applied in the same
 * epoch; requests that arrive meanwhile wait in a bounded queue. Losing leadership answers
 * every held and queued request NOT_CONTROLLER.
 *
 * Decisions: registration (fenced until its heartbeat shows it has caught up to its own
 * registration record, then UnfenceBroker), heartbeats (session timeout
 * broker.session.timeout.ms fences, and elects new leaders for the partitions it led; a
 * restarted active controller first grants every broker a full session), controlled shutdown
 * (want_shut_down: in_controlled_shutdown, leadership moved to other ISR members, the broker
 * left out of ISRs where others remain, should_shut_down once it leads nothing), topic creation
 * with rack-aware placement (replicas of a partition on distinct racks while racks remain,
 * leaders spread), deletion, partition count increase, AlterPartition (leader epoch and
 * partition epoch fencing, ISR members must be live replicas), leader election from the ISR
 * only unless unclean.leader.election.enable (per topic or broker) allows an out-of-sync
 * replica, preferred leader election (ElectLeaders and, with auto.leader.rebalance.enable,
 * periodically), and reassignment (adding/removing replicas, completed when the adding
 * replicas are in the ISR).
 *
 * May depend on: base.h, io.h, config.h, metadata/, protocol/, quorum/quorum.h. */
#ifndef CONTROLLER_H
#define CONTROLLER_H

#include "../config.h"
#include "../io.h"
#include "../metadata/metadata.h"

#define CONTROLLER_TIMERS 4u

struct quorum;
struct controller;

/* image is the node's, which the node updates before calling controller_on_applied. */
struct controller *controller_create(const struct node_config *config, struct io *io,
                                     struct quorum *quorum, const struct metadata_image *image,
                                     u32 timer_base);
void controller_destroy(struct controller *controller);

/* The node applied the committed entry at offset (epoch: the entry's epoch; control: a quorum
 * control record such as a leader change). */
void controller_on_applied(struct controller *controller, i64 offset, i32 epoch, bool control);
/* The quorum's role or epoch may have changed (the node calls this after every quorum event). */
void controller_on_quorum_change(struct controller *controller);
void controller_on_timer(struct controller *controller, u32 timer_id);
/* A Kafka request frame on the controller listener. false: malformed, close the connection. */
WARN_UNUSED bool controller_on_request(struct controller *controller, io_conn conn,
                                       const u8 *frame, u32 size);
void controller_conn_closed(struct controller *controller, io_conn conn);
bool controller_active(const struct controller *controller);

#endif
