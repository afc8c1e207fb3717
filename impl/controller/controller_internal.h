/* controller_internal.h: the seam between the controller and its quorum, for tests.
 *
 * The controller reaches the quorum through two calls only (propose an entry, read the role
 * and epoch). By default they are quorum_propose and quorum_status on the quorum given to
 * controller_create; a unit test replaces them with a fake quorum so that it can decide when
 * an entry commits, or that leadership is lost, without running Raft.
 *
 * May depend on: base.h, quorum/quorum.h. */
#ifndef CONTROLLER_INTERNAL_H
#define CONTROLLER_INTERNAL_H

#include "../quorum/quorum.h"

struct controller;

struct controller_quorum_ops {
    void *context;
    i64 (*propose)(void *context, const u8 *payload, u32 size);
    void (*status)(void *context, struct quorum_status *status);
};

void controller_set_quorum_ops(struct controller *controller,
                               const struct controller_quorum_ops *ops);

#endif
