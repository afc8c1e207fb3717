/* node.h: one broker process, the composition of every role it plays.
 *
 * A node owns the state of every subsystem it runs (today the KRaft-style metadata quorum;
 * later the partition logs, replication, groups and transactions) and dispatches the events its
 * io backend delivers to them. It is the same code in build/ksim (many nodes in one process,
 * each with a simulated io) and in build/kbroker (one node over the real runtime).
 *
 * Lifecycle: node_create() allocates everything from the config; the backend then calls the
 * handler's on_start (which recovers from disk and opens listeners). A crash is node_destroy()
 * without any shutdown: the memory is gone and the disk keeps what it kept.
 *
 * May depend on: base.h, io.h, config.h, the subsystems in impl/. */
#ifndef NODE_H
#define NODE_H

#include "config.h"
#include "io.h"

struct node;

/* Allocates a node bound to io. Returns NULL only if memory cannot be had. */
struct node *node_create(const struct node_config *config, struct io *io);
void node_destroy(struct node *node);

struct broker;
/* The node's broker, for what its host reports about it (kbroker's --metrics-file). */
struct broker *node_broker(struct node *node);

/* The handler the backend drives; its process argument is the struct node. */
extern const struct io_handler_vtable node_handler;

#endif
