/* sim.h: run one scenario with one seed, deterministically, and say what happened.
 *
 * sim_run() builds the simulated world (scheduler, network, disks, clocks), creates a node per
 * scenario node and a client per workload client (impl/ code over sim/io_sim.c), applies the
 * fault schedule, records the history, runs the checkers from model/ and fills a result. Same
 * scenario + same seed + same binary => the same trace hash, byte for byte.
 *
 * May depend on: impl/ (node, clients, io.h), model/ (history, checkers), sim/ internals. */
#ifndef SIM_H
#define SIM_H

#include "../impl/base.h"
#include "../impl/broker/broker_metrics.h"
#include "../model/history.h"
#include "scenario.h"

struct sim_options {
    u64 seed;
    const char *trace_path; /* Full trace, zstd-compressed; NULL: none. */
    bool verbose;           /* Print trace lines to stderr as they happen. */
};

struct sim_fault_stats {
    u32 fired[FAULT_KIND_COUNT];     /* How often each kind was applied. */
    u32 effective[FAULT_KIND_COUNT]; /* How often it changed something. */
    u64 messages_dropped;            /* Bytes or frames lost to cut links. */
    u64 connections_broken;
    u64 bytes_lost_to_crash;         /* Unsynced bytes dropped by crashes. */
    u64 writes_torn;
    u64 sectors_corrupted;
    u64 read_errors;
};

#define SIM_OUTCOMES_MAX 40u
/* Workload clients get ids SIM_CLIENT_ID_BASE + 1.. (producers first, then consumers), above
 * every node id; reports name them p1.., c1... */
#define SIM_CLIENT_ID_BASE 1000u

/* A node's broker metrics as the run left them (for the report; never part of the trace). */
struct sim_node_metrics {
    bool up;                       /* The node was running at the end; else metrics is zeros. */
    struct broker_metrics metrics; /* Since the node's last start. */
};

struct sim_result {
    u64 seed;
    u64 trace_hash;
    u64 events;            /* Scheduler events processed. */
    u64 simulated_ns;
    double wall_seconds;
    u64 peak_memory_bytes; /* Resident set high-water mark of the whole run. */
    struct sim_fault_stats faults;

    struct check_outcome outcomes[SIM_OUTCOMES_MAX];
    const char *outcome_names[SIM_OUTCOMES_MAX];
    u32 outcome_count;

    /* A run also fails when a scripted fault never took effect; said here. */
    char fault_failure[512];
    bool passed;

    struct history history; /* Owned; freed by sim_result_free. */
    struct sim_node_metrics *node_metrics; /* One per scenario node; owned, NULL if none. */
    u32 node_metrics_count;
};

/* Runs the scenario. Returns 0 when every check passed, 1 when one failed. Never returns on an
 * assertion failure (the process aborts, printing seed and virtual time). */
int sim_run(const struct scenario *scenario, const struct sim_options *options,
            struct sim_result *result);
void sim_result_free(struct sim_result *result);

#endif
