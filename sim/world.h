/* world.h: the simulated world, a lower-level API under sim_run().
 *
 * A world holds the scheduler, the network, one disk and one clock per process, the trace and
 * the fault controls. Unit tests use it directly with small test processes; sim_run() (sim.c)
 * builds a world from a scenario with broker nodes and workload clients.
 *
 * A process is described by a handler (struct io_handler_vtable) and a factory: create() builds
 * the process's memory over its io at every (re)start, destroy() drops it at a crash or at the
 * end. What survives a crash is the disk, nothing else.
 *
 * Process indexes are dense, in the order processes were added; sim_run() adds the scenario's
 * nodes first, so node index i in the scenario is process index i here.
 *
 * May depend on: impl/io.h, model/history.h (event struct only), sim/scenario.h, sim/ modules. */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include "../impl/io.h"
#include "../model/history.h"
#include "clock.h"
#include "disk.h"
#include "net.h"
#include "prng.h"
#include "scenario.h"
#include "sched.h"
#include "trace.h"

#define WORLD_PROCESSES_MAX 256u
#define WORLD_LISTENERS_MAX 8u

struct world_process_spec {
    const char *name; /* Host name on the network ("n1", "c1"). */
    u32 datacenter;   /* Index into scenario->datacenters. */
    u32 id;           /* io.node_id and the node field of history events. */
    const struct io_handler_vtable *handler;
    void *(*create)(void *factory, struct io *io); /* NULL result: out of memory (fatal). */
    void (*destroy)(void *factory, void *process);
    void *factory;
    u64 start_ns; /* First start; later starts happen on world_restart. */
};

struct world_listener {
    u16 port;
    u64 tag;
    u32 frame_size_max;
};

struct world_file_handle {
    u32 file; /* Disk slot. */
    bool open;
};

struct world_disk_op; /* In-flight file operation (io_sim.c). */

struct world_process {
    struct world *world;
    u32 index;
    char name[SCENARIO_NAME_MAX];
    u32 datacenter;
    u32 id;
    const struct io_handler_vtable *handler;
    void *(*create)(void *factory, struct io *io);
    void (*destroy)(void *factory, void *process);
    void *factory;

    void *instance; /* The process's memory, NULL while crashed. */
    struct io io;
    u32 incarnation; /* Bumped at every crash and restart: older events are stale. */
    bool alive;
    bool paused;
    u32 starts;

    u32 timer_generation[IO_TIMERS_MAX];
    bool timer_armed[IO_TIMERS_MAX];

    struct sched_event *deferred; /* Events due while paused, in due order. */
    u32 deferred_count;
    u32 deferred_capacity;
    u64 deferred_total; /* For fault accounting: did a pause hold anything back? */

    struct world_listener listeners[WORLD_LISTENERS_MAX];
    u32 listener_count;
    u32 *conn_of_handle; /* io_conn handle - 1 -> network conn id; handles never reused. */
    u32 conn_handle_count;
    u32 conn_handle_capacity;

    struct disk disk;
    struct world_file_handle *files; /* io_file handle - 1 -> slot; never reused. */
    u32 file_handle_count;
    u32 file_handle_capacity;
    struct world_disk_op *ops; /* In flight, doubly linked, freed by a crash. */
    u32 read_errors_pending;
    u32 disk_slow_multiplier; /* 1 = normal. */
    u64 disk_ops_slowed;

    struct sim_clock clock;
    struct prng random;
    struct prng buggify;
    struct prng disk_prng;
};

struct world_stats {
    u64 messages_stalled; /* Chunks of data (or handshakes) held by a cut link. */
    u64 connections_broken;
    u64 read_errors;
};

typedef void (*world_observer)(void *context, const struct history_event *event, const u8 *data);

struct world {
    const struct scenario *scenario; /* Latencies, timeouts: must outlive the world. */
    u64 seed;
    struct sched sched;
    struct trace trace;
    struct prng net_prng;
    struct prng disk_prng;
    struct prng fault_prng;
    bool buggify;

    struct world_process *processes[WORLD_PROCESSES_MAX];
    u32 process_count;
    const char *process_names[WORLD_PROCESSES_MAX];
    struct world_process *running; /* The process whose handler runs now, or NULL. */

    u8 cut[WORLD_PROCESSES_MAX][WORLD_PROCESSES_MAX]; /* cut[from][to] != 0: link is down. */
    u32 cut_count;

    struct net net;
    struct world_stats stats;

    world_observer observer;
    void *observer_context;
};

/* Event kinds understood by world_dispatch. Process events are held while their process is
 * paused and dropped when their incarnation is gone; network events are the wire itself. */
enum world_event_kind {
    WORLD_EVENT_START = 1,
    WORLD_EVENT_TIMER,  /* aux=timer id, a=generation */
    WORLD_EVENT_DISK,   /* a=struct world_disk_op * */
    WORLD_EVENT_CONN,   /* a=conn id, aux=side, b=event | reason << 8 */
    WORLD_EVENT_FRAMES, /* a=conn id, aux=side */
    WORLD_EVENT_PROCESS_LAST = WORLD_EVENT_FRAMES,
    WORLD_EVENT_NET_SYN,            /* a=conn id */
    WORLD_EVENT_NET_ARRIVE,         /* a=conn id, aux=direction, b=generation */
    WORLD_EVENT_NET_STALL_TIMEOUT,  /* a=conn id, aux=direction, b=stall generation */
    WORLD_EVENT_NET_CONNECT_TIMEOUT /* a=conn id */
};

struct world *world_create(const struct scenario *scenario, u64 seed);
void world_destroy(struct world *world);

u32 world_process_add(struct world *world, const struct world_process_spec *spec);
/* The process with this host name, or -1. */
i32 world_process_find(const struct world *world, const char *name);
void world_set_observer(struct world *world, world_observer observer, void *context);
void world_set_buggify(struct world *world, bool enabled);

/* Processes every event due at or before time_ns, then sets virtual time to time_ns. */
void world_run_until(struct world *world, u64 time_ns);
static inline u64 world_now_ns(const struct world *world) { return world->sched.now_ns; }

/* ----- Faults. Each returns whether it changed anything at once. ----- */
bool world_crash(struct world *world, u32 process);
bool world_restart(struct world *world, u32 process);
bool world_pause(struct world *world, u32 process);
bool world_resume(struct world *world, u32 process);
bool world_link_set(struct world *world, u32 from, u32 to, bool cut);
bool world_isolate(struct world *world, u32 process);
/* Cuts a->b for every a in side_a and b in side_b (and b->a unless one_way). */
bool world_partition(struct world *world, const struct node_set *side_a,
                     const struct node_set *side_b, bool one_way);
bool world_heal_network(struct world *world);
bool world_clock_jump(struct world *world, u32 process, i64 amount_ns);
bool world_clock_drift(struct world *world, u32 process, i64 drift_ppm);
u32 world_disk_corrupt(struct world *world, u32 process, u32 sectors);
bool world_disk_read_errors(struct world *world, u32 process, u32 count);
bool world_disk_slow(struct world *world, u32 process, u32 multiplier);

/* Sums of the network and disk fault counters over all processes. */
void world_fault_counters(const struct world *world, struct world_stats *stats,
                          struct disk_stats *disk);

/* ----- Used by io_sim.c and net.c ----- */
void world_push(struct world *world, u64 time_ns, u32 kind, u32 process, u32 aux, u64 a, u64 b);
void world_trace(struct world *world, u32 kind, u32 process, u64 a, u64 b, u64 c,
                 const char *text);
extern const struct io_vtable io_sim_vtable;
void io_sim_on_disk_event(struct world_process *process, const struct sched_event *event);
void io_sim_crash_disk(struct world_process *process);

#endif
