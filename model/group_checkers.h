/* group_checkers.h: the checkers of consumer groups (model/group_checkers.c), as entries of the
 * one checker table model_checkers[] (defined in quorum_checkers.c, which appends
 * GROUP_CHECKER_ENTRIES to its own).
 *
 * They judge what group members report (HISTORY_GROUP_*, with their HISTORY_KAFKA_READs), the
 * producers' acknowledgements, and the brokers' crashes and configuration.
 *
 * May depend on: history.h, kafka_checkers.h (the losses a configuration allows). */
#ifndef GROUP_CHECKERS_H
#define GROUP_CHECKERS_H

#include "history.h"

void group_check_single_owner(const struct history *history, const struct check_params *params,
                              struct check_outcome *outcome);
void group_check_fenced_commits(const struct history *history, const struct check_params *params,
                                struct check_outcome *outcome);
void group_check_commit_durable(const struct history *history, const struct check_params *params,
                                struct check_outcome *outcome);
void group_check_at_least_once(const struct history *history, const struct check_params *params,
                               struct check_outcome *outcome);
void group_check_no_skip(const struct history *history, const struct check_params *params,
                         struct check_outcome *outcome);
void group_check_no_rebalance(const struct history *history, const struct check_params *params,
                              struct check_outcome *outcome);

#define GROUP_CHECKER_ENTRIES                                                                 \
    {"group-single-owner", "In one generation no partition is assigned to two members.",     \
     group_check_single_owner},                                                               \
    {"group-fenced-commits", "No offset commit of an older generation is acknowledged once "   \
     "a newer generation was assigned (the coordinator fences it), unless a loss the "          \
     "configuration allows took the newer generation's record.", group_check_fenced_commits}, \
    {"group-commit-durable", "An offset fetch sent after a commit was acknowledged returns "   \
     "at least that offset, unless a commit that may have landed later explains it or a "       \
     "labelled loss took it.", group_check_commit_durable},                                   \
    {"group-at-least-once", "Every acknowledged record is read by some group member by the "   \
     "end, and within the liveness bound the group settles on a generation that assigns "      \
     "every partition.", group_check_at_least_once},                                          \
    {"group-no-skip", "A member reads each partition without gaps from where it started, "     \
     "commits no offset beyond what it has read, and starts only at offsets some member "      \
     "reached.", group_check_no_skip},                                                        \
    {"group-no-rebalance", "Once every member has joined one generation the group never "     \
     "rebalances again (static members restarting within their session timeout, KIP-345).",  \
     group_check_no_rebalance}

#endif
