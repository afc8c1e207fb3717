/* quorum_client_tool.c: the quorum client state machine (impl/quorum/client.h) over real TCP.
 *
 *   build/quorum_client_tool --endpoints HOST:PORT,... [--operations N | --duration-ms D]
 *                            [--client-id ID] [--value-size B] [--timeout-ms T]
 *                            [--interval-ms I] [--deadline-ms L] [--quiet]
 *
 * Runs the same client the simulator runs, against kbroker processes (their client listeners),
 * prints one line per outcome ("ok op=3 offset=17", "fail op=4 error=6", "unknown op=5
 * error=7") and a final summary line:
 *
 *   summary invoked=N succeeded=S failed=F unknown=U
 *
 * Exit status: with --operations N, 0 when all N operations succeeded; with --duration-ms D,
 * 0 when at least one operation succeeded and none failed or ended unknown (an operation still
 * in flight when the time is up is not counted); 1 otherwise, including when --deadline-ms
 * (default 60000) passes first; 2 on a usage error. Used by tests/integration/kbroker_cluster.sh.
 */
#include "../../model/history.h"
#include "../quorum/client.h"
#include "io_real.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tool_args {
    struct quorum_client_config client;
    u64 duration_ms; /* 0: run --operations to completion. */
    u64 deadline_ms;
    bool quiet;
};

struct tool {
    struct io_real *real;
    struct quorum_client *client;
    struct tool_args args;
    bool done;
};

static void tool_usage(FILE *out)
{
    fprintf(out,
            "usage: quorum_client_tool --endpoints HOST:PORT,... [--operations N | "
            "--duration-ms D]\n"
            "       [--client-id ID] [--value-size B] [--timeout-ms T] [--interval-ms I]\n"
            "       [--deadline-ms L] [--quiet]\n"
            "Appends values to the kbroker metadata quorum through the nodes' client listeners.\n"
            "Exit 0: --operations N all succeeded, or (--duration-ms) some succeeded and none\n"
            "failed or ended unknown. Exit 1 otherwise or when --deadline-ms (60000) passes.\n");
}

static bool tool_number(const char *text, u64 *value)
{
    char *end = NULL;
    if (text == NULL || text[0] < '0' || text[0] > '9') return false;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (end == NULL || *end != '\0') return false;
    *value = parsed;
    return true;
}

static bool tool_endpoints(const char *text, struct quorum_client_config *client)
{
    client->endpoint_count = 0;
    const char *cursor = text;
    for (u32 guard = 0; guard < CONFIG_VOTERS_MAX; guard++) {
        const char *comma = strchr(cursor, ',');
        size_t length = comma != NULL ? (size_t)(comma - cursor) : strlen(cursor);
        if (length == 0 || length >= CONFIG_ENDPOINT_MAX) return false;
        memcpy(client->endpoints[client->endpoint_count], cursor, length);
        client->endpoints[client->endpoint_count][length] = '\0';
        client->endpoint_count++;
        if (comma == NULL) return true;
        cursor = comma + 1;
    }
    return false;
}

/* Returns -1 to go on, or an exit status. */
static int tool_args_parse(int argc, char **argv, struct tool_args *args)
{
    memset(args, 0, sizeof(*args));
    args->client.client_id = 1;
    args->client.value_size = 64;
    args->client.request_timeout_ns = 2000 * NS_PER_MS;
    args->client.operations_max = 100;
    args->deadline_ms = 60000;
    u64 value = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        bool number = tool_number(next, &value);
        if (strcmp(arg, "--help") == 0) { tool_usage(stdout); return 0; }
        if (strcmp(arg, "--quiet") == 0) { args->quiet = true; continue; }
        if (strcmp(arg, "--endpoints") == 0 && next != NULL) {
            if (!tool_endpoints(next, &args->client)) {
                fprintf(stderr, "quorum_client_tool: bad --endpoints '%s'\n", next);
                return 2;
            }
        } else if (strcmp(arg, "--operations") == 0 && number && value > 0) {
            args->client.operations_max = value;
        } else if (strcmp(arg, "--duration-ms") == 0 && number && value > 0) {
            args->duration_ms = value;
            args->client.operations_max = 0;
        } else if (strcmp(arg, "--client-id") == 0 && number && value <= UINT32_MAX) {
            args->client.client_id = (u32)value;
        } else if (strcmp(arg, "--value-size") == 0 && number && value >= 16 && value <= 65536) {
            args->client.value_size = (u32)value;
        } else if (strcmp(arg, "--timeout-ms") == 0 && number && value > 0) {
            args->client.request_timeout_ns = value * NS_PER_MS;
        } else if (strcmp(arg, "--interval-ms") == 0 && number) {
            args->client.interval_ns = value * NS_PER_MS;
        } else if (strcmp(arg, "--deadline-ms") == 0 && number && value > 0) {
            args->deadline_ms = value;
        } else {
            fprintf(stderr, "quorum_client_tool: bad argument '%s'\n", arg);
            tool_usage(stderr);
            return 2;
        }
        i++;
    }
    if (args->client.endpoint_count == 0) { tool_usage(stderr); return 2; }
    return -1;
}

/* Prints each outcome as it is reported to the history. */
static void tool_observer(void *context, const struct io_observation *observation)
{
    struct tool *tool = context;
    if (tool->args.quiet) return;
    switch (observation->kind) {
    case HISTORY_CLIENT_OK:
        printf("ok op=%llu offset=%llu\n", (unsigned long long)observation->a,
               (unsigned long long)observation->b);
        break;
    case HISTORY_CLIENT_FAIL:
        printf("fail op=%llu error=%llu\n", (unsigned long long)observation->a,
               (unsigned long long)observation->b);
        break;
    case HISTORY_CLIENT_UNKNOWN:
        printf("unknown op=%llu error=%llu\n", (unsigned long long)observation->a,
               (unsigned long long)observation->b);
        break;
    default: return;
    }
    fflush(stdout);
}

static int tool_run(struct tool *tool)
{
    const struct io_handler_vtable *handler = &quorum_client_handler;
    io_real_bind(tool->real, handler, tool->client);
    struct io *io = io_real_io(tool->real);
    u64 start = io_now_ns(io);
    handler->on_start(tool->client);
    struct quorum_client_stats stats;
    bool in_time = true;
    for (;;) { /* Bounded by the deadline below. */
        io_real_run_once(tool->real, 50);
        quorum_client_stats(tool->client, &stats);
        u64 completed = stats.succeeded + stats.failed + stats.unknown;
        u64 elapsed_ms = (io_now_ns(io) - start) / NS_PER_MS;
        if (tool->args.duration_ms == 0 && completed >= tool->args.client.operations_max) break;
        if (tool->args.duration_ms > 0 && elapsed_ms >= tool->args.duration_ms) break;
        if (elapsed_ms >= tool->args.deadline_ms || io_real_finished(tool->real)) {
            in_time = false;
            break;
        }
    }
    printf("summary invoked=%llu succeeded=%llu failed=%llu unknown=%llu%s\n",
           (unsigned long long)stats.invoked, (unsigned long long)stats.succeeded,
           (unsigned long long)stats.failed, (unsigned long long)stats.unknown,
           in_time ? "" : " (deadline passed)");
    if (!in_time) return 1;
    if (tool->args.duration_ms == 0) {
        return stats.succeeded == tool->args.client.operations_max ? 0 : 1;
    }
    return stats.succeeded > 0 && stats.failed == 0 && stats.unknown == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static struct tool tool;
    int status = tool_args_parse(argc, argv, &tool.args);
    if (status >= 0) return status;
    struct io_real_options options = {
        .data_dir = ".",
        .node_id = tool.args.client.client_id,
        .log_level = IO_LOG_WARN,
        .observer = tool_observer,
        .observer_context = &tool,
    };
    char error[256];
    tool.real = io_real_create(&options, error, sizeof(error));
    if (tool.real == NULL) {
        fprintf(stderr, "quorum_client_tool: %s\n", error);
        return 1;
    }
    tool.client = quorum_client_create(&tool.args.client, io_real_io(tool.real));
    if (tool.client == NULL) {
        fprintf(stderr, "quorum_client_tool: cannot create the client\n");
        io_real_destroy(tool.real);
        return 1;
    }
    status = tool_run(&tool);
    quorum_client_destroy(tool.client);
    io_real_destroy(tool.real);
    return status;
}
