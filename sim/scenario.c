/* scenario.c: the parser of scenario files (scenarios/NAME.scn), a small line-oriented language.
 *
 * Each line is one statement: a keyword, then words, quoted strings, ',' '|' and '->'. '#'
 * starts a comment. The language is documented in scenarios/README.md. scenario_parse() is a
 * pure function of (path, text): it fills a struct scenario or writes the first error as
 * "path:line:column: message", the column being that of the offending token. Nothing is
 * allocated; a parse that fails leaves the scenario in an unspecified state.
 *
 * Invariants after a successful parse: at least one voter; every fault fires before the run
 * ends, every disruptive scripted fault before heal-at; faults are sorted by time (stable, so
 * faults at the same time keep their file order); every check name is one model/ offers.
 *
 * Tested by tests/unit/test_scenario.c: every file in scenarios/ parses, each error case names
 * the right line and column, durations and ranges, and the swarm expansion. */
#include "scenario.h"

#include "../impl/config.h"
#include "../model/history.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define SCENARIO_TOKENS_MAX 64u
#define SCENARIO_FILE_SIZE_MAX (1024u * 1024u)
#define SCENARIO_CLIENTS_MAX 64u

/* ===== Tokens ===== */

enum token_kind {
    TOKEN_WORD,   /* Anything else: names, numbers, durations, ranges. */
    TOKEN_STRING, /* "quoted"; start/length exclude the quotes, escapes left in place. */
    TOKEN_COMMA,
    TOKEN_PIPE,
    TOKEN_ARROW,  /* -> */
};

struct token {
    enum token_kind kind;
    const char *start;
    u32 length;
    u32 column; /* 1-based byte column of the token's first character. */
};

/* Where a statement that later validation refers to was written. */
struct position {
    u32 line, column;
};

struct parser {
    const char *path;
    struct scenario *scenario;
    char *error;
    u32 error_size;

    u32 line;
    u32 line_end_column; /* Column just past the last character of the line (for "missing"). */
    struct token tokens[SCENARIO_TOKENS_MAX];
    u32 token_count;
    u32 cursor;

    struct position fault_at[SCENARIO_FAULTS_MAX]; /* The time token of each fault. */
    struct position check_at[SCENARIO_CHECKS_MAX];
    struct position run_at, heal_at, liveness_at, swarm_at, unavailable_at, available_at;
    struct position replication_at; /* The replication factor's token, when given. */
    struct position group_option_at; /* The first consumer-group option, when given. */
    struct position workload_at;     /* The workload's kind. */
    struct position delivery_timeout_at; /* The delivery-timeout option, when given. */
    bool have_wan, have_name;
};

static bool parser_error(struct parser *parser, u32 column, const char *format, ...)
    PRINTF_LIKE(3, 4);

/* Writes "path:line:column: message". Always returns false so callers can return it. */
static bool parser_error(struct parser *parser, u32 column, const char *format, ...)
{
    ASSERT(parser->error_size > 0);
    int prefix = snprintf(parser->error, parser->error_size, "%s:%u:%u: ", parser->path,
                          parser->line, column);
    if (prefix < 0 || (u32)prefix >= parser->error_size) return false;
    va_list args;
    va_start(args, format);
    vsnprintf(parser->error + prefix, parser->error_size - (u32)prefix, format, args);
    va_end(args);
    return false;
}

static bool char_is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static bool char_ends_word(const char *p)
{
    return *p == '\0' || *p == '\n' || char_is_space(*p) || *p == ',' || *p == '|' ||
           *p == '"' || *p == '#' || (p[0] == '-' && p[1] == '>');
}

/* Lexes a quoted string starting at the opening quote; returns the character after it. */
static const char *lex_string(struct parser *parser, const char *p, struct token *token)
{
    ASSERT(*p == '"');
    const char *start = p + 1;
    const char *q = start;
    while (*q != '"') {
        if (*q == '\0' || *q == '\n') {
            parser_error(parser, token->column, "unterminated string (missing closing \")");
            return NULL;
        }
        if (*q == '\\' && (q[1] == '"' || q[1] == '\\')) q++;
        q++;
    }
    token->kind = TOKEN_STRING;
    token->start = start;
    token->length = (u32)(q - start);
    return q + 1;
}

/* Splits one line (from line_start up to '\n' or '\0') into tokens; comments are dropped. */
static bool lex_line(struct parser *parser, const char *line_start)
{
    parser->token_count = 0;
    parser->cursor = 0;
    const char *p = line_start;
    while (*p != '\0' && *p != '\n' && *p != '#') {
        if (char_is_space(*p)) { p++; continue; }
        u32 column = (u32)(p - line_start) + 1;
        if (parser->token_count == SCENARIO_TOKENS_MAX) {
            return parser_error(parser, column, "too many words on one line (at most %u)",
                                SCENARIO_TOKENS_MAX);
        }
        struct token *token = &parser->tokens[parser->token_count++];
        token->column = column;
        token->start = p;
        token->length = 1;
        if (*p == ',') { token->kind = TOKEN_COMMA; p++; continue; }
        if (*p == '|') { token->kind = TOKEN_PIPE; p++; continue; }
        if (p[0] == '-' && p[1] == '>') {
            token->kind = TOKEN_ARROW;
            token->length = 2;
            p += 2;
            continue;
        }
        if (*p == '"') {
            p = lex_string(parser, p, token);
            if (p == NULL) return false;
            continue;
        }
        token->kind = TOKEN_WORD;
        while (!char_ends_word(p)) p++;
        token->length = (u32)(p - token->start);
        ASSERT(token->length > 0);
    }
    while (*p != '\0' && *p != '\n') p++;
    parser->line_end_column = (u32)(p - line_start) + 1;
    ASSERT(parser->token_count <= SCENARIO_TOKENS_MAX);
    return true;
}

/* ===== Token access ===== */

static bool token_is(const struct token *token, const char *word)
{
    return token->kind == TOKEN_WORD && strlen(word) == token->length &&
           memcmp(token->start, word, token->length) == 0;
}

static const struct token *parser_peek(const struct parser *parser)
{
    if (parser->cursor >= parser->token_count) return NULL;
    return &parser->tokens[parser->cursor];
}

static u32 parser_column(const struct parser *parser)
{
    const struct token *token = parser_peek(parser);
    return token != NULL ? token->column : parser->line_end_column;
}

/* Takes the next token, which must be a word; what names what was expected, for the message. */
static const struct token *parser_word(struct parser *parser, const char *what)
{
    const struct token *token = parser_peek(parser);
    if (token == NULL) {
        parser_error(parser, parser->line_end_column, "missing %s", what);
        return NULL;
    }
    if (token->kind != TOKEN_WORD) {
        parser_error(parser, token->column, "expected %s, found '%.*s'", what,
                     (int)token->length, token->start);
        return NULL;
    }
    parser->cursor++;
    return token;
}

static bool parser_keyword(struct parser *parser, const char *keyword)
{
    const struct token *token = parser_peek(parser);
    if (token != NULL && token_is(token, keyword)) { parser->cursor++; return true; }
    return false;
}

static bool parser_end(struct parser *parser)
{
    const struct token *token = parser_peek(parser);
    if (token == NULL) return true;
    return parser_error(parser, token->column, "unexpected '%.*s' at the end of the statement",
                        (int)token->length, token->start);
}

/* ===== Values: numbers, durations, ranges, sizes ===== */

/* Parses leading decimal digits with an optional fraction, scaled by scale (e.g. "1.5" with
 * scale 1000 is 1500). Returns the number of characters used, 0 if none or on overflow. */
static u32 number_scaled(const char *p, u32 length, u64 scale, u64 *value)
{
    u64 whole = 0;
    u32 i = 0;
    while (i < length && p[i] >= '0' && p[i] <= '9') {
        if (whole > (UINT64_MAX - 9) / 10) return 0;
        whole = whole * 10 + (u64)(p[i] - '0');
        i++;
    }
    if (i == 0) return 0;
    if (whole > UINT64_MAX / scale) return 0;
    *value = whole * scale;
    if (i < length && p[i] == '.') {
        i++;
        u64 unit = scale;
        u32 digits = 0;
        while (i < length && p[i] >= '0' && p[i] <= '9') {
            unit /= 10;
            if (unit == 0 && p[i] != '0') return 0; /* Finer than the smallest unit. */
            *value += unit * (u64)(p[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0) return 0;
    }
    return i;
}

struct unit {
    const char *name;
    u64 scale;
};

static const struct unit duration_units[] = {
    {"ns", 1}, {"us", NS_PER_US}, {"ms", NS_PER_MS}, {"s", NS_PER_S}, {"m", 60 * NS_PER_S},
};

static const struct unit size_units[] = {
    {"", 1}, {"B", 1}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
    {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024},
};

/* Parses "<number><unit>" from a table of units; the whole text must be used. */
static bool value_with_unit(const char *p, u32 length, const struct unit *units, u32 unit_count,
                            u64 *value)
{
    for (u32 u = 0; u < unit_count; u++) {
        u32 unit_length = (u32)strlen(units[u].name);
        if (unit_length >= length) continue;
        if (memcmp(p + length - unit_length, units[u].name, unit_length) != 0) continue;
        u32 used = number_scaled(p, length - unit_length, units[u].scale, value);
        if (used == length - unit_length) return true;
    }
    return false;
}

static bool duration_text(const char *p, u32 length, u64 *ns)
{
    return value_with_unit(p, length, duration_units, ARRAY_LEN(duration_units), ns);
}

static bool parser_duration(struct parser *parser, const char *what, u64 *ns)
{
    const struct token *token = parser_word(parser, what);
    if (token == NULL) return false;
    if (duration_text(token->start, token->length, ns)) return true;
    return parser_error(parser, token->column,
                        "'%.*s' is not a duration (a number with a unit: ns, us, ms, s, m; "
                        "e.g. 150ms)", (int)token->length, token->start);
}

/* "A..B" or a single duration (meaning A..A). */
static bool parser_range(struct parser *parser, const char *what, u64 *min_ns, u64 *max_ns)
{
    const struct token *token = parser_word(parser, what);
    if (token == NULL) return false;
    const char *dots = NULL;
    for (u32 i = 0; i + 1 < token->length; i++) {
        if (token->start[i] == '.' && token->start[i + 1] == '.') {
            dots = token->start + i;
            break;
        }
    }
    u32 first = dots != NULL ? (u32)(dots - token->start) : token->length;
    if (!duration_text(token->start, first, min_ns)) {
        return parser_error(parser, token->column,
                            "'%.*s' is not a duration range (e.g. 200us..500us)",
                            (int)token->length, token->start);
    }
    *max_ns = *min_ns;
    if (dots == NULL) return true;
    u32 second = first + 2;
    if (!duration_text(token->start + second, token->length - second, max_ns)) {
        return parser_error(parser, token->column + second,
                            "'%.*s' is not a duration (e.g. 500us)",
                            (int)(token->length - second), token->start + second);
    }
    if (*max_ns < *min_ns) {
        return parser_error(parser, token->column, "range '%.*s' ends before it starts",
                            (int)token->length, token->start);
    }
    return true;
}

static bool parser_count(struct parser *parser, const char *what, u64 min, u64 max, u64 *value)
{
    const struct token *token = parser_word(parser, what);
    if (token == NULL) return false;
    if (number_scaled(token->start, token->length, 1, value) != token->length ||
        memchr(token->start, '.', token->length) != NULL) {
        return parser_error(parser, token->column, "expected %s (a whole number), found '%.*s'",
                            what, (int)token->length, token->start);
    }
    if (*value < min || *value > max) {
        return parser_error(parser, token->column, "%s must be between %" PRIu64 " and %" PRIu64,
                            what, min, max);
    }
    return true;
}

/* A number followed by a fixed suffix ("200ppm", "10x"), with an optional sign if allowed. */
static bool parser_suffixed(struct parser *parser, const char *what, const char *suffix,
                            bool signed_allowed, i64 *value)
{
    const struct token *token = parser_word(parser, what);
    if (token == NULL) return false;
    const char *p = token->start;
    u32 length = token->length;
    u32 suffix_length = (u32)strlen(suffix);
    bool negative = false;
    if (signed_allowed && length > 0 && (*p == '+' || *p == '-')) {
        negative = *p == '-';
        p++;
        length--;
    }
    u64 magnitude = 0;
    if (length <= suffix_length || memcmp(p + length - suffix_length, suffix, suffix_length) != 0 ||
        number_scaled(p, length - suffix_length, 1, &magnitude) != length - suffix_length ||
        memchr(p, '.', length) != NULL || magnitude > (u64)INT64_MAX) {
        return parser_error(parser, token->column, "expected %s like %s5%s, found '%.*s'", what,
                            signed_allowed ? "+" : "", suffix, (int)token->length,
                            token->start);
    }
    *value = negative ? -(i64)magnitude : (i64)magnitude;
    return true;
}

/* ===== Names ===== */

static bool name_valid(const struct token *token)
{
    if (token->length == 0 || token->length >= SCENARIO_NAME_MAX) return false;
    char first = token->start[0];
    if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) return false;
    for (u32 i = 0; i < token->length; i++) {
        char c = token->start[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

static void token_copy(const struct token *token, char *target, u32 target_size)
{
    ASSERT(token->length < target_size);
    memcpy(target, token->start, token->length);
    target[token->length] = '\0';
}

/* ===== "Did you mean" ===== */

/* The closest candidate to a mistyped word, if it is close enough to be the intended one. */
struct suggestion {
    const char *best;
    u32 distance;
    bool tied; /* Another candidate is as close: guessing between them would mislead. */
};

/* Levenshtein distance between a token and a candidate, both shorter than SCENARIO_NAME_MAX. */
static u32 edit_distance(const struct token *token, const char *candidate)
{
    u32 length = (u32)strlen(candidate);
    if (token->length >= SCENARIO_NAME_MAX || length >= SCENARIO_NAME_MAX) return UINT32_MAX;
    u32 previous[SCENARIO_NAME_MAX + 1], current[SCENARIO_NAME_MAX + 1];
    for (u32 j = 0; j <= length; j++) previous[j] = j;
    for (u32 i = 1; i <= token->length; i++) {
        current[0] = i;
        for (u32 j = 1; j <= length; j++) {
            u32 substitute = previous[j - 1] + (token->start[i - 1] != candidate[j - 1] ? 1 : 0);
            current[j] = MIN(MIN(previous[j] + 1, current[j - 1] + 1), substitute);
        }
        memcpy(previous, current, sizeof(u32) * (length + 1));
    }
    return previous[length];
}

static void suggest_consider(struct suggestion *suggestion, const struct token *token,
                             const char *candidate)
{
    u32 distance = edit_distance(token, candidate);
    /* Two edits for words of five letters or more, one for shorter ones. */
    u32 limit = token->length >= 5 ? 2 : 1;
    if (distance > limit) return;
    if (suggestion->best == NULL || distance < suggestion->distance) {
        suggestion->best = candidate;
        suggestion->distance = distance;
        suggestion->tied = false;
    } else if (distance == suggestion->distance && strcmp(candidate, suggestion->best) != 0) {
        suggestion->tied = true;
    }
}

/* " (did you mean 'x'?)" or "" when nothing is close. */
static const char *suggest_text(const struct suggestion *suggestion, char *buffer, u32 size)
{
    if (suggestion->best == NULL || suggestion->tied) return "";
    snprintf(buffer, size, " (did you mean '%s'?)", suggestion->best);
    return buffer;
}

static const char *suggest_node(const struct scenario *scenario, const struct token *token,
                                bool datacenters, char *buffer, u32 size)
{
    struct suggestion suggestion = {NULL, 0, false};
    for (u32 i = 0; i < scenario->node_count; i++) {
        suggest_consider(&suggestion, token, scenario->nodes[i].name);
    }
    for (u32 i = 0; datacenters && i < scenario->datacenter_count; i++) {
        suggest_consider(&suggestion, token, scenario->datacenters[i].name);
    }
    return suggest_text(&suggestion, buffer, size);
}

static i32 node_find(const struct scenario *scenario, const struct token *token)
{
    for (u32 i = 0; i < scenario->node_count; i++) {
        const char *name = scenario->nodes[i].name;
        if (strlen(name) == token->length && memcmp(name, token->start, token->length) == 0) {
            return (i32)i;
        }
    }
    return -1;
}

static i32 datacenter_find(const struct scenario *scenario, const struct token *token)
{
    for (u32 i = 0; i < scenario->datacenter_count; i++) {
        const char *name = scenario->datacenters[i].name;
        if (strlen(name) == token->length && memcmp(name, token->start, token->length) == 0) {
            return (i32)i;
        }
    }
    return -1;
}

static const char *const reserved_names[] = {"leader", "random", "all", "voter", "observer",
                                             "partition-leader", "client",
                                             "group-coordinator"};

/* A new node or datacenter name: valid, not reserved, not taken by either kind. */
static bool parser_new_name(struct parser *parser, const char *what, const struct token **out)
{
    const struct token *token = parser_word(parser, what);
    if (token == NULL) return false;
    if (!name_valid(token)) {
        return parser_error(parser, token->column,
                            "'%.*s' is not a valid %s (a letter, then letters, digits, '-', '_' "
                            "or '.'; at most %u characters)", (int)token->length, token->start,
                            what, SCENARIO_NAME_MAX - 1);
    }
    for (u32 i = 0; i < ARRAY_LEN(reserved_names); i++) {
        if (token_is(token, reserved_names[i])) {
            return parser_error(parser, token->column, "'%s' is a reserved word, not a %s",
                                reserved_names[i], what);
        }
    }
    if (node_find(parser->scenario, token) >= 0 || datacenter_find(parser->scenario, token) >= 0) {
        return parser_error(parser, token->column, "the name '%.*s' is already taken",
                            (int)token->length, token->start);
    }
    *out = token;
    return true;
}

/* ===== Topology statements ===== */

static bool statement_name(struct parser *parser)
{
    const struct token *token = parser_word(parser, "a scenario name");
    if (token == NULL) return false;
    if (!name_valid(token)) {
        return parser_error(parser, token->column, "'%.*s' is not a valid scenario name",
                            (int)token->length, token->start);
    }
    if (parser->have_name) return parser_error(parser, token->column, "the name is given twice");
    token_copy(token, parser->scenario->name, sizeof(parser->scenario->name));
    parser->have_name = true;
    return parser_end(parser);
}

/* Appends the string's text with escapes resolved; repeated lines are joined by '\n'. */
static bool statement_description(struct parser *parser)
{
    const struct token *token = parser_peek(parser);
    if (token == NULL || token->kind != TOKEN_STRING) {
        return parser_error(parser, parser_column(parser), "expected a \"quoted sentence\"");
    }
    parser->cursor++;
    char *text = parser->scenario->description;
    u32 length = (u32)strlen(text);
    if (length > 0) text[length++] = '\n';
    for (u32 i = 0; i < token->length; i++) {
        char c = token->start[i];
        if (c == '\\' && i + 1 < token->length) c = token->start[++i];
        if (length + 1 >= SCENARIO_TEXT_MAX) {
            return parser_error(parser, token->column, "the description is longer than %u bytes",
                                SCENARIO_TEXT_MAX - 1);
        }
        text[length++] = c;
    }
    text[length] = '\0';
    return parser_end(parser);
}

static bool statement_datacenter(struct parser *parser)
{
    struct scenario *scenario = parser->scenario;
    const struct token *name = NULL;
    u32 column = parser_column(parser);
    if (!parser_new_name(parser, "datacenter name", &name)) return false;
    if (scenario->datacenter_count == SCENARIO_DATACENTERS_MAX) {
        return parser_error(parser, column, "too many datacenters (at most %u)",
                            SCENARIO_DATACENTERS_MAX);
    }
    struct scenario_datacenter *datacenter = &scenario->datacenters[scenario->datacenter_count];
    token_copy(name, datacenter->name, sizeof(datacenter->name));
    datacenter->lan_latency_min_ns = 100 * NS_PER_US;
    datacenter->lan_latency_max_ns = 300 * NS_PER_US;
    if (parser_keyword(parser, "lan")) {
        if (!parser_range(parser, "LAN latency range", &datacenter->lan_latency_min_ns,
                          &datacenter->lan_latency_max_ns)) return false;
    }
    if (!parser_end(parser)) return false;
    scenario->datacenter_count++;
    return true;
}

static bool statement_wan(struct parser *parser)
{
    parser->have_wan = true;
    return parser_range(parser, "WAN latency range", &parser->scenario->wan_latency_min_ns,
                        &parser->scenario->wan_latency_max_ns) && parser_end(parser);
}

static bool statement_bandwidth(struct parser *parser)
{
    const struct token *token = parser_word(parser, "a bandwidth like 100MB/s");
    if (token == NULL) return false;
    u64 rate = 0;
    if (token->length < 3 || memcmp(token->start + token->length - 2, "/s", 2) != 0 ||
        !value_with_unit(token->start, token->length - 2, size_units, ARRAY_LEN(size_units),
                         &rate) || rate == 0) {
        return parser_error(parser, token->column,
                            "'%.*s' is not a bandwidth (e.g. 100MB/s, 1GB/s, 512KiB/s)",
                            (int)token->length, token->start);
    }
    parser->scenario->bandwidth_bytes_per_s = rate;
    return parser_end(parser);
}

static bool statement_connection_timeout(struct parser *parser)
{
    u32 column = parser_column(parser);
    if (!parser_duration(parser, "connection timeout", &parser->scenario->connection_timeout_ns)) {
        return false;
    }
    if (parser->scenario->connection_timeout_ns == 0) {
        return parser_error(parser, column, "the connection timeout must be positive");
    }
    return parser_end(parser);
}

static bool statement_disk_latency(struct parser *parser)
{
    return parser_range(parser, "disk latency range", &parser->scenario->disk_latency_min_ns,
                        &parser->scenario->disk_latency_max_ns) && parser_end(parser);
}

static bool statement_node(struct parser *parser)
{
    struct scenario *scenario = parser->scenario;
    const struct token *name = NULL;
    u32 column = parser_column(parser);
    if (!parser_new_name(parser, "node name", &name)) return false;
    if (scenario->node_count == SCENARIO_NODES_MAX) {
        return parser_error(parser, column, "too many nodes (at most %u)", SCENARIO_NODES_MAX);
    }
    const struct token *datacenter = parser_word(parser, "the node's datacenter");
    if (datacenter == NULL) return false;
    i32 datacenter_index = datacenter_find(scenario, datacenter);
    if (datacenter_index < 0) {
        struct suggestion suggestion = {NULL, 0, false};
        for (u32 i = 0; i < scenario->datacenter_count; i++) {
            suggest_consider(&suggestion, datacenter, scenario->datacenters[i].name);
        }
        char hint[96];
        return parser_error(parser, datacenter->column,
                            "unknown datacenter '%.*s'%s", (int)datacenter->length,
                            datacenter->start,
                            suggestion.best != NULL && !suggestion.tied
                                ? suggest_text(&suggestion, hint, sizeof(hint))
                                : " (declare it first: datacenter NAME)");
    }
    const struct token *role = parser_word(parser, "'voter' or 'observer'");
    if (role == NULL) return false;
    if (!token_is(role, "voter") && !token_is(role, "observer")) {
        return parser_error(parser, role->column, "expected 'voter' or 'observer', found '%.*s'",
                            (int)role->length, role->start);
    }
    struct scenario_node *node = &scenario->nodes[scenario->node_count];
    token_copy(name, node->name, sizeof(node->name));
    node->id = scenario->node_count + 1;
    node->datacenter = (u32)datacenter_index;
    node->voter = token_is(role, "voter");
    node->line = parser->line;
    if (!parser_end(parser)) return false;
    scenario->node_count++;
    ASSERT(node->id == scenario->node_count); /* Ids are 1..N in declaration order. */
    ASSERT(node->datacenter < scenario->datacenter_count);
    return true;
}

/* A node already declared, by name. */
static bool parser_node(struct parser *parser, u32 *index)
{
    const struct token *token = parser_word(parser, "a node name");
    if (token == NULL) return false;
    i32 found = node_find(parser->scenario, token);
    if (found < 0) {
        char hint[96];
        return parser_error(parser, token->column, "unknown node '%.*s'%s", (int)token->length,
                            token->start,
                            suggest_node(parser->scenario, token, false, hint, sizeof(hint)));
    }
    *index = (u32)found;
    return true;
}

/* Properties the simulator derives from the scenario itself (see sim/sim.c); overriding them
 * would silently disagree with the node lines. */
static const char *const property_generated[] = {
    "node.id", "process.roles", "controller.quorum.voters", "listeners",
    "controller.listener.names", "broker.rack", "log.dirs",
};

/* A valid node configuration shaped like the one the simulator writes; a property is checked
 * by appending it (line 7) and asking impl/config.c, so a bad key or value is reported here,
 * at its column, instead of when the run starts. */
static const char property_probe_base[] =
    "node.id=1\nprocess.roles=broker,controller\ncontroller.quorum.voters=1@probe:9093\n"
    "listeners=PLAINTEXT://probe:9092,CONTROLLER://probe:9093\n"
    "controller.listener.names=CONTROLLER\nlog.dirs=/data\n";

static bool property_check(struct parser *parser, const struct token *token, u32 key_length)
{
    for (u32 i = 0; i < ARRAY_LEN(property_generated); i++) {
        if (strlen(property_generated[i]) == key_length &&
            memcmp(token->start, property_generated[i], key_length) == 0) {
            return parser_error(parser, token->column, "the simulator sets %s itself (from the "
                                "node and datacenter lines)", property_generated[i]);
        }
    }
    char text[sizeof(property_probe_base) + SCENARIO_PROPERTIES_MAX + 2];
    int length = snprintf(text, sizeof(text), "%s%.*s\n", property_probe_base,
                          (int)token->length, token->start);
    ASSERT(length > 0 && (u32)length < sizeof(text));
    struct config_diagnostics *diagnostics = calloc(1, sizeof(*diagnostics));
    struct node_config *config = calloc(1, sizeof(*config));
    ASSERT(diagnostics != NULL && config != NULL);
    bool ok = config_parse(text, (u32)length, NULL, 0, config, diagnostics);
    char message[256] = "invalid property";
    for (u32 k = 0; !ok && k < MIN(diagnostics->count, CONFIG_DIAGNOSTICS_MAX); k++) {
        if (diagnostics->items[k].severity != CONFIG_ERROR) continue;
        snprintf(message, sizeof(message), "%s", diagnostics->items[k].message);
        break;
    }
    free(diagnostics);
    free(config);
    if (ok) return true;
    return parser_error(parser, token->column, "%s", message);
}

static bool statement_property(struct parser *parser)
{
    u32 index = 0;
    if (!parser_node(parser, &index)) return false;
    const struct token *token = parser_word(parser, "key=value");
    if (token == NULL) return false;
    const char *equals = memchr(token->start, '=', token->length);
    if (equals == NULL || equals == token->start || equals + 1 == token->start + token->length) {
        return parser_error(parser, token->column, "expected key=value, found '%.*s'",
                            (int)token->length, token->start);
    }
    if (!property_check(parser, token, (u32)(equals - token->start))) return false;
    char *properties = parser->scenario->nodes[index].properties;
    u32 length = (u32)strlen(properties);
    if (length + token->length + 2 > SCENARIO_PROPERTIES_MAX) {
        return parser_error(parser, token->column, "too many properties for this node");
    }
    memcpy(properties + length, token->start, token->length);
    properties[length + token->length] = '\n';
    properties[length + token->length + 1] = '\0';
    return parser_end(parser);
}

/* ===== Workload ===== */

static bool workload_option(struct parser *parser, struct scenario_workload *workload)
{
    u64 value = 0;
    if (parser_keyword(parser, "clients")) {
        if (!parser_count(parser, "the client count", 1, SCENARIO_CLIENTS_MAX, &value)) {
            return false;
        }
        workload->client_count = (u32)value;
        return true;
    }
    if (parser_keyword(parser, "interval")) {
        return parser_duration(parser, "the interval", &workload->interval_ns);
    }
    if (parser_keyword(parser, "value-size")) {
        if (!parser_count(parser, "the value size", 16, 1024 * 1024, &value)) return false;
        workload->value_size = (u32)value;
        return true;
    }
    if (parser_keyword(parser, "timeout")) {
        return parser_duration(parser, "the request timeout", &workload->request_timeout_ns);
    }
    if (parser_keyword(parser, "start")) {
        return parser_duration(parser, "the start time", &workload->start_ns);
    }
    const struct token *token = parser_peek(parser);
    ASSERT(token != NULL);
    return parser_error(parser, token->column,
                        "unknown workload option '%.*s' (clients, interval, value-size, timeout, "
                        "start)", (int)token->length, token->start);
}

/* The consumer-group options of kafka-produce-consume. Returns true when the next word was one
 * of them (parser->error says whether its value was bad); false when it is not a group option.
 * The first group option's column is kept: they mean nothing without 'group NAME'. */
static bool workload_group_option(struct parser *parser, struct scenario_workload *workload)
{
    const struct token *option = parser_peek(parser);
    ASSERT(option != NULL);
    u32 column = option->column;
    bool known = true;
    if (parser_keyword(parser, "group")) {
        const struct token *token = parser_word(parser, "a group name");
        if (token == NULL) return true;
        if (!name_valid(token) || token->length >= SCENARIO_NAME_MAX) {
            parser_error(parser, token->column, "a group name is a letter followed by letters, "
                         "digits, '-', '_' or '.' (at most %u)", SCENARIO_NAME_MAX - 1);
            return true;
        }
        memcpy(workload->group, token->start, token->length);
        workload->group[token->length] = '\0';
        return true;
    }
    if (parser_keyword(parser, "assignor")) {
        const struct token *token = parser_word(parser, "an assignor (range, cooperative-sticky)");
        if (token == NULL) return true;
        if (token_is(token, "range")) {
            workload->cooperative = false;
        } else if (token_is(token, "cooperative-sticky")) {
            workload->cooperative = true;
        } else {
            parser_error(parser, token->column, "the assignor is range or cooperative-sticky");
        }
    } else if (parser_keyword(parser, "static-members")) {
        workload->static_members = true;
    } else if (parser_keyword(parser, "session-timeout")) {
        parser_duration(parser, "the session timeout", &workload->session_timeout_ns);
    } else if (parser_keyword(parser, "rebalance-timeout")) {
        parser_duration(parser, "the rebalance timeout", &workload->rebalance_timeout_ns);
    } else if (parser_keyword(parser, "heartbeat")) {
        parser_duration(parser, "the heartbeat interval", &workload->heartbeat_interval_ns);
    } else if (parser_keyword(parser, "commit")) {
        parser_duration(parser, "the commit interval", &workload->commit_interval_ns);
    } else {
        known = false;
    }
    if (known && parser->group_option_at.line == 0) {
        parser->group_option_at = (struct position){parser->line, column};
    }
    return known;
}

/* Options of kafka-produce-consume: topic, partitions, replication, producers, consumers, acks,
 * stop, idempotent, retries, delivery-timeout, and the group options above. */
static bool workload_kafka_option(struct parser *parser, struct scenario_workload *workload)
{
    u64 value = 0;
    if (parser_keyword(parser, "topic")) {
        const struct token *token = parser_word(parser, "a topic name");
        if (token == NULL) return false;
        if (token->length >= SCENARIO_NAME_MAX) {
            return parser_error(parser, token->column, "topic name too long");
        }
        memcpy(workload->topic, token->start, token->length);
        workload->topic[token->length] = '\0';
        return true;
    }
    if (parser_keyword(parser, "partitions")) {
        if (!parser_count(parser, "the partition count", 1, 16, &value)) return false;
        workload->partition_count = (u32)value;
        return true;
    }
    if (parser_keyword(parser, "producers")) {
        if (!parser_count(parser, "the producer count", 0, 32, &value)) return false;
        workload->producer_count = (u32)value;
        return true;
    }
    if (parser_keyword(parser, "consumers")) {
        if (!parser_count(parser, "the consumer count", 0, 32, &value)) return false;
        workload->consumer_count = (u32)value;
        return true;
    }
    if (parser_keyword(parser, "acks")) {
        const struct token *token = parser_word(parser, "acks (all, -1, 1 or 0)");
        if (token == NULL) return false;
        if (token_is(token, "all") || token_is(token, "-1")) {
            workload->acks = -1;
        } else if (token_is(token, "1") || token_is(token, "0")) {
            workload->acks = token->start[0] - '0';
        } else {
            return parser_error(parser, token->column, "acks must be all, -1, 1 or 0");
        }
        return true;
    }
    if (parser_keyword(parser, "stop")) {
        return parser_duration(parser, "the producers' stop time", &workload->stop_ns);
    }
    if (parser_keyword(parser, "idempotent")) {
        workload->idempotent = true;
        return true;
    }
    if (parser_keyword(parser, "retries")) {
        workload->retries = true;
        return true;
    }
    const struct token *option = parser_peek(parser);
    if (option != NULL && parser_keyword(parser, "delivery-timeout")) {
        parser->delivery_timeout_at = (struct position){parser->line, option->column};
        if (!parser_duration(parser, "the delivery timeout", &workload->delivery_timeout_ns)) {
            return false;
        }
        if (workload->delivery_timeout_ns > 0) return true;
        return parser_error(parser, option->column, "the delivery timeout must be positive");
    }
    if (workload_group_option(parser, workload)) return parser->error[0] == '\0';
    if (parser_keyword(parser, "replication")) {
        const struct token *token = parser_peek(parser);
        if (token != NULL) parser->replication_at = (struct position){parser->line, token->column};
        /* Eight: the most replicas the metadata image keeps per partition. */
        if (!parser_count(parser, "the replication factor", 1, 8, &value)) return false;
        workload->replication_factor = (u32)value;
        return true;
    }
    return workload_option(parser, workload);
}

/* A group's timing must be one Kafka accepts: heartbeats well inside the session. */
static bool workload_group_valid(struct parser *parser, const struct scenario_workload *workload)
{
    struct position at = parser->group_option_at;
    if (workload->group[0] == '\0') {
        if (at.line == 0) return true;
        return parser_error(parser, at.column, "consumer-group options need 'group NAME'");
    }
    if (at.line == 0) at = parser->workload_at;
    if (workload->consumer_count == 0) {
        return parser_error(parser, at.column, "a group needs consumers (consumers N)");
    }
    if (workload->session_timeout_ns < NS_PER_MS || workload->heartbeat_interval_ns < NS_PER_MS ||
        workload->rebalance_timeout_ns < NS_PER_MS || workload->commit_interval_ns < NS_PER_MS) {
        return parser_error(parser, at.column, "group timeouts and intervals are at least 1ms");
    }
    if (workload->heartbeat_interval_ns >= workload->session_timeout_ns) {
        return parser_error(parser, at.column, "the heartbeat interval must be shorter than the "
                            "session timeout (Kafka advises a third of it)");
    }
    return true;
}

/* Retrying producers: Kafka refuses enable.idempotence unless acks=all, and a delivery timeout
 * means nothing to a producer that never resends. */
static bool workload_retries_valid(struct parser *parser, struct scenario_workload *workload)
{
    if (workload->idempotent && workload->acks != -1) {
        return parser_error(parser, parser->workload_at.column, "idempotent producers need acks "
                            "all (Kafka refuses enable.idempotence with acks %d)", workload->acks);
    }
    bool retrying = workload->idempotent || workload->retries;
    if (!retrying && parser->delivery_timeout_at.line != 0) {
        return parser_error(parser, parser->delivery_timeout_at.column,
                            "delivery-timeout needs retries or idempotent");
    }
    if (retrying && workload->delivery_timeout_ns == 0) {
        /* Kafka's default is 2 minutes, longer than most runs; 30s still outlasts any fault. */
        workload->delivery_timeout_ns = 30 * NS_PER_S;
    }
    if (retrying && workload->delivery_timeout_ns < workload->request_timeout_ns) {
        return parser_error(parser, parser->delivery_timeout_at.line != 0
                                        ? parser->delivery_timeout_at.column
                                        : parser->workload_at.column,
                            "the delivery timeout must be at least the request timeout "
                            "(Kafka requires delivery.timeout.ms >= request.timeout.ms)");
    }
    return true;
}

static bool statement_workload(struct parser *parser)
{
    struct scenario_workload *workload = &parser->scenario->workload;
    const struct token *kind =
        parser_word(parser, "a workload kind (quorum-append, kafka-produce-consume)");
    if (kind == NULL) return false;
    bool kafka = token_is(kind, "kafka-produce-consume");
    if (!kafka && !token_is(kind, "quorum-append")) {
        return parser_error(parser, kind->column,
                            "unknown workload '%.*s' (known: quorum-append, "
                            "kafka-produce-consume)", (int)kind->length, kind->start);
    }
    if (workload->kind != WORKLOAD_NONE) {
        return parser_error(parser, kind->column, "only one workload per scenario");
    }
    workload->kind = kafka ? WORKLOAD_KAFKA_PRODUCE_CONSUME : WORKLOAD_QUORUM_APPEND;
    workload->client_count = 3;
    workload->interval_ns = 20 * NS_PER_MS;
    workload->value_size = 64;
    workload->request_timeout_ns = 2 * NS_PER_S;
    workload->start_ns = 1 * NS_PER_S;
    snprintf(workload->topic, sizeof(workload->topic), "t");
    workload->partition_count = 1;
    workload->producer_count = 1;
    workload->consumer_count = 1;
    workload->acks = -1;
    workload->replication_factor = 1;
    workload->session_timeout_ns = 6 * NS_PER_S;
    workload->rebalance_timeout_ns = 10 * NS_PER_S;
    workload->heartbeat_interval_ns = 1 * NS_PER_S;
    workload->commit_interval_ns = 1 * NS_PER_S;
    parser->workload_at = (struct position){parser->line, kind->column};
    while (parser_peek(parser) != NULL) {
        bool ok = kafka ? workload_kafka_option(parser, workload)
                        : workload_option(parser, workload);
        if (!ok) return false;
    }
    if (kafka) {
        workload->client_count = workload->producer_count + workload->consumer_count;
        if (workload->value_size < 24 || workload->value_size > 1024) {
            return parser_error(parser, kind->column, "kafka values are 24..1024 bytes");
        }
        if (!workload_group_valid(parser, workload)) return false;
        if (!workload_retries_valid(parser, workload)) return false;
    }
    return true;
}

/* ===== Faults ===== */

static bool parser_fault_new(struct parser *parser, u32 column, struct scenario_fault **fault)
{
    struct scenario *scenario = parser->scenario;
    if (scenario->fault_count == SCENARIO_FAULTS_MAX) {
        return parser_error(parser, column, "too many faults (at most %u)", SCENARIO_FAULTS_MAX);
    }
    parser->fault_at[scenario->fault_count] = (struct position){parser->line, column};
    *fault = &scenario->faults[scenario->fault_count++];
    memset(*fault, 0, sizeof(**fault));
    (*fault)->must_take_effect = true;
    (*fault)->line = parser->line;
    return true;
}

/* One side of a partition: node and datacenter names separated by commas. */
static bool parser_side(struct parser *parser, struct node_set *side)
{
    const struct scenario *scenario = parser->scenario;
    for (;;) {
        const struct token *token = parser_word(parser, "a node or datacenter name");
        if (token == NULL) return false;
        i32 node = node_find(scenario, token);
        i32 datacenter = datacenter_find(scenario, token);
        if (node < 0 && datacenter < 0) {
            char hint[96];
            return parser_error(parser, token->column, "unknown node or datacenter '%.*s'%s",
                                (int)token->length, token->start,
                                suggest_node(scenario, token, true, hint, sizeof(hint)));
        }
        for (u32 i = 0; i < scenario->node_count; i++) {
            if ((i32)i == node || (i32)scenario->nodes[i].datacenter == datacenter) {
                if (node_set_has(side, i)) {
                    return parser_error(parser, token->column, "node '%s' is named twice",
                                        scenario->nodes[i].name);
                }
                node_set_add(side, i);
            }
        }
        const struct token *next = parser_peek(parser);
        if (next == NULL || next->kind != TOKEN_COMMA) return true;
        parser->cursor++;
    }
}

static bool node_sets_overlap(const struct node_set *a, const struct node_set *b)
{
    for (u32 i = 0; i < ARRAY_LEN(a->bits); i++) {
        if ((a->bits[i] & b->bits[i]) != 0) return true;
    }
    return false;
}

static bool node_set_empty(const struct node_set *set)
{
    for (u32 i = 0; i < ARRAY_LEN(set->bits); i++) {
        if (set->bits[i] != 0) return false;
    }
    return true;
}

/* "partition A | B", "partition A" (A against everyone else), "cut A -> B". */
static bool fault_sets(struct parser *parser, struct scenario_fault *fault)
{
    fault->target = TARGET_SETS;
    u32 column_b = 0;
    if (!parser_side(parser, &fault->side_a)) return false;
    const struct token *separator = parser_peek(parser);
    enum token_kind expected = fault->kind == FAULT_CUT_ONE_WAY ? TOKEN_ARROW : TOKEN_PIPE;
    if (separator == NULL && fault->kind == FAULT_PARTITION) {
        for (u32 i = 0; i < parser->scenario->node_count; i++) {
            if (!node_set_has(&fault->side_a, i)) node_set_add(&fault->side_b, i);
        }
        column_b = parser->line_end_column;
    } else {
        if (separator == NULL || separator->kind != expected) {
            return parser_error(parser, parser_column(parser), "expected '%s' between the sides",
                                expected == TOKEN_ARROW ? "->" : "|");
        }
        parser->cursor++;
        column_b = parser_column(parser);
        if (!parser_side(parser, &fault->side_b)) return false;
    }
    if (node_set_empty(&fault->side_b)) {
        return parser_error(parser, column_b, "the other side of the partition is empty");
    }
    if (node_sets_overlap(&fault->side_a, &fault->side_b)) {
        return parser_error(parser, column_b, "a node is on both sides");
    }
    ASSERT(!node_set_empty(&fault->side_a));
    return parser_end(parser);
}

void scenario_client_name(const struct scenario *scenario, u32 index, char *name, u32 size)
{
    const struct scenario_workload *workload = &scenario->workload;
    bool kafka = workload->kind == WORKLOAD_KAFKA_PRODUCE_CONSUME;
    if (kafka && index < workload->producer_count) {
        snprintf(name, size, "p%u", index + 1);
    } else {
        snprintf(name, size, "c%u", index + 1 - (kafka ? workload->producer_count : 0));
    }
}

/* "client NAME": a workload client declared by the workload line above (p1.., c1..). Clients
 * only crash, restart, pause, resume or lose the network: they have no disk worth corrupting
 * and their clocks do not matter to anyone. */
static bool fault_client(struct parser *parser, struct scenario_fault *fault)
{
    const struct token *token = parser_word(parser, "a client name (p1.., c1..)");
    if (token == NULL) return false;
    bool allowed = fault->kind == FAULT_CRASH || fault->kind == FAULT_RESTART ||
                   fault->kind == FAULT_PAUSE || fault->kind == FAULT_RESUME ||
                   fault->kind == FAULT_ISOLATE;
    if (!allowed) {
        return parser_error(parser, token->column, "a client can only crash, restart, pause, "
                            "resume or be isolated");
    }
    const struct scenario *scenario = parser->scenario;
    for (u32 i = 0; i < scenario->workload.client_count; i++) {
        char name[SCENARIO_NAME_MAX];
        scenario_client_name(scenario, i, name, sizeof(name));
        if (strlen(name) == token->length && memcmp(name, token->start, token->length) == 0) {
            fault->target = TARGET_CLIENT;
            fault->target_node = i;
            return true;
        }
    }
    if (scenario->workload.kind == WORKLOAD_NONE) {
        return parser_error(parser, token->column, "unknown client '%.*s': declare the workload "
                            "before the faults that name its clients", (int)token->length,
                            token->start);
    }
    return parser_error(parser, token->column, "unknown client '%.*s' (the workload has %u: "
                        "producers p1.., then consumers c1..)", (int)token->length,
                        token->start, scenario->workload.client_count);
}

/* A target: a node name, 'client NAME', 'leader', 'random', 'partition-leader' or
 * 'group-coordinator'. 'all' is handled by the caller. */
static bool fault_target(struct parser *parser, struct scenario_fault *fault)
{
    const struct token *token = parser_peek(parser);
    bool recovers = fault->kind == FAULT_RESTART || fault->kind == FAULT_RESUME;
    if (token != NULL && recovers &&
        (token_is(token, "leader") || token_is(token, "random") ||
         token_is(token, "partition-leader") || token_is(token, "group-coordinator"))) {
        return parser_error(parser, token->column,
                            "%s needs a node name or 'all': a stopped node is neither the leader "
                            "nor a fair random pick", fault_kind_name(fault->kind));
    }
    if (parser_keyword(parser, "client")) return fault_client(parser, fault);
    if (parser_keyword(parser, "group-coordinator")) {
        if (parser->scenario->workload.group[0] == '\0') {
            return parser_error(parser, token->column, "group-coordinator needs a workload with "
                                "'group NAME' declared above");
        }
        fault->target = TARGET_GROUP_COORDINATOR;
        return true;
    }
    if (parser_keyword(parser, "leader")) { fault->target = TARGET_LEADER; return true; }
    if (parser_keyword(parser, "random")) { fault->target = TARGET_RANDOM; return true; }
    if (parser_keyword(parser, "partition-leader")) {
        fault->target = TARGET_PARTITION_LEADER;
        return true;
    }
    fault->target = TARGET_NODE;
    return parser_node(parser, &fault->target_node);
}

/* Reads the amount that follows the target, if this kind has one. */
static bool fault_amount(struct parser *parser, struct scenario_fault *fault)
{
    u32 column = parser_column(parser);
    u64 count = 0;
    switch (fault->kind) {
    case FAULT_CLOCK_JUMP: {
        const struct token *token = parser_peek(parser);
        if (token == NULL || token->kind != TOKEN_WORD ||
            (token->start[0] != '+' && token->start[0] != '-')) {
            return parser_error(parser, column, "expected a signed duration like +30s or -2s");
        }
        u64 ns = 0;
        parser->cursor++;
        if (!duration_text(token->start + 1, token->length - 1, &ns) || ns > (u64)INT64_MAX) {
            return parser_error(parser, column, "expected a signed duration like +30s or -2s");
        }
        fault->amount = token->start[0] == '-' ? -(i64)ns : (i64)ns;
        return true;
    }
    case FAULT_CLOCK_DRIFT:
        return parser_suffixed(parser, "a drift", "ppm", true, &fault->amount);
    case FAULT_DISK_CORRUPT:
    case FAULT_DISK_READ_ERROR:
        if (!parser_count(parser, "a count", 1, 1000000, &count)) return false;
        fault->amount = (i64)count;
        return true;
    case FAULT_DISK_SLOW:
        if (!parser_suffixed(parser, "a slowdown", "x", false, &fault->amount)) return false;
        if (fault->amount < 1 || fault->amount > 100000) {
            return parser_error(parser, column, "the slowdown must be between 1x and 100000x");
        }
        return true;
    default:
        return true;
    }
}

struct fault_word {
    const char *word;
    enum fault_kind kind;
};

static const struct fault_word fault_words[] = {
    {"crash", FAULT_CRASH},           {"restart", FAULT_RESTART},
    {"pause", FAULT_PAUSE},           {"resume", FAULT_RESUME},
    {"isolate", FAULT_ISOLATE},       {"partition", FAULT_PARTITION},
    {"cut", FAULT_CUT_ONE_WAY},       {"heal", FAULT_HEAL},
    {"clock-jump", FAULT_CLOCK_JUMP}, {"clock-drift", FAULT_CLOCK_DRIFT},
    {"disk-corrupt", FAULT_DISK_CORRUPT}, {"disk-read-error", FAULT_DISK_READ_ERROR},
    {"disk-slow", FAULT_DISK_SLOW},
};

const char *fault_kind_name(enum fault_kind kind)
{
    for (u32 i = 0; i < ARRAY_LEN(fault_words); i++) {
        if (fault_words[i].kind == kind) return fault_words[i].word;
    }
    ASSERT(kind == FAULT_KIND_COUNT);
    return "?";
}

/* "at TIME all ...": one fault per node. Recovering every node is a sweep, so a node that was
 * not stopped is no failure (must_take_effect only for crash, pause and the other kinds). */
static bool fault_all(struct parser *parser, const struct scenario_fault *written, u32 column)
{
    /* The written fault is the last slot, which the first copy reuses: keep it aside. */
    const struct scenario_fault model_copy = *written;
    const struct scenario_fault *model = &model_copy;
    bool recovers = model->kind == FAULT_RESTART || model->kind == FAULT_RESUME;
    ASSERT(parser->scenario->fault_count > 0);
    parser->scenario->fault_count--;
    for (u32 i = 0; i < parser->scenario->node_count; i++) {
        struct scenario_fault *fault = NULL;
        if (!parser_fault_new(parser, column, &fault)) return false;
        *fault = *model;
        fault->target = TARGET_NODE;
        fault->target_node = i;
        fault->must_take_effect = !recovers;
    }
    return true;
}

static bool statement_at(struct parser *parser)
{
    u32 column = parser_column(parser);
    struct scenario_fault *fault = NULL;
    u64 at_ns = 0;
    if (!parser_duration(parser, "the fault's time", &at_ns)) return false;
    if (!parser_fault_new(parser, column, &fault)) return false;
    fault->at_ns = at_ns;
    const struct token *word = parser_word(parser, "a fault (crash, restart, pause, resume, "
                                                   "isolate, partition, cut, heal, clock-jump, "
                                                   "clock-drift, disk-corrupt, disk-read-error, "
                                                   "disk-slow)");
    if (word == NULL) return false;
    u32 kind = 0;
    while (kind < ARRAY_LEN(fault_words) && !token_is(word, fault_words[kind].word)) kind++;
    if (kind == ARRAY_LEN(fault_words)) {
        struct suggestion suggestion = {NULL, 0, false};
        for (u32 i = 0; i < ARRAY_LEN(fault_words); i++) {
            suggest_consider(&suggestion, word, fault_words[i].word);
        }
        char hint[96];
        return parser_error(parser, word->column, "unknown fault '%.*s'%s", (int)word->length,
                            word->start, suggest_text(&suggestion, hint, sizeof(hint)));
    }
    fault->kind = fault_words[kind].kind;
    if (fault->kind == FAULT_HEAL) {
        /* Heal aims at no node: the whole network (sets, both empty), so that the simulator
         * records it as network-wide. */
        fault->target = TARGET_SETS;
        return parser_end(parser);
    }
    if (fault->kind == FAULT_PARTITION || fault->kind == FAULT_CUT_ONE_WAY) {
        return fault_sets(parser, fault);
    }
    bool all = parser_keyword(parser, "all");
    if (!all && !fault_target(parser, fault)) return false;
    if (!fault_amount(parser, fault) || !parser_end(parser)) return false;
    if (all && fault->kind == FAULT_ISOLATE) {
        return parser_error(parser, word->column, "isolate all cuts nothing off from anything");
    }
    if (all) return fault_all(parser, fault, column);
    return true;
}

/* ===== Run, phases, expectations, checks ===== */

static bool statement_swarm(struct parser *parser)
{
    parser->swarm_at = (struct position){parser->line, parser_column(parser)};
    if (!parser_keyword(parser, "until")) {
        return parser_error(parser, parser_column(parser), "expected 'until DURATION'");
    }
    parser->scenario->swarm.enabled = true;
    return parser_duration(parser, "the end of the fault phase",
                           &parser->scenario->swarm.faults_until_ns) && parser_end(parser);
}

static bool statement_run(struct parser *parser)
{
    parser->run_at = (struct position){parser->line, parser_column(parser)};
    if (!parser_duration(parser, "the run length", &parser->scenario->run_ns)) return false;
    if (parser->scenario->run_ns == 0) {
        return parser_error(parser, parser->run_at.column, "the run length must be positive");
    }
    return parser_end(parser);
}

static bool statement_heal_at(struct parser *parser)
{
    parser->heal_at = (struct position){parser->line, parser_column(parser)};
    if (!parser_duration(parser, "the heal time", &parser->scenario->heal_at_ns)) return false;
    if (parser->scenario->heal_at_ns == 0) {
        return parser_error(parser, parser->heal_at.column, "heal-at must be after time 0");
    }
    return parser_end(parser);
}

static bool statement_liveness(struct parser *parser)
{
    parser->liveness_at = (struct position){parser->line, parser_column(parser)};
    return parser_duration(parser, "the liveness bound", &parser->scenario->liveness_bound_ns) &&
           parser_end(parser);
}

static bool check_add(struct parser *parser, const char *name, u32 column)
{
    struct scenario *scenario = parser->scenario;
    for (u32 i = 0; i < scenario->check_count; i++) {
        if (strcmp(scenario->checks[i], name) == 0) return true; /* Listed once is enough. */
    }
    if (scenario->check_count == SCENARIO_CHECKS_MAX) {
        return parser_error(parser, column, "too many checks (at most %u)", SCENARIO_CHECKS_MAX);
    }
    ASSERT(strlen(name) < SCENARIO_NAME_MAX);
    parser->check_at[scenario->check_count] = (struct position){parser->line, column};
    strcpy(scenario->checks[scenario->check_count++], name);
    return true;
}

/* "expect unavailable A..B" also turns on its checker, so the expectation is always judged. */
static bool statement_expect(struct parser *parser)
{
    struct scenario *scenario = parser->scenario;
    u32 column = parser_column(parser);
    u64 *from = NULL, *to = NULL;
    const char *checker = NULL;
    if (parser_keyword(parser, "unavailable")) {
        from = &scenario->unavailable_from_ns;
        to = &scenario->unavailable_to_ns;
        checker = "unavailable-window";
        parser->unavailable_at = (struct position){parser->line, column};
    } else if (parser_keyword(parser, "available")) {
        from = &scenario->available_from_ns;
        to = &scenario->available_to_ns;
        checker = "available-window";
        parser->available_at = (struct position){parser->line, column};
    } else {
        return parser_error(parser, column, "expected 'unavailable' or 'available'");
    }
    u32 range_column = parser_column(parser);
    if (!parser_range(parser, "a time window like 10s..30s", from, to)) return false;
    if (*to <= *from) return parser_error(parser, range_column, "the window is empty");
    if (!parser_end(parser)) return false;
    if (model_checker_find(checker) == NULL) {
        return parser_error(parser, column, "this build has no '%s' checker", checker);
    }
    return check_add(parser, checker, column);
}

static bool statement_check(struct parser *parser)
{
    if (parser_peek(parser) == NULL) {
        return parser_error(parser, parser->line_end_column, "missing a check name");
    }
    while (parser_peek(parser) != NULL) {
        const struct token *token = parser_word(parser, "a check name");
        if (token == NULL) return false;
        char name[SCENARIO_NAME_MAX] = "";
        if (token->length < sizeof(name)) token_copy(token, name, sizeof(name));
        if (name[0] == '\0' || model_checker_find(name) == NULL) {
            struct suggestion suggestion = {NULL, 0, false};
            for (u32 i = 0; i < model_checker_count; i++) {
                suggest_consider(&suggestion, token, model_checkers[i].name);
            }
            char hint[96];
            return parser_error(parser, token->column,
                                "unknown check '%.*s'%s", (int)token->length, token->start,
                                suggestion.best != NULL && !suggestion.tied
                                    ? suggest_text(&suggestion, hint, sizeof(hint))
                                    : " (build/ksim checks lists them)");
        }
        if (!check_add(parser, name, token->column)) return false;
        const struct token *next = parser_peek(parser);
        if (next != NULL && next->kind == TOKEN_COMMA) parser->cursor++;
    }
    return true;
}

struct statement {
    const char *keyword;
    bool (*parse)(struct parser *parser);
};

static const struct statement statements[] = {
    {"name", statement_name},
    {"description", statement_description},
    {"datacenter", statement_datacenter},
    {"wan", statement_wan},
    {"bandwidth", statement_bandwidth},
    {"connection-timeout", statement_connection_timeout},
    {"disk-latency", statement_disk_latency},
    {"node", statement_node},
    {"property", statement_property},
    {"workload", statement_workload},
    {"at", statement_at},
    {"swarm", statement_swarm},
    {"run", statement_run},
    {"heal-at", statement_heal_at},
    {"liveness", statement_liveness},
    {"expect", statement_expect},
    {"check", statement_check},
};

static bool parser_statement(struct parser *parser)
{
    if (parser->token_count == 0) return true;
    const struct token *keyword = &parser->tokens[0];
    parser->cursor = 1;
    for (u32 i = 0; i < ARRAY_LEN(statements); i++) {
        if (token_is(keyword, statements[i].keyword)) return statements[i].parse(parser);
    }
    struct suggestion suggestion = {NULL, 0, false};
    for (u32 i = 0; i < ARRAY_LEN(statements); i++) {
        suggest_consider(&suggestion, keyword, statements[i].keyword);
    }
    char hint[96];
    return parser_error(parser, keyword->column, "unknown statement '%.*s'%s",
                        (int)keyword->length, keyword->start,
                        suggest_text(&suggestion, hint, sizeof(hint)));
}

/* ===== Whole-file validation ===== */

static bool parser_error_at(struct parser *parser, struct position position, const char *message,
                            u64 a_ns, u64 b_ns)
{
    parser->line = position.line;
    char a[32], b[32];
    snprintf(a, sizeof(a), "%" PRIu64 ".%03" PRIu64 "s", a_ns / NS_PER_S,
             a_ns % NS_PER_S / NS_PER_MS);
    snprintf(b, sizeof(b), "%" PRIu64 ".%03" PRIu64 "s", b_ns / NS_PER_S,
             b_ns % NS_PER_S / NS_PER_MS);
    return parser_error(parser, position.column, message, a, b);
}

/* With a group the simulator makes __consumer_offsets as replicated as the workload's topic,
 * since the checkers judge the loss of a group's records by the topic's replication. */
static bool validate_group_properties(struct parser *parser)
{
    const struct scenario *scenario = parser->scenario;
    if (scenario->workload.group[0] == '\0') return true;
    static const char key[] = "offsets.topic.replication.factor=";
    for (u32 i = 0; i < scenario->node_count; i++) {
        const char *properties = scenario->nodes[i].properties;
        for (const char *line = properties; *line != '\0';) {
            if (strncmp(line, key, sizeof(key) - 1) == 0) {
                parser->line = parser->workload_at.line;
                return parser_error(parser, parser->workload_at.column,
                                    "with a group the simulator sets offsets.topic.replication."
                                    "factor to the workload's replication; node '%s' must not "
                                    "set it", scenario->nodes[i].name);
            }
            const char *newline = strchr(line, '\n');
            if (newline == NULL) break;
            line = newline + 1;
        }
    }
    return true;
}

static bool validate_topology(struct parser *parser)
{
    const struct scenario *scenario = parser->scenario;
    u32 voters = 0;
    for (u32 i = 0; i < scenario->node_count; i++) voters += scenario->nodes[i].voter ? 1 : 0;
    parser->line = 1;
    if (scenario->node_count == 0) return parser_error(parser, 1, "the scenario declares no node");
    if (voters == 0) {
        parser->line = scenario->nodes[0].line;
        return parser_error(parser, 1, "no node is a voter: the quorum needs at least one");
    }
    if (voters > CONFIG_VOTERS_MAX) {
        parser->line = scenario->nodes[scenario->node_count - 1].line;
        return parser_error(parser, 1, "too many voters (%u; at most %u)", voters,
                            CONFIG_VOTERS_MAX);
    }
    if (scenario->workload.replication_factor > scenario->node_count) {
        parser->line = parser->replication_at.line;
        return parser_error(parser, parser->replication_at.column, "replication factor %u is "
                            "more than the %u nodes (each replica needs its own broker)",
                            scenario->workload.replication_factor, scenario->node_count);
    }
    if (!validate_group_properties(parser)) return false;
    if (scenario->run_ns == 0) return parser_error(parser, 1, "missing 'run DURATION'");
    if (scenario->check_count == 0) {
        return parser_error(parser, 1, "no 'check' line: name what the run must prove "
                                       "(build/ksim checks lists them)");
    }
    return true;
}

static bool validate_faults(struct parser *parser)
{
    const struct scenario *scenario = parser->scenario;
    for (u32 i = 0; i < scenario->fault_count; i++) {
        const struct scenario_fault *fault = &scenario->faults[i];
        if (fault->at_ns >= scenario->run_ns) {
            return parser_error_at(parser, parser->fault_at[i],
                                   "this fault at %s is not before the run ends at %s",
                                   fault->at_ns, scenario->run_ns);
        }
        bool recovers = fault->kind == FAULT_RESTART || fault->kind == FAULT_RESUME ||
                        fault->kind == FAULT_HEAL;
        if (scenario->heal_at_ns != 0 && !recovers && fault->at_ns >= scenario->heal_at_ns) {
            return parser_error_at(parser, parser->fault_at[i],
                                   "this fault at %s is not before heal-at %s (after heal-at "
                                   "only heal, restart and resume may happen)",
                                   fault->at_ns, scenario->heal_at_ns);
        }
        if (scenario->swarm.enabled && fault->at_ns > scenario->swarm.faults_until_ns &&
            !recovers) {
            return parser_error_at(parser, parser->fault_at[i],
                                   "this fault at %s is after the swarm phase ends at %s",
                                   fault->at_ns, scenario->swarm.faults_until_ns);
        }
    }
    return true;
}

static bool validate_phases(struct parser *parser)
{
    const struct scenario *scenario = parser->scenario;
    u64 run = scenario->run_ns;
    if (scenario->heal_at_ns >= run) {
        return parser_error_at(parser, parser->heal_at, "heal-at %s is not before the run ends "
                               "at %s", scenario->heal_at_ns, run);
    }
    if (scenario->swarm.enabled) {
        u64 until = scenario->swarm.faults_until_ns;
        if (until == 0 || until >= run) {
            return parser_error_at(parser, parser->swarm_at, "swarm until %s must be after 0 "
                                   "and before the run ends at %s", until, run);
        }
        if (scenario->heal_at_ns != 0 && scenario->heal_at_ns < until) {
            return parser_error_at(parser, parser->heal_at, "heal-at %s is before the swarm "
                                   "phase ends at %s", scenario->heal_at_ns, until);
        }
    }
    u64 healed = scenario->heal_at_ns != 0 ? scenario->heal_at_ns
                                           : scenario->swarm.faults_until_ns;
    if (healed != 0 && healed + scenario->liveness_bound_ns > run) {
        struct position where = parser->liveness_at.line != 0 ? parser->liveness_at
                                : parser->heal_at.line != 0   ? parser->heal_at
                                                              : parser->swarm_at;
        return parser_error_at(parser, where, "the liveness bound ends at %s, after the run "
                               "ends at %s", healed + scenario->liveness_bound_ns, run);
    }
    return true;
}

static bool validate_window(struct parser *parser, struct position where, u64 from, u64 to)
{
    if (from == 0 && to == 0) return true;
    if (to > parser->scenario->run_ns) {
        return parser_error_at(parser, where, "the window ends at %s, after the run ends at %s",
                               to, parser->scenario->run_ns);
    }
    return true;
}

static bool validate_checks(struct parser *parser)
{
    const struct scenario *scenario = parser->scenario;
    for (u32 i = 0; i < scenario->check_count; i++) {
        bool healed = scenario->heal_at_ns != 0 || scenario->swarm.enabled;
        if (strcmp(scenario->checks[i], "liveness") == 0 && !healed) {
            parser->line = parser->check_at[i].line;
            return parser_error(parser, parser->check_at[i].column,
                                "check liveness needs 'heal-at DURATION' (or swarm mode): "
                                "liveness is judged after every fault heals");
        }
        const char *needs = NULL;
        if (strcmp(scenario->checks[i], "unavailable-window") == 0 &&
            scenario->unavailable_to_ns == 0) needs = "expect unavailable FROM..TO";
        if (strcmp(scenario->checks[i], "available-window") == 0 &&
            scenario->available_to_ns == 0) needs = "expect available FROM..TO";
        if (needs != NULL) {
            parser->line = parser->check_at[i].line;
            return parser_error(parser, parser->check_at[i].column, "this check needs '%s'",
                                needs);
        }
    }
    return validate_window(parser, parser->unavailable_at, scenario->unavailable_from_ns,
                           scenario->unavailable_to_ns) &&
           validate_window(parser, parser->available_at, scenario->available_from_ns,
                           scenario->available_to_ns);
}

/* Stable insertion sort by time: same-time faults keep their written order. */
void scenario_faults_sort(struct scenario *scenario)
{
    for (u32 i = 1; i < scenario->fault_count; i++) {
        struct scenario_fault fault = scenario->faults[i];
        u32 j = i;
        while (j > 0 && scenario->faults[j - 1].at_ns > fault.at_ns) {
            scenario->faults[j] = scenario->faults[j - 1];
            j--;
        }
        scenario->faults[j] = fault;
    }
    for (u32 i = 1; i < scenario->fault_count; i++) {
        ASSERT(scenario->faults[i - 1].at_ns <= scenario->faults[i].at_ns);
    }
}

/* Defaults for everything a file may leave out; documented in scenarios/README.md. */
static void scenario_defaults(struct scenario *scenario, const char *path)
{
    memset(scenario, 0, sizeof(*scenario));
    snprintf(scenario->path, sizeof(scenario->path), "%s", path);
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    size_t length = strcspn(base, ".");
    if (length >= SCENARIO_NAME_MAX) length = SCENARIO_NAME_MAX - 1;
    memcpy(scenario->name, base, length);
    scenario->wan_latency_min_ns = 5 * NS_PER_MS;
    scenario->wan_latency_max_ns = 15 * NS_PER_MS;
    scenario->connection_timeout_ns = 3 * NS_PER_S;
    scenario->disk_latency_min_ns = 50 * NS_PER_US;
    scenario->disk_latency_max_ns = 2 * NS_PER_MS;
    scenario->liveness_bound_ns = 10 * NS_PER_S;
}

bool scenario_parse(const char *path, const char *text, struct scenario *scenario, char *error,
                    u32 error_size)
{
    ASSERT(path != NULL && text != NULL && scenario != NULL);
    ASSERT(error != NULL && error_size > 0);
    struct parser parser;
    memset(&parser, 0, sizeof(parser));
    parser.path = path;
    parser.scenario = scenario;
    parser.error = error;
    parser.error_size = error_size;
    error[0] = '\0';
    scenario_defaults(scenario, path);

    const char *line = text;
    for (parser.line = 1; *line != '\0'; parser.line++) {
        if (!lex_line(&parser, line) || !parser_statement(&parser)) return false;
        const char *newline = strchr(line, '\n');
        if (newline == NULL) break;
        line = newline + 1;
    }
    if (!validate_topology(&parser) || !validate_faults(&parser) || !validate_phases(&parser) ||
        !validate_checks(&parser)) {
        return false;
    }
    scenario_faults_sort(scenario);
    ASSERT(scenario->node_count > 0 && scenario->run_ns > 0);
    return true;
}

bool scenario_load(const char *path, struct scenario *scenario, char *error, u32 error_size)
{
    ASSERT(path != NULL && error != NULL && error_size > 0);
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(error, error_size, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    char *text = malloc(SCENARIO_FILE_SIZE_MAX + 1);
    if (text == NULL) {
        fclose(file);
        snprintf(error, error_size, "%s: out of memory", path);
        return false;
    }
    size_t size = fread(text, 1, SCENARIO_FILE_SIZE_MAX + 1, file);
    bool read_failed = ferror(file) != 0;
    fclose(file);
    bool ok = false;
    if (read_failed) {
        snprintf(error, error_size, "%s: cannot read: %s", path, strerror(errno));
    } else if (size > SCENARIO_FILE_SIZE_MAX) {
        snprintf(error, error_size, "%s: larger than %u bytes", path, SCENARIO_FILE_SIZE_MAX);
    } else {
        text[size] = '\0';
        if (strlen(text) != size) {
            snprintf(error, error_size, "%s: contains a NUL byte (not a text file?)", path);
        } else {
            ok = scenario_parse(path, text, scenario, error, error_size);
        }
    }
    free(text);
    return ok;
}
