/* report.h: a run told in words a person can read.
 *
 * Two outputs from one (scenario, result): the summary ksim prints after a run (ends with the
 * line "trace-hash: <16 hex digits>"), and a report folder written by --report DIR:
 * DIR/<scenario>-seed<N>/ with report.md, history.tsv and timeline.dot (+ timeline.svg when
 * graphviz's dot is on PATH). reports/README.md explains how to read both.
 *
 * May depend on: sim/scenario.h, sim/sim.h, model/history.h, model/kafka_checkers.h,
 * impl/broker/broker_metrics.h and impl/protocol/errors_generated.h (names of apis and error
 * codes). Only the CLI calls it. */
#ifndef REPORT_H
#define REPORT_H

#include <stdio.h>

#include "../model/history.h"
#include "scenario.h"
#include "sim.h"

/* What the history says, counted once for the summary and the report. */
struct report_stats {
    u64 client_invoked;
    u64 client_ok;
    u64 client_failed;
    u64 client_unknown;
    u64 committed_length; /* Highest committed offset + 1 seen on any node. */
    u32 leader_changes;   /* HISTORY_QUORUM_ROLE events that made a node leader. */
    u32 restarts;         /* HISTORY_NODE_START events after a node's first start. */
    u32 fault_events;     /* HISTORY_FAULT events. */
};

void report_history_stats(const struct history *history, struct report_stats *stats);

/* "5s", "150ms", "1.250s", "300us": exact when short, otherwise milliseconds. */
void report_format_duration(u64 ns, char *text, u32 size);

/* "at 5s isolate leader": one fault as a sentence a scenario file would contain. */
void report_fault_describe(const struct scenario *scenario, const struct scenario_fault *fault,
                           char *text, u32 size);

/* The command that replays this run with a full trace. */
void report_replay_command(const char *program, const char *scenario_path, u64 seed, char *text,
                           u32 size);

/* Prints scenario, topology, speed, fault accounting, checks and, last, "trace-hash: ...".
 * report_path (may be NULL) is where --report wrote the report. */
void report_print_summary(FILE *out, const struct scenario *scenario,
                          const struct sim_result *result, const char *program,
                          const char *report_path);

/* Prints the topology and fault schedule of a parsed (maybe swarm-expanded) scenario. */
void report_print_scenario(FILE *out, const struct scenario *scenario);

/* Lists the fault schedule, one "at TIME fault target" line each, at most shown_max of them. */
void report_print_schedule(FILE *out, const struct scenario *scenario, u32 shown_max);

/* Writes the report folder under directory (created if missing). On success path receives the
 * folder's path; on failure error says what went wrong. */
WARN_UNUSED bool report_write(const char *directory, const struct scenario *scenario,
                              const struct sim_result *result, const char *program, char *path,
                              u32 path_size, char *error, u32 error_size);

#endif
