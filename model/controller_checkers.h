/* controller_checkers.h: the checkers of the active controller's decisions
 * (model/controller_checkers.c), as entries of the one checker table model_checkers[] (defined
 * in quorum_checkers.c, which appends CONTROLLER_CHECKER_ENTRIES to its own).
 *
 * They judge the HISTORY_METADATA_* facts every node reports as it applies committed metadata
 * (partition states, broker registrations, topic removals, unclean-election overrides).
 *
 * May depend on: history.h. */
#ifndef CONTROLLER_CHECKERS_H
#define CONTROLLER_CHECKERS_H

#include "history.h"

void controller_check_leader_epochs(const struct history *history,
                                    const struct check_params *params,
                                    struct check_outcome *outcome);
void controller_check_clean_election(const struct history *history,
                                     const struct check_params *params,
                                     struct check_outcome *outcome);
void controller_check_no_fenced_leader(const struct history *history,
                                       const struct check_params *params,
                                       struct check_outcome *outcome);
void controller_check_converges(const struct history *history, const struct check_params *params,
                                struct check_outcome *outcome);

#define CONTROLLER_CHECKER_ENTRIES                                                            \
    {"controller-leader-epochs", "Per partition, leader and partition epochs only grow, every "  \
     "node applies the same partition states, one leader per leader epoch, and a leader is in " \
     "its ISR.", controller_check_leader_epochs},                                             \
    {"controller-clean-election", "A newly elected leader was in the ISR of the partition "     \
     "state before (unless unclean.leader.election.enable).",                                 \
     controller_check_clean_election},                                                        \
    {"controller-no-fenced-leader", "No fenced or unregistered broker is elected leader, and "  \
     "after every metadata entry a fenced broker leads nothing.",                             \
     controller_check_no_fenced_leader},                                                      \
    {"controller-converges", "After the faults heal, within the liveness bound every live "     \
     "broker is registered and unfenced in every live node's image, and every partition with " \
     "a live replica has a live leader; and so it stays to the end.",                         \
     controller_check_converges}

#endif
