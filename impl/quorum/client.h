/* client.h: a client of the metadata quorum that appends values to the replicated log.
 *
 * The first workload of the spine: it finds the leader (following NOT_LEADER hints and
 * retrying other nodes), appends values one at a time, and reports each operation to the
 * history (HISTORY_CLIENT_INVOKE, then OK with the committed offset, FAIL, or UNKNOWN on a
 * timeout or lost connection). The same code runs as a simulated client in ksim and as a real
 * client against kbroker processes (tests/integration).
 *
 * May depend on: base.h, io.h, model/history.h, quorum wire format. */
#ifndef QUORUM_CLIENT_H
#define QUORUM_CLIENT_H

#include "../config.h"
#include "../io.h"

struct quorum_client_config {
    u32 client_id;
    char endpoints[CONFIG_VOTERS_MAX][CONFIG_ENDPOINT_MAX]; /* Client listeners of the nodes. */
    u32 endpoint_count;
    u64 interval_ns;        /* Think time between operations. */
    u32 value_size;         /* Bytes per appended value (>= 16). */
    u64 request_timeout_ns; /* Unanswered for this long: outcome unknown, try elsewhere. */
    u64 operations_max;     /* Stop after this many operations; 0 = no limit. */
};

struct quorum_client;

struct quorum_client *quorum_client_create(const struct quorum_client_config *config,
                                           struct io *io);
void quorum_client_destroy(struct quorum_client *client);

/* Counters, for tests and the real client tool. */
struct quorum_client_stats {
    u64 invoked;
    u64 succeeded;
    u64 failed;
    u64 unknown;
};
void quorum_client_stats(const struct quorum_client *client, struct quorum_client_stats *stats);

extern const struct io_handler_vtable quorum_client_handler;

#endif
