/* kbroker_main.c: the production broker, one node per process, like kafka-server-start.sh.
 *
 *   build/kbroker CONFIG.properties [--override key=value ...] [--log-level LEVEL]
 *                 [--metrics-file PATH [--metrics-interval-ms N]]
 *
 * Reads the properties file, parses it with config_parse (warnings printed, errors printed as
 * "CONFIG:LINE: message" and exit status 2), creates the data directory (log.dirs), builds the
 * node over the real I/O runtime and runs its event loop until SIGTERM/SIGINT, after which the
 * node's on_stop runs, queued sends are flushed (at most 2 s) and the process exits 0.
 * With --metrics-file, the broker's request metrics (broker_metrics_format: Prometheus text
 * exposition format) are written to PATH when the loop starts, every N ms (default 10000) and
 * once more after the stop, each time to PATH.tmp first and renamed over PATH, so a scraper
 * never reads half a file.
 *
 * Exit status: 0 after a graceful stop, 1 on a runtime failure (data directory, epoll, a
 * listener that cannot bind), 2 on a usage or configuration error. Tested by
 * tests/integration/kbroker_config.sh (errors, warnings, bind failure, SIGTERM) and
 * tests/integration/kbroker_cluster.sh (a 3-node cluster). */
#include "../broker/broker.h"
#include "../config.h"
#include "../node.h"
#include "io_real.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KBROKER_VERSION "0.1.0"
#define KBROKER_CONFIG_BYTES_MAX (1u << 20)
#define KBROKER_OVERRIDES_MAX 64u
#define KBROKER_METRICS_BYTES_MAX (1u << 20)
#define KBROKER_METRICS_INTERVAL_MS 10000u

struct kbroker_args {
    const char *config_path;
    const char *overrides[KBROKER_OVERRIDES_MAX];
    u32 override_count;
    enum io_log_level log_level;
    const char *metrics_path;   /* NULL: no metrics file. */
    u64 metrics_interval_ms;
};

static void kbroker_usage(FILE *out)
{
    fprintf(out,
            "usage: kbroker CONFIG.properties [--override key=value ...] [--log-level LEVEL]\n"
            "               [--metrics-file PATH [--metrics-interval-ms N]]\n"
            "       kbroker --help | --version\n"
            "\n"
            "Runs one Kafka-compatible broker/controller node (KRaft mode) configured by a Kafka\n"
            "server.properties file. --override sets a property on top of the file (repeatable).\n"
            "--log-level is debug, info (default), warn or error; debug also logs every\n"
            "replicated entry. --metrics-file writes the request metrics per Kafka API\n"
            "(Prometheus text format) to PATH every N ms (default 10000) and at the stop.\n"
            "SIGTERM or SIGINT stops the node gracefully (exit 0).\n"
            "Exit status: 0 stopped, 1 runtime failure, 2 usage or configuration error.\n");
}

static bool kbroker_level_parse(const char *text, enum io_log_level *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (u32 i = 0; i < ARRAY_LEN(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *level = (enum io_log_level)i;
            return true;
        }
    }
    return false;
}

/* Returns -1 to go on, or the exit status to end with. */
static int kbroker_args_parse(int argc, char **argv, struct kbroker_args *args)
{
    memset(args, 0, sizeof(*args));
    args->log_level = IO_LOG_INFO;
    args->metrics_interval_ms = KBROKER_METRICS_INTERVAL_MS;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            kbroker_usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("kbroker %s\n", KBROKER_VERSION);
            return 0;
        }
        const char *value = NULL;
        if (strncmp(arg, "--override=", 11) == 0) value = arg + 11;
        if (strcmp(arg, "--override") == 0 && i + 1 < argc) value = argv[++i];
        if (value != NULL) {
            if (args->override_count == KBROKER_OVERRIDES_MAX) {
                fprintf(stderr, "kbroker: more than %u overrides\n", KBROKER_OVERRIDES_MAX);
                return 2;
            }
            args->overrides[args->override_count++] = value;
            continue;
        }
        if (strcmp(arg, "--metrics-file") == 0 && i + 1 < argc) {
            args->metrics_path = argv[++i];
            continue;
        }
        if (strcmp(arg, "--metrics-interval-ms") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            unsigned long long interval = strtoull(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || interval == 0 ||
                interval > 86400000ull) {
                fprintf(stderr, "kbroker: --metrics-interval-ms wants 1..86400000, not '%s'\n",
                        argv[i]);
                return 2;
            }
            args->metrics_interval_ms = interval;
            continue;
        }
        if (strcmp(arg, "--log-level") == 0 && i + 1 < argc) {
            if (!kbroker_level_parse(argv[++i], &args->log_level)) {
                fprintf(stderr, "kbroker: unknown log level '%s'\n", argv[i]);
                return 2;
            }
            continue;
        }
        if (arg[0] == '-' || args->config_path != NULL) {
            fprintf(stderr, "kbroker: unexpected argument '%s'\n", arg);
            kbroker_usage(stderr);
            return 2;
        }
        args->config_path = arg;
    }
    if (args->config_path == NULL) {
        kbroker_usage(stderr);
        return 2;
    }
    return -1;
}

/* Reads the whole file into a malloc'd buffer. NULL (with a message printed) on failure. */
static char *kbroker_file_read(const char *path, u32 *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "kbroker: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(KBROKER_CONFIG_BYTES_MAX + 1);
    size_t got = text != NULL ? fread(text, 1, KBROKER_CONFIG_BYTES_MAX + 1, file) : 0;
    bool failed = text == NULL || ferror(file);
    fclose(file);
    if (failed || got > KBROKER_CONFIG_BYTES_MAX) {
        fprintf(stderr, "kbroker: cannot read %s: %s\n", path,
                failed ? "read error" : "larger than 1 MiB");
        free(text);
        return NULL;
    }
    text[got] = '\0';
    *size = (u32)got;
    return text;
}

/* Prints the diagnostics the way a compiler does; returns true when there was no error. */
static bool kbroker_config_load(const struct kbroker_args *args, struct node_config *config)
{
    u32 size = 0;
    char *text = kbroker_file_read(args->config_path, &size);
    if (text == NULL) return false;
    static struct config_diagnostics diagnostics;
    bool ok = config_parse(text, size, args->overrides, args->override_count, config,
                           &diagnostics);
    free(text);
    for (u32 i = 0; i < diagnostics.count; i++) {
        const struct config_diagnostic *d = &diagnostics.items[i];
        const char *kind = d->severity == CONFIG_ERROR ? "" : "warning: ";
        if (d->line > 0) {
            fprintf(stderr, "%s:%u: %s%s\n", args->config_path, d->line, kind, d->message);
        } else {
            fprintf(stderr, "%s: %s%s\n", args->config_path, kind, d->message);
        }
    }
    if (diagnostics.error_count > diagnostics.count) {
        fprintf(stderr, "%s: ... and %u more errors\n", args->config_path,
                diagnostics.error_count - diagnostics.count);
    }
    return ok;
}

/* mkdir -p: the data directory and its parents. Returns false with a message on failure. */
static bool kbroker_mkdirs(const char *path)
{
    char partial[CONFIG_PATH_MAX];
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof(partial)) return false;
    for (size_t i = 1; i <= length; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        memcpy(partial, path, i);
        partial[i] = '\0';
        if (mkdir(partial, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "kbroker: cannot create %s: %s\n", partial, strerror(errno));
            return false;
        }
    }
    return true;
}

/* Writes the broker's metrics to path through path.tmp and a rename; false with a message on
 * failure (the broker runs on: metrics are not worth stopping it for). */
static bool kbroker_metrics_write(struct node *node, const char *path, char *text)
{
    u32 size = broker_metrics_format(node_broker(node), text, KBROKER_METRICS_BYTES_MAX);
    if (size == 0) {
        fprintf(stderr, "kbroker: metrics larger than %u bytes\n", KBROKER_METRICS_BYTES_MAX);
        return false;
    }
    char temporary[CONFIG_PATH_MAX + 8];
    int length = snprintf(temporary, sizeof(temporary), "%s.tmp", path);
    if (length < 0 || (size_t)length >= sizeof(temporary)) {
        fprintf(stderr, "kbroker: metrics path too long: %s\n", path);
        return false;
    }
    FILE *file = fopen(temporary, "wb");
    bool ok = file != NULL && fwrite(text, 1, size, file) == size;
    if (file != NULL && fclose(file) != 0) ok = false;
    if (ok && rename(temporary, path) != 0) ok = false;
    if (!ok) fprintf(stderr, "kbroker: cannot write %s: %s\n", path, strerror(errno));
    return ok;
}

static u64 kbroker_monotonic_ms(void)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return 0;
    return (u64)now.tv_sec * 1000u + (u64)now.tv_nsec / 1000000u;
}

/* io_real_run's loop, with the metrics file written between iterations. */
static int kbroker_loop(struct io_real *real, struct node *node, const struct kbroker_args *args)
{
    if (args->metrics_path == NULL) return io_real_run(real);
    char *text = malloc(KBROKER_METRICS_BYTES_MAX);
    if (text == NULL) {
        fprintf(stderr, "kbroker: out of memory for the metrics\n");
        return 1;
    }
    node_handler.on_start(node);
    (void)kbroker_metrics_write(node, args->metrics_path, text);
    u64 next_ms = kbroker_monotonic_ms() + args->metrics_interval_ms;
    while (!io_real_finished(real)) {
        u64 now_ms = kbroker_monotonic_ms();
        if (now_ms >= next_ms) {
            (void)kbroker_metrics_write(node, args->metrics_path, text);
            next_ms = now_ms + args->metrics_interval_ms;
            continue;
        }
        io_real_run_once(real, MIN(next_ms - now_ms, 1000u));
    }
    (void)kbroker_metrics_write(node, args->metrics_path, text);
    free(text);
    return io_real_failed(real) ? 1 : 0;
}

static int kbroker_run(const struct node_config *config, const struct kbroker_args *args)
{
    if (!kbroker_mkdirs(config->log_dir)) return 1;
    struct io_real_options options = {
        .data_dir = config->log_dir,
        .node_id = config->node_id,
        .log_level = args->log_level,
        .handle_signals = true,
        .listen_failure_fatal = true,
    };
    char error[256];
    struct io_real *real = io_real_create(&options, error, sizeof(error));
    if (real == NULL) {
        fprintf(stderr, "kbroker: %s\n", error);
        return 1;
    }
    struct io *io = io_real_io(real);
    io_log(io, IO_LOG_INFO, "kbroker %s starting: node.id=%u roles=%s%s log.dirs=%s",
           KBROKER_VERSION, config->node_id,
           (config->roles & CONFIG_ROLE_BROKER) ? "broker" : "",
           (config->roles & CONFIG_ROLE_CONTROLLER)
               ? ((config->roles & CONFIG_ROLE_BROKER) ? ",controller" : "controller")
               : "",
           config->log_dir);
    struct node *node = node_create(config, io);
    if (node == NULL) {
        fprintf(stderr, "kbroker: out of memory creating the node\n");
        io_real_destroy(real);
        return 1;
    }
    io_real_bind(real, &node_handler, node);
    int status = kbroker_loop(real, node, args);
    io_log(io, IO_LOG_INFO, "kbroker stopped");
    node_destroy(node);
    io_real_destroy(real);
    return status;
}

int main(int argc, char **argv)
{
    struct kbroker_args args;
    int status = kbroker_args_parse(argc, argv, &args);
    if (status >= 0) return status;
    static struct node_config config;
    if (!kbroker_config_load(&args, &config)) return 2;
    return kbroker_run(&config, &args);
}
