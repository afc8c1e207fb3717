/* ksim_main.c: the ksim command line that people, scripts and CI drive the simulator with.
 *
 *   ksim run SCENARIO [--seed N] [--trace FILE] [--report DIR] [--verbose]
 *   ksim sweep SCENARIO --seeds A..B [--jobs N] [--timeout SECONDS]
 *   ksim show SCENARIO [--seed N]     (the parsed scenario and its fault schedule, no run)
 *   ksim checks                       (the checkers a scenario may name)
 *
 * Exit codes are a contract: 0 when every check passed, 1 when a check failed (or a scripted
 * fault never took effect, or a sweep had a failing seed), 2 on bad input (unknown option,
 * missing file, a scenario error printed as file:line:column). The last line of `run` is exactly
 * "trace-hash: <16 hex digits>"; the last line of `sweep` is exactly "N passed, M failed".
 *
 * A sweep forks one child per seed, at most --jobs at a time. Each child runs one seed and
 * writes one line ("PASS <hash>" or "FAIL <hash> <check>: <message>") to a pipe that also
 * carries its stdout and stderr, so an assertion message from a child that aborted is kept. A
 * child killed by a signal counts as a failed seed, and its signal is printed; so does a child
 * still running after --timeout seconds (it is killed), so that a livelock cannot hang CI.
 * Failures are listed sorted by seed, whatever order the children finished in.
 *
 * Tested by tests/sim/cli.sh (exit codes, the last lines, errors, reports, sweeps). */
#include "../impl/base.h"
#include "../model/history.h"
#include "report.h"
#include "scenario.h"
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSIM_JOBS_MAX 64u
#define KSIM_SWEEP_SEEDS_MAX 100000000ull
#define KSIM_CHILD_OUTPUT_MAX 2048u
#define KSIM_SEED_TIMEOUT_S 600u /* Wall seconds one seed of a sweep may take. */

enum exit_code {
    EXIT_PASS = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
};

static const char usage_main[] =
    "ksim: the deterministic cluster simulator.\n"
    "\n"
    "usage:\n"
    "  ksim run SCENARIO [--seed N] [--trace FILE] [--report DIR] [--verbose]\n"
    "  ksim sweep SCENARIO --seeds A..B [--jobs N] [--timeout SECONDS]\n"
    "  ksim show SCENARIO [--seed N]\n"
    "  ksim checks\n"
    "  ksim COMMAND --help\n"
    "\n"
    "A scenario file (scenarios/*.scn, described in scenarios/README.md) says which cluster to\n"
    "build, what the clients do, which faults to inject and which promises to check. The seed\n"
    "decides everything else (latencies, timings, swarm faults), so one (scenario, seed) pair\n"
    "always replays the same run.\n"
    "\n"
    "exit status: 0 every check passed, 1 a check failed, 2 bad input.\n";

static const char usage_run[] =
    "usage: ksim run SCENARIO [--seed N] [--trace FILE] [--report DIR] [--verbose]\n"
    "\n"
    "Runs one scenario with one seed and prints a summary: the scenario, the cluster, speed,\n"
    "the faults that fired, each check's verdict, and last a line 'trace-hash: <hex>'.\n"
    "\n"
    "  --seed N       the seed (default 1); the same seed replays the same run\n"
    "  --trace FILE   write the full trace of the run, zstd-compressed\n"
    "  --report DIR   write DIR/<scenario>-seed<N>/ with report.md, history.tsv and a timeline\n"
    "  --verbose      print trace lines to stderr as they happen\n"
    "\n"
    "exit status: 0 every check passed, 1 a check failed or a scripted fault never took\n"
    "effect, 2 bad input (the message names file:line:column).\n";

static const char usage_sweep[] =
    "usage: ksim sweep SCENARIO --seeds A..B [--jobs N] [--timeout SECONDS]\n"
    "\n"
    "Runs seeds A to B (inclusive) in N worker processes (default 2), shows progress on stderr,\n"
    "lists every failing seed with the command that replays it, and ends with the line\n"
    "'N passed, M failed'. A seed whose process crashed or aborted counts as failed, and so\n"
    "does one that runs longer than --timeout seconds of wall time (default 600).\n"
    "\n"
    "exit status: 0 every seed passed, 1 some seed failed, 2 bad input.\n";

static const char usage_show[] =
    "usage: ksim show SCENARIO [--seed N]\n"
    "\n"
    "Parses the scenario and prints its cluster and fault schedule without running it. With\n"
    "--seed, a swarm scenario shows the faults that seed draws.\n";

/* ===== Argument parsing ===== */

struct options {
    const char *scenario_path;
    u64 seed;
    bool seed_given;
    const char *trace_path;
    const char *report_dir;
    bool verbose;
    u64 seed_first, seed_last;
    bool seeds_given;
    u32 jobs;
    bool jobs_given;
    u64 timeout_s;
    bool timeout_given;
    bool help;
};

static int usage_error(const char *command, const char *format, const char *detail)
{
    fprintf(stderr, "ksim %s: ", command);
    fprintf(stderr, format, detail);
    fprintf(stderr, "\n(see: ksim %s --help)\n", command);
    return EXIT_USAGE;
}

/* A whole decimal number; false on anything else (signs, spaces, overflow). */
static bool parse_u64(const char *text, u64 *value)
{
    if (text == NULL || *text < '0' || *text > '9') return false;
    errno = 0;
    char *end = NULL;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') return false;
    *value = (u64)parsed;
    return true;
}

/* "A..B" or a single seed. */
static bool parse_seed_range(const char *text, u64 *first, u64 *last)
{
    const char *dots = strstr(text, "..");
    if (dots == NULL) {
        if (!parse_u64(text, first)) return false;
        *last = *first;
        return true;
    }
    char head[32];
    size_t length = (size_t)(dots - text);
    if (length == 0 || length >= sizeof(head)) return false;
    memcpy(head, text, length);
    head[length] = '\0';
    return parse_u64(head, first) && parse_u64(dots + 2, last) && *first <= *last;
}

/* The value of "--name value" or "--name=value"; advances *i past what it used. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t length = strlen(name);
    if (strncmp(argv[*i], name, length) != 0) return NULL;
    if (argv[*i][length] == '=') return argv[*i] + length + 1;
    if (argv[*i][length] != '\0') return NULL;
    if (*i + 1 >= argc) return "";
    *i += 1;
    return argv[*i];
}

/* Parses one option at argv[*i]; returns EXIT_PASS when it was understood. */
static int parse_option(const char *command, int argc, char **argv, int *i,
                        struct options *options)
{
    const char *arg = argv[*i];
    const char *value = NULL;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        options->help = true;
    } else if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
        options->verbose = true;
    } else if ((value = option_value(argc, argv, i, "--seed")) != NULL) {
        if (!parse_u64(value, &options->seed)) {
            return usage_error(command, "--seed needs a whole number, not '%s'", value);
        }
        options->seed_given = true;
    } else if ((value = option_value(argc, argv, i, "--seeds")) != NULL) {
        if (!parse_seed_range(value, &options->seed_first, &options->seed_last)) {
            return usage_error(command, "--seeds needs A..B with A <= B, not '%s'", value);
        }
        options->seeds_given = true;
    } else if ((value = option_value(argc, argv, i, "--jobs")) != NULL) {
        u64 jobs = 0;
        if (!parse_u64(value, &jobs) || jobs == 0 || jobs > KSIM_JOBS_MAX) {
            return usage_error(command, "--jobs needs a number from 1 to 64, not '%s'", value);
        }
        options->jobs = (u32)jobs;
        options->jobs_given = true;
    } else if ((value = option_value(argc, argv, i, "--timeout")) != NULL) {
        if (!parse_u64(value, &options->timeout_s) || options->timeout_s == 0) {
            return usage_error(command, "--timeout needs a number of seconds, not '%s'", value);
        }
        options->timeout_given = true;
    } else if ((value = option_value(argc, argv, i, "--trace")) != NULL && *value != '\0') {
        options->trace_path = value;
    } else if ((value = option_value(argc, argv, i, "--report")) != NULL && *value != '\0') {
        options->report_dir = value;
    } else if (arg[0] == '-' && arg[1] != '\0') {
        return usage_error(command, "unknown or incomplete option '%s'", arg);
    } else if (options->scenario_path == NULL) {
        options->scenario_path = arg;
    } else {
        return usage_error(command, "one scenario at a time (extra argument '%s')", arg);
    }
    return EXIT_PASS;
}

/* Whether the space-separated list names option exactly ("--seed" is not "--seeds"). */
static bool option_allowed(const char *allowed, const char *option)
{
    size_t length = strlen(option);
    for (const char *p = strstr(allowed, option); p != NULL; p = strstr(p + 1, option)) {
        bool starts = p == allowed || p[-1] == ' ';
        bool ends = p[length] == '\0' || p[length] == ' ';
        if (starts && ends) return true;
    }
    return false;
}

/* Parses everything after the command; allowed lists the options this command takes. */
static int parse_options(const char *command, int argc, char **argv, const char *allowed,
                         struct options *options)
{
    memset(options, 0, sizeof(*options));
    options->seed = 1;
    options->jobs = 2;
    options->timeout_s = KSIM_SEED_TIMEOUT_S;
    for (int i = 2; i < argc; i++) {
        int result = parse_option(command, argc, argv, &i, options);
        if (result != EXIT_PASS) return result;
        if (options->help) return EXIT_PASS;
    }
    if (options->help) return EXIT_PASS;
    static const char *const names[] = {"--seed",  "--seeds",  "--jobs",   "--timeout",
                                        "--trace", "--report", "--verbose"};
    const bool given[] = {options->seed_given,         options->seeds_given,
                          options->jobs_given,         options->timeout_given,
                          options->trace_path != NULL, options->report_dir != NULL,
                          options->verbose};
    for (u32 n = 0; n < ARRAY_LEN(names); n++) {
        if (given[n] && !option_allowed(allowed, names[n])) {
            return usage_error(command, "option '%s' does not apply here", names[n]);
        }
    }
    if (options->scenario_path == NULL) return usage_error(command, "missing %s", "SCENARIO");
    return EXIT_PASS;
}

static struct scenario *scenario_load_or_complain(const char *path)
{
    struct scenario *scenario = calloc(1, sizeof(*scenario));
    if (scenario == NULL) {
        fprintf(stderr, "ksim: out of memory\n");
        return NULL;
    }
    char error[1024];
    if (!scenario_load(path, scenario, error, sizeof(error))) {
        fprintf(stderr, "%s\n", error);
        free(scenario);
        return NULL;
    }
    return scenario;
}

/* ===== run, show, checks ===== */

static int command_run(int argc, char **argv)
{
    struct options options;
    int parsed = parse_options("run", argc, argv, "--seed --trace --report --verbose", &options);
    if (parsed != EXIT_PASS) return parsed;
    if (options.help) { fputs(usage_run, stdout); return EXIT_PASS; }
    struct scenario *scenario = scenario_load_or_complain(options.scenario_path);
    if (scenario == NULL) return EXIT_USAGE;

    struct sim_options sim_options = {
        .seed = options.seed, .trace_path = options.trace_path, .verbose = options.verbose};
    struct sim_result *result = calloc(1, sizeof(*result));
    ASSERT(result != NULL);
    /* sim_run expands a swarm scenario on its own copy; expanding ours the same way after
     * (swarm_expand is a pure function of scenario and seed) lets the summary and the report
     * list the very faults the run drew. */
    (void)sim_run(scenario, &sim_options, result);
    ASSERT(result->seed == options.seed);
    swarm_expand(scenario, options.seed);

    int code = EXIT_PASS;
    char report_path[1024] = "";
    if (options.report_dir != NULL) {
        char error[1024];
        if (!report_write(options.report_dir, scenario, result, argv[0], report_path,
                          sizeof(report_path), error, sizeof(error))) {
            fprintf(stderr, "ksim run: %s\n", error);
            report_path[0] = '\0';
            code = EXIT_USAGE;
        }
    }
    report_print_summary(stdout, scenario, result, argv[0],
                         report_path[0] != '\0' ? report_path : NULL);
    bool passed = result->passed && result->fault_failure[0] == '\0';
    for (u32 i = 0; i < result->outcome_count; i++) passed = passed && result->outcomes[i].passed;
    if (code == EXIT_PASS && !passed) code = EXIT_FAIL;
    sim_result_free(result);
    free(result);
    free(scenario);
    return code;
}

static int command_show(int argc, char **argv)
{
    struct options options;
    int parsed = parse_options("show", argc, argv, "--seed", &options);
    if (parsed != EXIT_PASS) return parsed;
    if (options.help) { fputs(usage_show, stdout); return EXIT_PASS; }
    struct scenario *scenario = scenario_load_or_complain(options.scenario_path);
    if (scenario == NULL) return EXIT_USAGE;
    swarm_expand(scenario, options.seed);
    report_print_scenario(stdout, scenario);
    if (scenario->swarm.enabled) printf("seed        %" PRIu64 "\n", options.seed);
    report_print_schedule(stdout, scenario, SCENARIO_FAULTS_MAX);
    printf("checks     ");
    for (u32 i = 0; i < scenario->check_count; i++) printf(" %s", scenario->checks[i]);
    printf("\n");
    free(scenario);
    return EXIT_PASS;
}

static int command_checks(void)
{
    printf("Checks a scenario may name (check NAME):\n\n");
    for (u32 i = 0; i < model_checker_count; i++) {
        printf("  %-22s %s\n", model_checkers[i].name, model_checkers[i].description);
    }
    return EXIT_PASS;
}

/* ===== sweep ===== */

struct sweep_slot {
    bool active;
    pid_t pid;
    int fd;
    u64 seed;
    double started_s;   /* Wall time the child was forked. */
    bool timed_out;     /* Killed for running longer than the timeout. */
    char output[KSIM_CHILD_OUTPUT_MAX]; /* The last bytes the child wrote. */
    u32 length;
};

struct sweep_failure {
    u64 seed;
    char text[KSIM_CHILD_OUTPUT_MAX + 128];
};

struct sweep {
    const struct scenario *scenario;
    const char *program;
    struct sweep_slot slots[KSIM_JOBS_MAX];
    u32 jobs;
    u64 timeout_s;
    u64 total, launched, passed, failed;
    struct sweep_failure *failures;
    u64 failure_capacity;
    bool progress_tty;
};

#define SWEEP_RESULT_MARK "ksim-seed-result: "

static double wall_now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* The child: runs one seed with its stdout and stderr on the pipe, and never returns. */
static _Noreturn void sweep_child(const struct scenario *scenario, u64 seed, int fd)
{
    if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(3);
    close(fd);
    struct sim_result *result = calloc(1, sizeof(*result));
    if (result == NULL) _exit(3);
    struct sim_options options = {.seed = seed, .trace_path = NULL, .verbose = false};
    (void)sim_run(scenario, &options, result); /* It expands swarm faults itself. */
    bool passed = result->passed && result->fault_failure[0] == '\0';
    const char *failure = result->fault_failure[0] != '\0' ? result->fault_failure : "";
    const char *failed_name = result->fault_failure[0] != '\0' ? "scripted-faults" : "";
    for (u32 i = 0; i < result->outcome_count; i++) {
        if (result->outcomes[i].passed || failed_name[0] != '\0') continue;
        passed = false;
        failed_name = result->outcome_names[i] != NULL ? result->outcome_names[i] : "?";
        failure = result->outcomes[i].message;
    }
    printf("\n" SWEEP_RESULT_MARK "%s %016" PRIx64 " %s%s%s\n", passed ? "PASS" : "FAIL",
           result->trace_hash, failed_name, failed_name[0] != '\0' ? ": " : "", failure);
    fflush(stdout);
    sim_result_free(result);
    free(result);
    exit(passed ? EXIT_PASS : EXIT_FAIL);
}

static void sweep_launch(struct sweep *sweep, struct sweep_slot *slot, u64 seed)
{
    int fds[2];
    memset(slot, 0, sizeof(*slot));
    slot->seed = seed;
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) {
        fprintf(stderr, "ksim sweep: pipe: %s\n", strerror(errno));
        exit(EXIT_USAGE);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "ksim sweep: fork: %s\n", strerror(errno));
        exit(EXIT_USAGE);
    }
    if (pid == 0) {
        close(fds[0]);
        for (u32 j = 0; j < sweep->jobs; j++) {
            if (sweep->slots[j].active) close(sweep->slots[j].fd);
        }
        sweep_child(sweep->scenario, seed, fds[1]);
    }
    close(fds[1]);
    slot->active = true;
    slot->pid = pid;
    slot->fd = fds[0];
    slot->started_s = wall_now_seconds();
    sweep->launched++;
}

/* Keeps the last KSIM_CHILD_OUTPUT_MAX - 1 bytes a child wrote. */
static void slot_append(struct sweep_slot *slot, const char *bytes, u32 size)
{
    const u32 keep_max = KSIM_CHILD_OUTPUT_MAX - 1;
    if (size >= keep_max) {
        memcpy(slot->output, bytes + size - keep_max, keep_max);
        slot->length = keep_max;
    } else {
        if (slot->length + size > keep_max) {
            u32 drop = slot->length + size - keep_max;
            memmove(slot->output, slot->output + drop, slot->length - drop);
            slot->length -= drop;
        }
        memcpy(slot->output + slot->length, bytes, size);
        slot->length += size;
    }
    slot->output[slot->length] = '\0';
    ASSERT(slot->length <= keep_max);
}

static void sweep_record_failure(struct sweep *sweep, u64 seed, const char *text)
{
    if (sweep->failed == sweep->failure_capacity) {
        sweep->failure_capacity = sweep->failure_capacity == 0 ? 16 : sweep->failure_capacity * 2;
        sweep->failures = realloc(sweep->failures,
                                  sweep->failure_capacity * sizeof(sweep->failures[0]));
        ASSERT(sweep->failures != NULL);
    }
    struct sweep_failure *failure = &sweep->failures[sweep->failed++];
    failure->seed = seed;
    snprintf(failure->text, sizeof(failure->text), "%s", text);
}

/* Classifies a finished child from its exit status and what it wrote. */
static void sweep_finish(struct sweep *sweep, struct sweep_slot *slot)
{
    close(slot->fd);
    int status = 0;
    while (waitpid(slot->pid, &status, 0) < 0) {
        ASSERT(errno == EINTR);
    }
    slot->active = false;
    const char *mark = strstr(slot->output, SWEEP_RESULT_MARK);
    char text[KSIM_CHILD_OUTPUT_MAX + 128];
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_PASS && mark != NULL) {
        sweep->passed++;
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FAIL && mark != NULL) {
        const char *message = mark + strlen(SWEEP_RESULT_MARK) + strlen("FAIL ") + 17;
        snprintf(text, sizeof(text), "%.*s", (int)strcspn(message, "\n"), message);
    } else {
        if (slot->timed_out) {
            snprintf(text, sizeof(text), "still running after %" PRIu64 " s of wall time, so "
                     "it was stopped (an endless loop?)", sweep->timeout_s);
        } else if (WIFSIGNALED(status)) {
            snprintf(text, sizeof(text), "the process died of signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
        } else {
            snprintf(text, sizeof(text), "the process exited with status %d",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        /* What it said last (an assertion message, the seed and virtual time) helps the most. */
        while (slot->length > 0 && (slot->output[slot->length - 1] == '\n')) {
            slot->output[--slot->length] = '\0';
        }
        size_t used = strlen(text);
        if (slot->length > 0) {
            snprintf(text + used, sizeof(text) - used, "; its last output:\n%s", slot->output);
        }
    }
    sweep_record_failure(sweep, slot->seed, text);
    if (sweep->progress_tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "seed %" PRIu64 " FAILED\n", slot->seed);
}

static void sweep_progress(const struct sweep *sweep)
{
    u64 done = sweep->passed + sweep->failed;
    if (sweep->progress_tty) {
        fprintf(stderr, "\r\033[K[%" PRIu64 "/%" PRIu64 "] %" PRIu64 " passed, %" PRIu64
                " failed", done, sweep->total, sweep->passed, sweep->failed);
        if (done == sweep->total) fprintf(stderr, "\n");
        return;
    }
    u64 step = sweep->total >= 10 ? sweep->total / 10 : 1;
    if (done % step == 0 || done == sweep->total) {
        fprintf(stderr, "[%" PRIu64 "/%" PRIu64 "] %" PRIu64 " passed, %" PRIu64 " failed\n",
                done, sweep->total, sweep->passed, sweep->failed);
    }
}

/* Kills children that ran past the timeout; their pipes then close and they are finished as
 * failed seeds like any other. */
static void sweep_stop_overdue(struct sweep *sweep)
{
    double now = wall_now_seconds();
    for (u32 j = 0; j < sweep->jobs; j++) {
        struct sweep_slot *slot = &sweep->slots[j];
        if (!slot->active || slot->timed_out) continue;
        if (now - slot->started_s <= (double)sweep->timeout_s) continue;
        slot->timed_out = true;
        kill(slot->pid, SIGKILL);
    }
}

/* Waits until some child wrote or finished, and handles what it did. */
static void sweep_wait(struct sweep *sweep)
{
    struct pollfd fds[KSIM_JOBS_MAX];
    u32 slot_of[KSIM_JOBS_MAX];
    u32 count = 0;
    for (u32 j = 0; j < sweep->jobs; j++) {
        if (!sweep->slots[j].active) continue;
        fds[count] = (struct pollfd){.fd = sweep->slots[j].fd, .events = POLLIN};
        slot_of[count++] = j;
    }
    ASSERT(count > 0);
    if (poll(fds, count, 1000) < 0) {
        ASSERT(errno == EINTR);
        return;
    }
    sweep_stop_overdue(sweep);
    for (u32 k = 0; k < count; k++) {
        if (fds[k].revents == 0) continue;
        struct sweep_slot *slot = &sweep->slots[slot_of[k]];
        char buffer[4096];
        ssize_t got = read(slot->fd, buffer, sizeof(buffer));
        if (got > 0) {
            slot_append(slot, buffer, (u32)got);
        } else if (got == 0 || errno != EINTR) {
            sweep_finish(sweep, slot);
            sweep_progress(sweep);
        }
    }
}

static int sweep_failure_compare(const void *a, const void *b)
{
    u64 seed_a = ((const struct sweep_failure *)a)->seed;
    u64 seed_b = ((const struct sweep_failure *)b)->seed;
    return seed_a < seed_b ? -1 : seed_a > seed_b ? 1 : 0;
}

static void sweep_print_failures(const struct sweep *sweep)
{
    if (sweep->failed == 0) return;
    qsort(sweep->failures, sweep->failed, sizeof(sweep->failures[0]), sweep_failure_compare);
    for (u64 i = 0; i < sweep->failed; i++) {
        const struct sweep_failure *failure = &sweep->failures[i];
        char replay[1024];
        report_replay_command(sweep->program, sweep->scenario->path, failure->seed, replay,
                              sizeof(replay));
        printf("FAIL seed %" PRIu64 ": ", failure->seed);
        for (const char *c = failure->text; *c != '\0'; c++) {
            putchar(*c);
            if (*c == '\n' && c[1] != '\0') fputs("     ", stdout);
        }
        printf("\n     replay: %s\n", replay);
    }
}


static int command_sweep(int argc, char **argv)
{
    struct options options;
    int parsed = parse_options("sweep", argc, argv, "--seeds --jobs --timeout", &options);
    if (parsed != EXIT_PASS) return parsed;
    if (options.help) { fputs(usage_sweep, stdout); return EXIT_PASS; }
    if (!options.seeds_given) return usage_error("sweep", "missing %s", "--seeds A..B");
    if (options.seed_last - options.seed_first >= KSIM_SWEEP_SEEDS_MAX) {
        return usage_error("sweep", "%s", "too many seeds in one sweep (at most 100000000)");
    }
    struct scenario *scenario = scenario_load_or_complain(options.scenario_path);
    if (scenario == NULL) return EXIT_USAGE;
    struct sweep *sweep = calloc(1, sizeof(*sweep));
    ASSERT(sweep != NULL);
    sweep->scenario = scenario;
    sweep->program = argv[0];
    sweep->jobs = options.jobs;
    sweep->timeout_s = options.timeout_s;
    sweep->total = options.seed_last - options.seed_first + 1;
    sweep->progress_tty = isatty(STDERR_FILENO) != 0;
    double start = wall_now_seconds();
    while (sweep->passed + sweep->failed < sweep->total) {
        for (u32 j = 0; j < sweep->jobs && sweep->launched < sweep->total; j++) {
            if (!sweep->slots[j].active) {
                sweep_launch(sweep, &sweep->slots[j], options.seed_first + sweep->launched);
            }
        }
        sweep_wait(sweep);
    }
    double wall = wall_now_seconds() - start;
    sweep_print_failures(sweep);
    printf("sweep       %s, seeds %" PRIu64 "..%" PRIu64 " (%" PRIu64 " seeds), %u jobs\n",
           scenario->path, options.seed_first, options.seed_last, sweep->total, sweep->jobs);
    printf("wall time   %.3fs (%.1f seeds/s)\n", wall,
           (double)sweep->total / (wall > 0 ? wall : 1));
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", sweep->passed, sweep->failed);
    int code = sweep->failed == 0 ? EXIT_PASS : EXIT_FAIL;
    free(sweep->failures);
    free(sweep);
    free(scenario);
    return code;
}

/* ===== main ===== */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 ||
        strcmp(command, "help") == 0) {
        fputs(usage_main, stdout);
        return EXIT_PASS;
    }
    if (strcmp(command, "run") == 0) return command_run(argc, argv);
    if (strcmp(command, "sweep") == 0) return command_sweep(argc, argv);
    if (strcmp(command, "show") == 0) return command_show(argc, argv);
    if (strcmp(command, "checks") == 0) return command_checks();
    fprintf(stderr, "ksim: unknown command '%s'\n\n%s", command, usage_main);
    return EXIT_USAGE;
}
