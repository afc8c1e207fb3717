/* group_coordinator.c: Kafka's classic group coordinator as a state machine (see the header).
 *
 * The rules follow Kafka's GroupMetadataManager and ClassicGroup (group-coordinator module,
 * 3.9): the same states, the same checks in the same order, the same error codes. What
 * differs is how it is held: groups and members are arrays scanned in index order (Kafka's
 * hash maps would make the order of answers and the choice of a new leader depend on hashing),
 * timers are deadlines the owner asks for (group_next_deadline) and fires (tick), and a
 * request's answer goes either back to the caller at once or later through owner.answer.
 *
 * Answers. Every request handler runs between request_begin and request_end. Answering a
 * token (answer_begin/answer_end) that is the current request's own fills the caller's
 * response in the caller's arena (the request is then GROUP_ANSWERED), any other token goes
 * to owner.answer with a response built in the coordinator's arena. So the Kafka logic can
 * complete "futures" without caring whose they are: the last member to rejoin completes the
 * rebalance and with it its own JoinGroup, at once, and everyone else's through the owner.
 *
 * Persistence. What must survive a failover is written as __consumer_offsets records
 * (group_records.h) in batches handed to owner.persist; each batch has a persist slot saying
 * what waits on it. Offsets become visible (OffsetFetch) only once their batch is committed:
 * the committed batch is replayed exactly as a loading coordinator replays the log. */
#include "group_coordinator.h"

#include <stdlib.h>
#include <string.h>

#include "../log/record_batch.h"
#include "../protocol/errors_generated.h"
#include "group_records.h"

#define NEW_MEMBER_JOIN_TIMEOUT_MS 300000 /* Kafka's classicGroupNewMemberJoinTimeoutMs. */
#define RETENTION_CHECK_DEFAULT_MS 600000 /* offsets.retention.check.interval.ms */
#define MEMBER_ID_PREFIX_MAX 255u
#define ANSWER_ARENA_SIZE (1024u * 1024u)
#define SCRATCH_ARENA_SIZE (256u * 1024u)
#define RECORD_OVERHEAD_MAX 40u /* A record's framing around its key and value, at most. */
#define TICK_EVENTS_MAX 1000000u

static const u8 EMPTY_BYTES[1] = {0};

/* ================================================================================ */
/* Owned strings and bytes                                                          */
/* ================================================================================ */

/* A NUL-terminated copy of a wire string (which may itself hold NUL bytes); size -1 = null. */
struct text {
    char *data;
    i32 size;
};

struct blob {
    u8 *data;
    i32 size;
};

static const struct text TEXT_NULL = {NULL, -1};

static bool text_set(struct text *text, const char *data, i32 size)
{
    *text = TEXT_NULL;
    if (size < 0) return true;
    char *copy = malloc((size_t)size + 1);
    if (copy == NULL) return false;
    if (size > 0) memcpy(copy, data, (size_t)size);
    copy[size] = 0;
    text->data = copy;
    text->size = size;
    return true;
}

static bool text_of(struct text *text, struct proto_string string)
{
    return text_set(text, string.data, string.size);
}

static void text_free(struct text *text)
{
    free(text->data);
    *text = TEXT_NULL;
}

static struct proto_string text_view(const struct text *text)
{
    return (struct proto_string){text->data, text->size};
}

static bool strings_equal(struct proto_string a, struct proto_string b)
{
    if (a.size != b.size) return false;
    return a.size <= 0 || memcmp(a.data, b.data, (size_t)a.size) == 0;
}

static bool text_is(const struct text *text, struct proto_string string)
{
    return strings_equal(text_view(text), string);
}

static bool blob_set(struct blob *blob, const u8 *data, i32 size)
{
    blob->data = NULL;
    blob->size = 0;
    if (size <= 0) return true;
    blob->data = malloc((size_t)size);
    if (blob->data == NULL) return false;
    memcpy(blob->data, data, (size_t)size);
    blob->size = size;
    return true;
}

static void blob_free(struct blob *blob)
{
    free(blob->data);
    blob->data = NULL;
    blob->size = 0;
}

static struct proto_bytes blob_view(const struct blob *blob)
{
    return (struct proto_bytes){blob->size > 0 ? blob->data : EMPTY_BYTES, blob->size};
}

static const struct proto_string EMPTY_STRING = {"", 0};

/* A protocol type or name: short, so a group holds it without allocating (a rebalance never
 * fails for want of memory). */
struct label {
    i32 size; /* -1: none. */
    char data[GROUP_PROTOCOL_NAME_MAX + 1];
};

static void label_set(struct label *label, struct proto_string string)
{
    ASSERT(string.size <= (i32)GROUP_PROTOCOL_NAME_MAX);
    label->size = string.size;
    if (string.size > 0) memcpy(label->data, string.data, (size_t)string.size);
    label->data[MAX(string.size, 0)] = 0;
}

static struct proto_string label_view(const struct label *label)
{
    return (struct proto_string){label->size >= 0 ? label->data : NULL, label->size};
}

static bool label_is(const struct label *label, struct proto_string string)
{
    return strings_equal(label_view(label), string);
}

static i64 ms_of(u64 ns) { return (i64)(ns / NS_PER_MS); }

static u64 after_ms(u64 now_ns, i64 ms)
{
    if (ms <= 0) return now_ns;
    u64 delta = (u64)ms * NS_PER_MS;
    return now_ns > UINT64_MAX - delta ? UINT64_MAX - 1 : now_ns + delta;
}

/* ================================================================================ */
/* State                                                                            */
/* ================================================================================ */

enum group_state { STATE_EMPTY, STATE_PREPARING, STATE_COMPLETING, STATE_STABLE, STATE_DEAD };

static const char *const STATE_NAMES[] = {
    [STATE_EMPTY] = "Empty",
    [STATE_PREPARING] = "PreparingRebalance",
    [STATE_COMPLETING] = "CompletingRebalance",
    [STATE_STABLE] = "Stable",
    [STATE_DEAD] = "Dead",
};

struct member_protocol {
    struct text name;
    struct blob metadata;
};

struct member {
    u64 serial;
    struct text id;
    struct text instance_id; /* Null for a dynamic member. */
    struct text client_id;
    struct text client_host;
    i32 rebalance_timeout_ms;
    i32 session_timeout_ms;
    struct member_protocol protocols[GROUP_PROTOCOLS_MAX];
    u32 protocol_count;
    struct blob assignment;
    i32 assigned_generation; /* The generation the assignment belongs to (-1: none). */
    /* A parked JoinGroup / SyncGroup. A cancelled one still counts (the member is awaiting),
     * as in Kafka, but is answered to nobody. */
    bool awaiting_join, join_answerable;
    u64 join_token;
    i16 join_version;
    bool awaiting_sync, sync_answerable;
    u64 sync_token;
    i16 sync_version;
    bool pending_sync; /* Must send SyncGroup in this generation before sync_deadline. */
    bool is_new;       /* Joined but never completed a JoinGroup. */
    u64 heartbeat_deadline;
};

/* A member id handed out with MEMBER_ID_REQUIRED, not yet joined. */
struct pending_member {
    struct text id;
    u64 deadline;
};

struct offset_entry {
    struct text topic;
    i32 partition;
    i64 offset;
    i32 leader_epoch;
    struct text metadata;
    i64 commit_ms;
    i64 expire_ms; /* -1: none (expiry counts from the group's or the commit's timestamp). */
};

struct group {
    struct text id;
    u32 partition;
    enum group_state state, previous_state;
    i64 state_timestamp_ms; /* When the state last changed (Kafka's currentStateTimestamp). */
    i32 generation;
    u64 serial; /* Names the group to persists in flight (ids can be reused). */
    struct label protocol_type; /* None yet: a group that only stores offsets. */
    struct label protocol_name; /* None outside a generation with members. */
    struct member *members[GROUP_MEMBERS_MAX];
    u32 member_count;
    struct member *leader;
    struct pending_member pending[GROUP_MEMBERS_MAX];
    u32 pending_count;
    /* The join timer: the initial delay (extended while members keep arriving) or the
     * rebalance timeout. */
    u64 join_deadline;
    bool join_initial;
    i64 initial_delay_ms, initial_remaining_ms;
    bool new_member_added;
    u64 sync_deadline;
    struct offset_entry *offsets;
    u32 offset_count, offset_capacity;
    u32 commits_in_flight;
    bool has_metadata; /* A GroupMetadata record was loaded (cleared by its tombstone). */
};

struct partition_info {
    enum group_partition_state state;
    i32 leader_epoch;
    u64 member_counter;
};

enum parked_kind { PARKED_COMMIT, PARKED_DELETE_GROUPS, PARKED_OFFSET_DELETE };

/* A request waiting for its batches: its response is kept encoded (at the request's version)
 * and decoded again to answer, with the errors the batches brought. */
struct parked {
    bool used, answerable;
    u64 token;
    enum parked_kind kind;
    i16 version;
    u32 waiting;
    u8 *skeleton;
    u32 skeleton_size;
    i16 error;          /* Commit: every partition's; OffsetDelete: the top-level one. */
    i16 *result_errors; /* DeleteGroups: per group. */
    u32 result_count;
};

enum persist_kind {
    PERSIST_OFFSETS,        /* Offset commits or tombstones: replayed once committed. */
    PERSIST_SYNC,           /* The leader's assignment of generation `generation`. */
    PERSIST_STATIC_REPLACE, /* A static member's new id, joined without a rebalance. */
    PERSIST_GROUP,          /* Group metadata nobody waits for (a generation left empty). */
    PERSIST_GROUP_REMOVAL,  /* Tombstones of a Dead group (DeleteGroups, expiry). */
};

struct persist {
    bool used;
    u64 token;
    u32 partition;
    enum persist_kind kind;
    i32 parked; /* Index into parked, -1: none. */
    u32 result_index;
    bool counts_commit;  /* Holds one of the group's commits_in_flight. */
    bool removes_group;  /* The batch holding the group tombstone. */
    u64 group_serial;
    i32 generation;
    /* PERSIST_STATIC_REPLACE: the member, and what to restore if the batch fails. */
    u64 member_serial;
    struct text old_member_id;
    i32 old_rebalance_timeout_ms, old_session_timeout_ms;
    u64 join_token;
    u8 *batch;
    u32 batch_size;
};

struct group_coordinator {
    struct group_coordinator_config config;
    struct group_coordinator_owner owner;
    struct partition_info partitions[GROUP_PARTITIONS_MAX];
    struct group *groups[GROUP_GROUPS_MAX];
    u32 group_count;
    struct parked parked[GROUP_PARKED_MAX];
    struct persist persists[GROUP_PERSISTS_MAX];
    u64 next_persist_token;
    u64 next_serial;
    struct persist spare; /* Stands in for a slot when all are taken: fails at once. */
    u64 retention_deadline;
    u64 records_skipped;
    /* Scratch: a batch being built, one encoded record value, and two arenas (answers given
     * through owner.answer; records decoded while loading or replaying). */
    u8 *batch_buffer;
    u8 *record_buffer;
    struct proto_arena answer_arena;
    struct proto_arena scratch_arena;
    union kafka_response answer_response;
    /* The request being handled (see "Answers" above). */
    bool busy;
    bool inline_active, inline_answered;
    u64 inline_token;
    i16 inline_api_key;
    struct proto_arena *inline_arena;
    union kafka_response *inline_response;
};

/* ================================================================================ */
/* Answers                                                                          */
/* ================================================================================ */

struct answer {
    union kafka_response *response;
    struct proto_arena *arena;
    bool is_inline;
};

static void enter(struct group_coordinator *c)
{
    ASSERT(!c->busy); /* The owner called back into the coordinator from answer or persist. */
    c->busy = true;
}

static void leave(struct group_coordinator *c)
{
    ASSERT(c->busy);
    c->busy = false;
}

static void request_begin(struct group_coordinator *c, u64 token, i16 api_key,
                          struct proto_arena *arena, union kafka_response *response)
{
    enter(c);
    ASSERT(arena != NULL && response != NULL);
    c->inline_active = true;
    c->inline_answered = false;
    c->inline_token = token;
    c->inline_api_key = api_key;
    c->inline_arena = arena;
    c->inline_response = response;
}

static enum group_outcome request_end(struct group_coordinator *c)
{
    bool answered = c->inline_answered;
    c->inline_active = false;
    c->inline_answered = false;
    leave(c);
    return answered ? GROUP_ANSWERED : GROUP_PARKED;
}

static struct answer answer_begin(struct group_coordinator *c, u64 token, i16 api_key)
{
    if (c->inline_active && token == c->inline_token) {
        ASSERT(!c->inline_answered);
        ASSERT(c->inline_api_key == api_key);
        return (struct answer){c->inline_response, c->inline_arena, true};
    }
    proto_arena_reset(&c->answer_arena);
    memset(&c->answer_response, 0, sizeof(c->answer_response));
    return (struct answer){&c->answer_response, &c->answer_arena, false};
}

static void answer_end(struct group_coordinator *c, u64 token, i16 api_key, i16 version,
                       const struct answer *answer)
{
    if (answer->is_inline) {
        c->inline_answered = true;
        return;
    }
    c->owner.answer(c->owner.context, token, api_key, version, answer->response);
}

/* Items for a response array; NULL (and count 0 to the caller) when the arena is full. */
static void *answer_items(struct answer *answer, u64 count, u64 size)
{
    if (count == 0) return NULL;
    return proto_arena_alloc(answer->arena, count * size);
}

/* ================================================================================ */
/* Lookup                                                                           */
/* ================================================================================ */

static i32 java_hash_latin1(const u8 *bytes, u32 size)
{
    u32 hash = 0;
    for (u32 i = 0; i < size; i++) hash = hash * 31u + bytes[i];
    return (i32)hash;
}

u32 group_partition_of(const char *group_id, u32 size, u32 partitions)
{
    ASSERT(partitions > 0);
    ASSERT(group_id != NULL || size == 0);
    const u8 *bytes = (const u8 *)group_id;
    u32 hash = 0;
    bool valid = true;
    for (u32 i = 0; i < size && valid;) {
        u8 first = bytes[i];
        u32 code = 0, length = 0, minimum = 0;
        if (first < 0x80) { code = first; length = 1; }
        else if ((first & 0xe0) == 0xc0) { code = first & 0x1fu; length = 2; minimum = 0x80; }
        else if ((first & 0xf0) == 0xe0) { code = first & 0x0fu; length = 3; minimum = 0x800; }
        else if ((first & 0xf8) == 0xf0) { code = first & 0x07u; length = 4; minimum = 0x10000; }
        else { valid = false; break; }
        if (size - i < length) { valid = false; break; }
        for (u32 k = 1; k < length; k++) {
            if ((bytes[i + k] & 0xc0) != 0x80) valid = false;
            code = code << 6 | (bytes[i + k] & 0x3fu);
        }
        if (!valid || code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
            valid = false;
            break;
        }
        if (code >= 0x10000) { /* Java strings hold UTF-16: a surrogate pair. */
            u32 v = code - 0x10000;
            hash = hash * 31u + (0xd800u + (v >> 10));
            hash = hash * 31u + (0xdc00u + (v & 0x3ffu));
        } else {
            hash = hash * 31u + code;
        }
        i += length;
    }
    i32 java = valid ? (i32)hash : java_hash_latin1(bytes, size);
    /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0. */
    u32 positive = java == INT32_MIN ? 0u : (u32)(java < 0 ? -java : java);
    return positive % partitions;
}

static u32 partition_of(const struct group_coordinator *c, struct proto_string id)
{
    return group_partition_of(id.size > 0 ? id.data : "", (u32)MAX(id.size, 0),
                              c->config.offsets_partitions);
}

/* NONE when the group's partition is served here, else the error to answer. */
static i16 partition_error(const struct group_coordinator *c, struct proto_string id)
{
    switch (c->partitions[partition_of(c, id)].state) {
    case GROUP_PARTITION_LOADED: return KAFKA_ERROR_NONE;
    case GROUP_PARTITION_LOADING: return KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS;
    case GROUP_PARTITION_NONE: return KAFKA_ERROR_NOT_COORDINATOR;
    }
    return KAFKA_ERROR_NOT_COORDINATOR;
}

static i32 group_find(const struct group_coordinator *c, struct proto_string id)
{
    for (u32 i = 0; i < c->group_count; i++) {
        if (text_is(&c->groups[i]->id, id)) return (i32)i;
    }
    return -1;
}

static struct group *group_get(const struct group_coordinator *c, struct proto_string id)
{
    i32 index = group_find(c, id);
    return index < 0 ? NULL : c->groups[index];
}

static i32 member_find(const struct group *g, struct proto_string id)
{
    for (u32 i = 0; i < g->member_count; i++) {
        if (text_is(&g->members[i]->id, id)) return (i32)i;
    }
    return -1;
}

static struct member *member_get(const struct group *g, struct proto_string id)
{
    i32 index = member_find(g, id);
    return index < 0 ? NULL : g->members[index];
}

static struct member *static_member(const struct group *g, struct proto_string instance_id)
{
    if (instance_id.size < 0) return NULL;
    for (u32 i = 0; i < g->member_count; i++) {
        if (text_is(&g->members[i]->instance_id, instance_id)) return g->members[i];
    }
    return NULL;
}

static i32 pending_find(const struct group *g, struct proto_string id)
{
    for (u32 i = 0; i < g->pending_count; i++) {
        if (text_is(&g->pending[i].id, id)) return (i32)i;
    }
    return -1;
}

static i32 offset_find(const struct group *g, struct proto_string topic, i32 partition)
{
    for (u32 i = 0; i < g->offset_count; i++) {
        const struct offset_entry *entry = &g->offsets[i];
        if (entry->partition == partition && text_is(&entry->topic, topic)) return (i32)i;
    }
    return -1;
}

static bool group_is_consumer(const struct group *g)
{
    return label_is(&g->protocol_type, (struct proto_string){"consumer", 8});
}

static const struct member_protocol *member_protocol(const struct member *m,
                                                     struct proto_string name)
{
    for (u32 i = 0; i < m->protocol_count; i++) {
        if (text_is(&m->protocols[i].name, name)) return &m->protocols[i];
    }
    return NULL;
}

static struct proto_bytes member_metadata(const struct member *m, const struct label *protocol)
{
    const struct member_protocol *p =
        protocol->size >= 0 ? member_protocol(m, label_view(protocol)) : NULL;
    return p == NULL ? (struct proto_bytes){EMPTY_BYTES, 0} : blob_view(&p->metadata);
}

/* ================================================================================ */
/* Groups and members: creation and removal                                         */
/* ================================================================================ */

static void member_protocols_free(struct member *m)
{
    for (u32 i = 0; i < m->protocol_count; i++) {
        text_free(&m->protocols[i].name);
        blob_free(&m->protocols[i].metadata);
    }
    m->protocol_count = 0;
}

static void member_free(struct member *m)
{
    text_free(&m->id);
    text_free(&m->instance_id);
    text_free(&m->client_id);
    text_free(&m->client_host);
    member_protocols_free(m);
    blob_free(&m->assignment);
    free(m);
}

static struct group *group_create(struct group_coordinator *c, struct proto_string id,
                                  u32 partition)
{
    if (c->group_count >= GROUP_GROUPS_MAX) return NULL;
    struct group *g = calloc(1, sizeof(*g));
    if (g == NULL) return NULL;
    if (!text_of(&g->id, id)) {
        free(g);
        return NULL;
    }
    g->partition = partition;
    g->state = g->previous_state = STATE_EMPTY;
    g->state_timestamp_ms = -1;
    g->serial = ++c->next_serial;
    g->protocol_type.size = -1;
    g->protocol_name.size = -1;
    g->join_deadline = UINT64_MAX;
    g->sync_deadline = UINT64_MAX;
    c->groups[c->group_count++] = g;
    return g;
}

static void group_free(struct group *g)
{
    for (u32 i = 0; i < g->member_count; i++) member_free(g->members[i]);
    for (u32 i = 0; i < g->pending_count; i++) text_free(&g->pending[i].id);
    for (u32 i = 0; i < g->offset_count; i++) {
        text_free(&g->offsets[i].topic);
        text_free(&g->offsets[i].metadata);
    }
    free(g->offsets);
    text_free(&g->id);
    free(g);
}

/* Drops a group from the table (its members must have been answered). */
static void group_drop(struct group_coordinator *c, struct group *g)
{
    u32 index = c->group_count;
    for (u32 i = 0; i < c->group_count; i++) {
        if (c->groups[i] == g) index = i;
    }
    ASSERT(index < c->group_count);
    memmove(&c->groups[index], &c->groups[index + 1],
            (c->group_count - index - 1) * sizeof(c->groups[0]));
    c->group_count--;
    group_free(g);
}

static void transition(struct group *g, enum group_state state, u64 now_ns)
{
    g->previous_state = g->state;
    g->state = state;
    g->state_timestamp_ms = ms_of(now_ns);
}

/* Takes a member out of the group's array (no answers); the new leader is the first left. */
static void member_unlink(struct group *g, struct member *m)
{
    u32 index = g->member_count;
    for (u32 i = 0; i < g->member_count; i++) {
        if (g->members[i] == m) index = i;
    }
    ASSERT(index < g->member_count);
    memmove(&g->members[index], &g->members[index + 1],
            (g->member_count - index - 1) * sizeof(g->members[0]));
    g->member_count--;
    if (g->leader == m) g->leader = g->member_count > 0 ? g->members[0] : NULL;
}

static void pending_remove(struct group *g, u32 index)
{
    ASSERT(index < g->pending_count);
    text_free(&g->pending[index].id);
    memmove(&g->pending[index], &g->pending[index + 1],
            (g->pending_count - index - 1) * sizeof(g->pending[0]));
    g->pending_count--;
}

/* Copies a JoinGroup's protocols (duplicate names keep their first occurrence). */
static bool protocols_copy(struct member_protocol *out, u32 *count,
                           const struct kafka_join_group_request *request)
{
    *count = 0;
    for (i32 i = 0; i < request->Protocols.count; i++) {
        const struct kafka_join_group_request_protocol *p = &request->Protocols.items[i];
        bool duplicate = false;
        for (u32 k = 0; k < *count; k++) duplicate |= text_is(&out[k].name, p->Name);
        if (duplicate) continue;
        ASSERT(*count < GROUP_PROTOCOLS_MAX);
        struct member_protocol *copy = &out[*count];
        if (!text_of(&copy->name, p->Name)) goto failed;
        if (!blob_set(&copy->metadata, p->Metadata.data, p->Metadata.size)) {
            text_free(&copy->name);
            goto failed;
        }
        (*count)++;
    }
    return true;
failed:
    for (u32 k = 0; k < *count; k++) {
        text_free(&out[k].name);
        blob_free(&out[k].metadata);
    }
    *count = 0;
    return false;
}

static bool protocols_match(const struct member *m,
                            const struct kafka_join_group_request *request)
{
    u32 k = 0;
    for (i32 i = 0; i < request->Protocols.count; i++) {
        const struct kafka_join_group_request_protocol *p = &request->Protocols.items[i];
        bool duplicate = false;
        for (i32 j = 0; j < i; j++) {
            duplicate |= strings_equal(request->Protocols.items[j].Name, p->Name);
        }
        if (duplicate) continue;
        if (k >= m->protocol_count || !text_is(&m->protocols[k].name, p->Name)) return false;
        struct proto_bytes mine = blob_view(&m->protocols[k].metadata);
        if (mine.size != MAX(p->Metadata.size, 0)) return false;
        if (mine.size > 0 && memcmp(mine.data, p->Metadata.data, (size_t)mine.size) != 0) {
            return false;
        }
        k++;
    }
    return k == m->protocol_count;
}

/* How many members list a protocol of this name. */
static u32 protocol_support(const struct group *g, struct proto_string name)
{
    u32 count = 0;
    for (u32 i = 0; i < g->member_count; i++) {
        if (member_protocol(g->members[i], name) != NULL) count++;
    }
    return count;
}

/* Kafka's supportsProtocols. */
static bool supports_protocols(const struct group *g,
                               const struct kafka_join_group_request *request)
{
    if (g->state == STATE_EMPTY) {
        return request->ProtocolType.size > 0 && request->Protocols.count > 0;
    }
    if (!label_is(&g->protocol_type, request->ProtocolType)) return false;
    for (i32 i = 0; i < request->Protocols.count; i++) {
        if (protocol_support(g, request->Protocols.items[i].Name) == g->member_count) {
            return true;
        }
    }
    return false;
}

/* The protocol every member supports with the most first-choice votes; ties go to the earliest
 * in the first member's list. */
static const struct text *select_protocol(const struct group *g)
{
    ASSERT(g->member_count > 0);
    const struct member *first = g->members[0];
    const struct text *best = NULL;
    u32 best_votes = 0;
    for (u32 p = 0; p < first->protocol_count; p++) {
        const struct text *candidate = &first->protocols[p].name;
        if (protocol_support(g, text_view(candidate)) != g->member_count) continue;
        u32 votes = 0;
        for (u32 i = 0; i < g->member_count; i++) {
            const struct member *m = g->members[i];
            for (u32 k = 0; k < m->protocol_count; k++) {
                struct proto_string name = text_view(&m->protocols[k].name);
                if (protocol_support(g, name) != g->member_count) continue;
                if (text_is(candidate, name)) votes++;
                break; /* A member votes for its first candidate only. */
            }
        }
        if (best == NULL || votes > best_votes) {
            best = candidate;
            best_votes = votes;
        }
    }
    ASSERT(best != NULL); /* Every member was admitted supporting a common protocol. */
    return best;
}

static u32 rebalance_timeout_ms(const struct group *g)
{
    i32 timeout = 0;
    for (u32 i = 0; i < g->member_count; i++) {
        timeout = MAX(timeout, g->members[i]->rebalance_timeout_ms);
    }
    return (u32)timeout;
}

static u32 awaiting_join_count(const struct group *g)
{
    u32 count = 0;
    for (u32 i = 0; i < g->member_count; i++) count += g->members[i]->awaiting_join;
    return count;
}

static bool all_members_joined(const struct group *g)
{
    return awaiting_join_count(g) == g->member_count && g->pending_count == 0;
}

static bool has_satisfied_heartbeat(const struct member *m)
{
    if (m->is_new) return false;
    return m->awaiting_join || m->awaiting_sync;
}

/* ================================================================================ */
/* JoinGroup and SyncGroup answers                                                  */
/* ================================================================================ */

/* A JoinGroup answer. With a group, it carries the group's generation, protocol and leader
 * (and every member's metadata when with_members: the leader's answer). */
static void join_reply(struct group_coordinator *c, u64 token, i16 version, i16 error,
                       struct proto_string member_id, const struct group *g, bool with_members,
                       bool skip_assignment)
{
    struct answer a = answer_begin(c, token, KAFKA_API_JOIN_GROUP);
    struct kafka_join_group_response *r = &a.response->JoinGroup;
    kafka_join_group_response_init(r);
    r->ErrorCode = error;
    r->MemberId = member_id;
    r->ProtocolName = PROTO_STRING_NULL;
    r->Leader = EMPTY_STRING;
    if (g != NULL) {
        r->GenerationId = g->generation;
        r->ProtocolName = label_view(&g->protocol_name);
        if (version >= 7) r->ProtocolType = label_view(&g->protocol_type);
        if (g->leader != NULL) r->Leader = text_view(&g->leader->id);
        r->SkipAssignment = skip_assignment && version >= 9;
    }
    if (version < 7 && r->ProtocolName.size < 0) r->ProtocolName = EMPTY_STRING;
    if (g != NULL && with_members && g->member_count > 0) {
        struct kafka_join_group_response_member *items =
            answer_items(&a, g->member_count, sizeof(*items));
        if (items == NULL) {
            r->ErrorCode = KAFKA_ERROR_UNKNOWN_SERVER_ERROR; /* The caller's arena is too small. */
        } else {
            for (u32 i = 0; i < g->member_count; i++) {
                const struct member *m = g->members[i];
                kafka_join_group_response_member_init(&items[i]);
                items[i].MemberId = text_view(&m->id);
                if (version >= 5) items[i].GroupInstanceId = text_view(&m->instance_id);
                items[i].Metadata = member_metadata(m, &g->protocol_name);
            }
            r->Members.items = items;
            r->Members.count = (i32)g->member_count;
        }
    }
    answer_end(c, token, KAFKA_API_JOIN_GROUP, version, &a);
}

static void join_error(struct group_coordinator *c, u64 token, i16 version, i16 error,
                       struct proto_string member_id)
{
    join_reply(c, token, version, error, member_id, NULL, false, false);
}

/* Answers a member's parked JoinGroup, if it has one (Kafka's completeJoinFuture). */
static bool member_join_answer(struct group_coordinator *c, struct group *g, struct member *m,
                               i16 error, bool with_group, bool skip_assignment)
{
    if (!m->awaiting_join) return false;
    m->awaiting_join = false;
    if (!m->join_answerable) return true;
    if (error != KAFKA_ERROR_NONE && !with_group) {
        struct proto_string id = error == KAFKA_ERROR_UNKNOWN_MEMBER_ID ? EMPTY_STRING
                                                                         : text_view(&m->id);
        join_error(c, m->join_token, m->join_version, error, id);
    } else {
        join_reply(c, m->join_token, m->join_version, error, text_view(&m->id), g,
                   m == g->leader, skip_assignment);
    }
    return true;
}

static void sync_reply(struct group_coordinator *c, u64 token, i16 version, i16 error,
                       const struct group *g, struct proto_bytes assignment)
{
    struct answer a = answer_begin(c, token, KAFKA_API_SYNC_GROUP);
    struct kafka_sync_group_response *r = &a.response->SyncGroup;
    kafka_sync_group_response_init(r);
    r->ErrorCode = error;
    r->Assignment = error == KAFKA_ERROR_NONE ? assignment : (struct proto_bytes){EMPTY_BYTES, 0};
    if (error == KAFKA_ERROR_NONE && g != NULL && version >= 5) {
        r->ProtocolType = label_view(&g->protocol_type);
        r->ProtocolName = label_view(&g->protocol_name);
    }
    answer_end(c, token, KAFKA_API_SYNC_GROUP, version, &a);
}

static void member_sync_answer(struct group_coordinator *c, const struct group *g,
                               struct member *m, i16 error)
{
    if (!m->awaiting_sync) return;
    m->awaiting_sync = false;
    if (m->sync_answerable) {
        sync_reply(c, m->sync_token, m->sync_version, error, g, blob_view(&m->assignment));
    }
}

/* Removes a member, answering what it had parked (UNKNOWN_MEMBER_ID: it is no longer one). */
static void member_remove(struct group_coordinator *c, struct group *g, struct member *m)
{
    member_join_answer(c, g, m, KAFKA_ERROR_UNKNOWN_MEMBER_ID, false, false);
    member_sync_answer(c, g, m, KAFKA_ERROR_UNKNOWN_MEMBER_ID);
    member_unlink(g, m);
    member_free(m);
}

/* ================================================================================ */
/* Persisting                                                                       */
/* ================================================================================ */

struct batch_writer {
    struct batch_builder builder;
    i64 now_ms;
};

static void batch_start(struct group_coordinator *c, struct batch_writer *w, u64 now_ns)
{
    w->now_ms = ms_of(now_ns);
    batch_builder_init(&w->builder, c->batch_buffer, GROUP_BATCH_MAX, 0, w->now_ms);
}

static bool batch_fits(const struct batch_writer *w, u32 key_size, u32 value_size)
{
    return w->builder.size + key_size + value_size + RECORD_OVERHEAD_MAX <= GROUP_BATCH_MAX;
}

/* value NULL: a tombstone. */
static void batch_put(struct batch_writer *w, const u8 *key, u32 key_size, const u8 *value,
                      u32 value_size)
{
    ASSERT(batch_fits(w, key_size, value_size));
    batch_builder_add(&w->builder, w->now_ms, key, (i32)key_size, value,
                      value == NULL ? -1 : (i32)value_size, NULL, 0);
    ASSERT(!w->builder.failed);
}

static u32 batch_records(const struct batch_writer *w)
{
    return (u32)w->builder.header.RecordCount;
}

/* Kafka's mapping of a failed append to what the waiting requests are told
 * (CoordinatorOperationExceptionHelper, GroupMetadataManager.appendGroupMetadataErrorToResponse
 * Error). */
static i16 persist_error_mapped(i16 error)
{
    switch (error) {
    case KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION:
    case KAFKA_ERROR_NOT_ENOUGH_REPLICAS:
    case KAFKA_ERROR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case KAFKA_ERROR_REQUEST_TIMED_OUT: return KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
    case KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER:
    case KAFKA_ERROR_KAFKA_STORAGE_ERROR: return KAFKA_ERROR_NOT_COORDINATOR;
    case KAFKA_ERROR_MESSAGE_TOO_LARGE:
    case KAFKA_ERROR_RECORD_LIST_TOO_LARGE:
    case KAFKA_ERROR_INVALID_FETCH_SIZE: return KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
    default: return error;
    }
}

static struct persist *persist_prepare(struct group_coordinator *c, u32 partition,
                                       enum persist_kind kind)
{
    struct persist *p = &c->spare;
    for (u32 i = 0; i < GROUP_PERSISTS_MAX; i++) {
        if (!c->persists[i].used) {
            p = &c->persists[i];
            break;
        }
    }
    ASSERT(!p->used);
    memset(p, 0, sizeof(*p));
    p->used = true;
    p->partition = partition;
    p->kind = kind;
    p->parked = -1;
    p->old_member_id = TEXT_NULL;
    return p;
}

static void persist_finish(struct group_coordinator *c, struct persist *slot, i16 error,
                           u64 now_ns, bool unloading);

/* Hands the batch built in batch_buffer to the owner; what cannot start fails at once. */
static void persist_submit(struct group_coordinator *c, struct persist *p, u32 size,
                           u64 now_ns)
{
    ASSERT(p->used && size > 0 && size <= GROUP_BATCH_MAX);
    if (p == &c->spare) {
        persist_finish(c, p, KAFKA_ERROR_REQUEST_TIMED_OUT, now_ns, false);
        return;
    }
    p->batch = malloc(size);
    if (p->batch == NULL) {
        persist_finish(c, p, KAFKA_ERROR_UNKNOWN_SERVER_ERROR, now_ns, false);
        return;
    }
    memcpy(p->batch, c->batch_buffer, size);
    p->batch_size = size;
    p->token = ++c->next_persist_token;
    if (!c->owner.persist(c->owner.context, p->partition, p->token, p->batch, size)) {
        persist_finish(c, p, KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER, now_ns, false);
    }
}

static void persist_batch(struct group_coordinator *c, struct persist *p,
                          struct batch_writer *w, u64 now_ns)
{
    u64 size = batch_builder_finish(&w->builder);
    ASSERT(size > 0 && size <= GROUP_BATCH_MAX);
    persist_submit(c, p, (u32)size, now_ns);
}

static struct group *group_by_serial(const struct group_coordinator *c, u64 serial)
{
    for (u32 i = 0; i < c->group_count; i++) {
        if (c->groups[i]->serial == serial) return c->groups[i];
    }
    return NULL;
}

static struct member *member_by_serial(const struct group *g, u64 serial)
{
    for (u32 i = 0; i < g->member_count; i++) {
        if (g->members[i]->serial == serial) return g->members[i];
    }
    return NULL;
}

/* Adds the group's GroupMetadata record: its members with the assignments the leader sent
 * (assignments non-NULL; members it left out get an empty one) or their current ones.
 * False when the record is too large for a batch. */
static bool put_group_metadata(struct group_coordinator *c, struct batch_writer *w,
                               const struct group *g,
                               const struct kafka_sync_group_request *assignments)
{
    struct group_member_value members[GROUP_MEMBERS_MAX];
    for (u32 i = 0; i < g->member_count; i++) {
        const struct member *m = g->members[i];
        struct proto_bytes assignment = blob_view(&m->assignment);
        if (assignments != NULL) {
            assignment = (struct proto_bytes){EMPTY_BYTES, 0};
            for (i32 k = 0; k < assignments->Assignments.count; k++) {
                const struct kafka_sync_group_request_assignment *given =
                    &assignments->Assignments.items[k];
                if (text_is(&m->id, given->MemberId)) assignment = given->Assignment;
            }
            if (assignment.size < 0) assignment = (struct proto_bytes){EMPTY_BYTES, 0};
            if (assignment.size > (i32)GROUP_ASSIGNMENT_MAX) return false;
        }
        members[i] = (struct group_member_value){
            .member_id = text_view(&m->id),
            .group_instance_id = text_view(&m->instance_id),
            .client_id = text_view(&m->client_id),
            .client_host = text_view(&m->client_host),
            .rebalance_timeout = m->rebalance_timeout_ms,
            .session_timeout = m->session_timeout_ms,
            .subscription = member_metadata(m, &g->protocol_name),
            .assignment = assignment,
        };
    }
    struct group_metadata_value value = {
        .version = GROUP_METADATA_VALUE_VERSION,
        .protocol_type = g->protocol_type.size >= 0 ? label_view(&g->protocol_type)
                                                    : EMPTY_STRING,
        .generation = g->generation,
        .protocol = label_view(&g->protocol_name),
        .leader = g->leader != NULL ? text_view(&g->leader->id) : PROTO_STRING_NULL,
        .current_state_timestamp = g->state_timestamp_ms,
        .members = members,
        .member_count = g->member_count,
    };
    u8 key[GROUP_ID_MAX + 16];
    u32 key_size = group_metadata_key_encode(key, sizeof(key), text_view(&g->id));
    ASSERT(key_size > 0);
    u32 value_size = group_metadata_value_encode(c->record_buffer, GROUP_BATCH_MAX, &value);
    if (value_size == 0 || !batch_fits(w, key_size, value_size)) return false;
    batch_put(w, key, key_size, c->record_buffer, value_size);
    return true;
}

/* Writes the group's metadata as a batch of its own, waited on as `kind` says. */
static void persist_group_metadata(struct group_coordinator *c, struct group *g,
                                   struct persist *p,
                                   const struct kafka_sync_group_request *assignments,
                                   u64 now_ns)
{
    struct batch_writer w;
    batch_start(c, &w, now_ns);
    if (!put_group_metadata(c, &w, g, assignments)) {
        persist_finish(c, p, KAFKA_ERROR_RECORD_LIST_TOO_LARGE, now_ns, false);
        return;
    }
    persist_batch(c, p, &w, now_ns);
}

/* ================================================================================ */
/* Rebalancing (Kafka's GroupMetadataManager, classic groups)                        */
/* ================================================================================ */

static void complete_join(struct group_coordinator *c, struct group *g, u64 now_ns);

/* Answers every parked SyncGroup with the members' assignments (or the error), and restarts
 * the session of those it answered. */
static void propagate_assignment(struct group_coordinator *c, struct group *g, i16 error,
                                 u64 now_ns)
{
    for (u32 i = 0; i < g->member_count; i++) {
        struct member *m = g->members[i];
        if (!m->awaiting_sync) continue;
        member_sync_answer(c, g, m, error);
        m->heartbeat_deadline = after_ms(now_ns, m->session_timeout_ms);
    }
}

static void reset_and_propagate_assignment(struct group_coordinator *c, struct group *g,
                                           i16 error, u64 now_ns)
{
    ASSERT(g->state == STATE_COMPLETING);
    for (u32 i = 0; i < g->member_count; i++) {
        blob_free(&g->members[i]->assignment);
        g->members[i]->assigned_generation = -1;
    }
    propagate_assignment(c, g, error, now_ns);
}

static void clear_pending_sync(struct group *g)
{
    for (u32 i = 0; i < g->member_count; i++) g->members[i]->pending_sync = false;
    g->sync_deadline = UINT64_MAX;
}

static void prepare_rebalance(struct group_coordinator *c, struct group *g, u64 now_ns)
{
    if (g->state == STATE_COMPLETING) {
        reset_and_propagate_assignment(c, g, KAFKA_ERROR_REBALANCE_IN_PROGRESS, now_ns);
    }
    clear_pending_sync(g);
    bool initial = g->state == STATE_EMPTY;
    if (initial) {
        /* A new group waits for more members before its first generation. */
        i64 delay = ms_of(c->config.initial_rebalance_delay_ns);
        g->join_initial = true;
        g->new_member_added = false;
        g->initial_delay_ms = delay;
        g->initial_remaining_ms = MAX((i64)rebalance_timeout_ms(g) - delay, 0);
        g->join_deadline = after_ms(now_ns, delay);
    }
    transition(g, STATE_PREPARING, now_ns);
    if (initial) return;
    if (all_members_joined(g)) {
        complete_join(c, g, now_ns);
    } else {
        g->join_initial = false;
        g->join_deadline = after_ms(now_ns, rebalance_timeout_ms(g));
    }
}

static void maybe_complete_join_phase(struct group_coordinator *c, struct group *g,
                                      u64 now_ns)
{
    if (g->state != STATE_PREPARING) return;
    if (g->previous_state == STATE_EMPTY) return; /* The initial delay decides. */
    if (!all_members_joined(g)) return;
    complete_join(c, g, now_ns);
}

static void maybe_prepare_rebalance_or_complete_join(struct group_coordinator *c,
                                                     struct group *g, u64 now_ns)
{
    if (g->state == STATE_STABLE || g->state == STATE_COMPLETING || g->state == STATE_EMPTY) {
        prepare_rebalance(c, g, now_ns);
    } else {
        maybe_complete_join_phase(c, g, now_ns);
    }
}

static bool maybe_elect_new_joined_leader(struct group *g)
{
    if (g->leader == NULL) return false;
    if (g->leader->awaiting_join) return true;
    for (u32 i = 0; i < g->member_count; i++) {
        if (g->members[i]->awaiting_join) {
            g->leader = g->members[i];
            return true;
        }
    }
    return false;
}

static void init_next_generation(struct group *g, u64 now_ns)
{
    ASSERT(g->generation < INT32_MAX);
    g->generation++;
    if (g->member_count > 0) {
        label_set(&g->protocol_name, text_view(select_protocol(g)));
        transition(g, STATE_COMPLETING, now_ns);
    } else {
        g->protocol_name.size = -1;
        transition(g, STATE_EMPTY, now_ns);
    }
    clear_pending_sync(g);
}

static void complete_join(struct group_coordinator *c, struct group *g, u64 now_ns)
{
    g->join_deadline = UINT64_MAX;
    /* Dynamic members that did not rejoin in time leave; static ones keep their place. */
    for (u32 i = 0; i < g->member_count;) {
        struct member *m = g->members[i];
        if (!m->awaiting_join && m->instance_id.size < 0) {
            member_remove(c, g, m);
        } else {
            i++;
        }
    }
    if (g->state == STATE_DEAD) return;
    if (!maybe_elect_new_joined_leader(g) && g->member_count > 0) {
        /* Nobody rejoined: wait again, until sessions time out the silent members. */
        g->join_initial = false;
        g->join_deadline = MAX(after_ms(now_ns, rebalance_timeout_ms(g)), now_ns + 1);
        return;
    }
    init_next_generation(g, now_ns);
    if (g->state == STATE_EMPTY) {
        struct persist *p = persist_prepare(c, g->partition, PERSIST_GROUP);
        persist_group_metadata(c, g, p, NULL, now_ns);
        return;
    }
    for (u32 i = 0; i < g->member_count; i++) {
        struct member *m = g->members[i];
        member_join_answer(c, g, m, KAFKA_ERROR_NONE, true, false);
        m->heartbeat_deadline = after_ms(now_ns, m->session_timeout_ms);
        m->is_new = false;
        m->pending_sync = true;
    }
    g->sync_deadline = after_ms(now_ns, rebalance_timeout_ms(g));
}

/* A member's session ended (or its JoinGroup as a new member waited too long). */
static void remove_member_and_update(struct group_coordinator *c, struct group *g,
                                     struct member *m, u64 now_ns)
{
    member_remove(c, g, m);
    if (g->state == STATE_STABLE || g->state == STATE_COMPLETING) {
        maybe_prepare_rebalance_or_complete_join(c, g, now_ns);
    } else if (g->state == STATE_PREPARING && all_members_joined(g)) {
        complete_join(c, g, now_ns);
    }
}

/* ================================================================================ */
/* Records: replaying committed batches (loading, and live once a batch commits)     */
/* ================================================================================ */

static bool group_id_storable(struct proto_string id)
{
    return id.size >= 0 && id.size <= (i32)GROUP_ID_MAX;
}

static void offset_entry_free(struct offset_entry *entry)
{
    text_free(&entry->topic);
    text_free(&entry->metadata);
}

static void offset_remove(struct group *g, u32 index)
{
    ASSERT(index < g->offset_count);
    offset_entry_free(&g->offsets[index]);
    memmove(&g->offsets[index], &g->offsets[index + 1],
            (g->offset_count - index - 1) * sizeof(g->offsets[0]));
    g->offset_count--;
}

/* Sets an offset; false when the group holds GROUP_OFFSETS_MAX already or memory ran out. */
static bool offset_store(struct group *g, struct proto_string topic, i32 partition,
                         const struct group_offset_value *value)
{
    struct text metadata;
    if (!text_of(&metadata, value->metadata.size < 0 ? EMPTY_STRING : value->metadata)) {
        return false;
    }
    i32 index = offset_find(g, topic, partition);
    struct offset_entry *entry;
    if (index >= 0) {
        entry = &g->offsets[index];
        text_free(&entry->metadata);
    } else {
        if (g->offset_count >= GROUP_OFFSETS_MAX) goto failed;
        if (g->offset_count == g->offset_capacity) {
            u32 capacity = MIN(MAX(g->offset_capacity * 2, 8u), GROUP_OFFSETS_MAX);
            struct offset_entry *grown = realloc(g->offsets, capacity * sizeof(*grown));
            if (grown == NULL) goto failed;
            g->offsets = grown;
            g->offset_capacity = capacity;
        }
        entry = &g->offsets[g->offset_count];
        if (!text_of(&entry->topic, topic)) goto failed;
        entry->partition = partition;
        g->offset_count++;
    }
    entry->metadata = metadata;
    entry->offset = value->offset;
    entry->leader_epoch = value->leader_epoch;
    entry->commit_ms = value->commit_timestamp;
    entry->expire_ms = value->expire_timestamp;
    return true;
failed:
    text_free(&metadata);
    return false;
}

/* A GroupMetadata tombstone: the group forgets its members and generation (its offsets have
 * tombstones of their own). */
static void group_metadata_clear(struct group_coordinator *c, struct group *g)
{
    for (u32 i = 0; i < g->member_count; i++) member_free(g->members[i]);
    for (u32 i = 0; i < g->pending_count; i++) text_free(&g->pending[i].id);
    g->member_count = g->pending_count = 0;
    g->leader = NULL;
    g->generation = 0;
    g->protocol_type.size = -1;
    g->protocol_name.size = -1;
    g->state = g->previous_state = STATE_EMPTY;
    g->state_timestamp_ms = -1;
    g->has_metadata = false;
    if (g->offset_count == 0) group_drop(c, g);
}

static bool metadata_value_loadable(const struct group_metadata_value *v)
{
    if (v->generation < 0 || v->generation == INT32_MAX) return false;
    if (v->member_count > GROUP_MEMBERS_MAX) return false;
    if (v->protocol_type.size > (i32)GROUP_PROTOCOL_NAME_MAX) return false;
    if (v->protocol.size > (i32)GROUP_PROTOCOL_NAME_MAX) return false;
    if (v->member_count > 0 && (v->protocol.size < 0 || v->protocol_type.size <= 0)) return false;
    for (u32 i = 0; i < v->member_count; i++) {
        const struct group_member_value *m = &v->members[i];
        if (m->session_timeout < 0) return false;
        if (m->subscription.size > (i32)GROUP_METADATA_MAX) return false;
        if (m->assignment.size > (i32)GROUP_ASSIGNMENT_MAX) return false;
        for (u32 k = 0; k < i; k++) {
            if (strings_equal(v->members[k].member_id, m->member_id)) return false;
            if (m->group_instance_id.size >= 0 &&
                strings_equal(v->members[k].group_instance_id, m->group_instance_id)) {
                return false;
            }
        }
    }
    return true;
}

static struct member *member_from_record(struct group_coordinator *c,
                                         const struct group_metadata_value *v,
                                         const struct group_member_value *record)
{
    struct member *m = calloc(1, sizeof(*m));
    if (m == NULL) return NULL;
    m->serial = ++c->next_serial;
    bool ok = text_of(&m->id, record->member_id) &&
              text_of(&m->instance_id, record->group_instance_id) &&
              text_of(&m->client_id, record->client_id) &&
              text_of(&m->client_host, record->client_host) &&
              blob_set(&m->assignment, record->assignment.data, record->assignment.size);
    if (ok) {
        ok = text_of(&m->protocols[0].name, v->protocol) &&
             blob_set(&m->protocols[0].metadata, record->subscription.data,
                      record->subscription.size);
        m->protocol_count = 1;
    }
    if (!ok) {
        member_free(m);
        return NULL;
    }
    m->session_timeout_ms = record->session_timeout;
    /* Version 0 had no rebalance timeout: Kafka used the session timeout. */
    m->rebalance_timeout_ms = record->rebalance_timeout < 0 ? record->session_timeout
                                                            : record->rebalance_timeout;
    m->assigned_generation = v->generation;
    m->heartbeat_deadline = UINT64_MAX; /* Sessions start when the load ends. */
    return m;
}

/* A GroupMetadata record replaces what the group knew. False when it cannot be held. */
static bool group_metadata_load(struct group_coordinator *c, struct group *g,
                                const struct group_metadata_value *v)
{
    struct member *members[GROUP_MEMBERS_MAX];
    for (u32 i = 0; i < v->member_count; i++) {
        members[i] = member_from_record(c, v, &v->members[i]);
        if (members[i] == NULL) {
            for (u32 k = 0; k < i; k++) member_free(members[k]);
            return false;
        }
    }
    for (u32 i = 0; i < g->member_count; i++) member_free(g->members[i]);
    for (u32 i = 0; i < g->pending_count; i++) text_free(&g->pending[i].id);
    g->pending_count = 0;
    memcpy(g->members, members, v->member_count * sizeof(members[0]));
    g->member_count = v->member_count;
    g->leader = NULL;
    for (u32 i = 0; i < g->member_count; i++) {
        if (text_is(&g->members[i]->id, v->leader)) g->leader = g->members[i];
    }
    if (g->leader == NULL && g->member_count > 0) g->leader = g->members[0];
    g->generation = v->generation;
    g->protocol_type.size = -1;
    if (v->protocol_type.size > 0) label_set(&g->protocol_type, v->protocol_type);
    g->protocol_name.size = -1;
    if (g->member_count > 0) label_set(&g->protocol_name, v->protocol);
    g->state = g->member_count > 0 ? STATE_STABLE : STATE_EMPTY;
    g->previous_state = STATE_EMPTY;
    g->state_timestamp_ms = v->current_state_timestamp;
    g->join_deadline = g->sync_deadline = UINT64_MAX;
    g->has_metadata = true;
    return true;
}

/* One record of __consumer_offsets. live: a batch this coordinator wrote just committed (its
 * offsets take effect; its group records already did, in memory). */
static void replay_record(struct group_coordinator *c, u32 partition,
                          const struct record_view *record, bool live)
{
    struct group_record_key key;
    if (group_record_key_decode(record->Key, (u32)MAX(record->KeyLength, 0), &key) !=
            GROUP_RECORD_OK ||
        !group_id_storable(key.group) || partition_of(c, key.group) != partition) {
        c->records_skipped++;
        return;
    }
    struct group *g = group_get(c, key.group);
    bool tombstone = record->ValueLength < 0;
    u32 value_size = (u32)MAX(record->ValueLength, 0);
    if (key.type == GROUP_RECORD_OFFSET_COMMIT) {
        if (live && g != NULL && g->state == STATE_DEAD) return; /* Deleted meanwhile. */
        if (key.topic.size > (i32)GROUP_TOPIC_NAME_MAX) {
            c->records_skipped++;
            return;
        }
        if (tombstone) {
            i32 index = g == NULL ? -1 : offset_find(g, key.topic, key.partition);
            if (index >= 0) offset_remove(g, (u32)index);
            return;
        }
        struct group_offset_value value;
        if (group_offset_value_decode(record->Value, value_size, &value) != GROUP_RECORD_OK) {
            c->records_skipped++;
            return;
        }
        if (g == NULL) g = group_create(c, key.group, partition);
        if (g == NULL || !offset_store(g, key.topic, key.partition, &value)) {
            c->records_skipped++;
        }
        return;
    }
    if (live) return;
    if (tombstone) {
        if (g != NULL) group_metadata_clear(c, g);
        return;
    }
    struct group_metadata_value value;
    proto_arena_reset(&c->scratch_arena);
    if (group_metadata_value_decode(record->Value, value_size, &value, &c->scratch_arena) !=
            GROUP_RECORD_OK ||
        !metadata_value_loadable(&value)) {
        c->records_skipped++;
        return;
    }
    bool created = g == NULL;
    if (created) g = group_create(c, key.group, partition);
    if (g == NULL || !group_metadata_load(c, g, &value)) {
        c->records_skipped++;
        if (created && g != NULL) group_drop(c, g);
    }
}

static void replay_batch(struct group_coordinator *c, u32 partition, const u8 *bytes,
                         u32 size, bool live)
{
    struct record_batch_header header;
    if (batch_validate(bytes, size, &header) != BATCH_OK) {
        c->records_skipped++;
        return;
    }
    bool plain = (header.Attributes & RECORD_ATTRIBUTE_COMPRESSION_MASK) == 0 &&
                 (header.Attributes & RECORD_ATTRIBUTE_CONTROL) == 0 &&
                 (header.Attributes & RECORD_ATTRIBUTE_TRANSACTIONAL) == 0;
    if (!plain) {
        c->records_skipped += (u64)MAX(header.RecordCount, 0);
        return;
    }
    u64 batch_size = (u64)header.BatchLength + RECORD_BATCH_LOG_OVERHEAD;
    struct record_iterator iterator;
    record_iterator_init(&iterator, bytes + RECORD_BATCH_HEADER_SIZE,
                         batch_size - RECORD_BATCH_HEADER_SIZE, (u32)header.RecordCount);
    for (;;) {
        struct record_view record;
        bool more = false;
        if (record_iterator_next(&iterator, &record, &more) != BATCH_OK) {
            c->records_skipped++;
            return;
        }
        if (!more) return;
        replay_record(c, partition, &record, live);
    }
}

/* The GroupMetadata value of a batch this coordinator wrote (one record), decoded into the
 * scratch arena. */
static bool batch_group_metadata(struct group_coordinator *c, const u8 *bytes, u32 size,
                                 struct group_metadata_value *value)
{
    struct record_batch_header header;
    if (batch_validate(bytes, size, &header) != BATCH_OK) return false;
    struct record_iterator iterator;
    record_iterator_init(&iterator, bytes + RECORD_BATCH_HEADER_SIZE,
                         size - RECORD_BATCH_HEADER_SIZE, (u32)header.RecordCount);
    struct record_view record;
    bool more = false;
    if (record_iterator_next(&iterator, &record, &more) != BATCH_OK || !more) return false;
    if (record.ValueLength < 0) return false;
    proto_arena_reset(&c->scratch_arena);
    return group_metadata_value_decode(record.Value, (u32)record.ValueLength, value,
                                       &c->scratch_arena) == GROUP_RECORD_OK;
}

/* ================================================================================ */
/* Parked requests (OffsetCommit, DeleteGroups, OffsetDelete)                        */
/* ================================================================================ */

static i16 parked_api_key(enum parked_kind kind)
{
    switch (kind) {
    case PARKED_COMMIT: return KAFKA_API_OFFSET_COMMIT;
    case PARKED_DELETE_GROUPS: return KAFKA_API_DELETE_GROUPS;
    case PARKED_OFFSET_DELETE: return KAFKA_API_OFFSET_DELETE;
    }
    return -1;
}

static enum proto_error skeleton_encode(struct proto_writer *writer, enum parked_kind kind,
                                        i16 version, const union kafka_response *response)
{
    switch (kind) {
    case PARKED_COMMIT:
        return kafka_offset_commit_response_encode(writer, version, &response->OffsetCommit);
    case PARKED_DELETE_GROUPS:
        return kafka_delete_groups_response_encode(writer, version, &response->DeleteGroups);
    case PARKED_OFFSET_DELETE:
        return kafka_offset_delete_response_encode(writer, version, &response->OffsetDelete);
    }
    return PROTO_ERROR_INVALID;
}

/* Parks the request whose answer is drafted in `draft`: -1 when it cannot (no slot, no
 * memory). The caller adds one wait per batch, then releases the first one (parked_done). */
static i32 parked_open(struct group_coordinator *c, u64 token, enum parked_kind kind,
                       i16 version, const union kafka_response *draft, u32 result_count)
{
    i32 index = -1;
    for (u32 i = 0; i < GROUP_PARKED_MAX && index < 0; i++) {
        if (!c->parked[i].used) index = (i32)i;
    }
    if (index < 0) return -1;
    struct proto_writer counter;
    proto_writer_init_counter(&counter);
    if (skeleton_encode(&counter, kind, version, draft) != PROTO_OK) return -1;
    struct parked *pk = &c->parked[index];
    memset(pk, 0, sizeof(*pk));
    pk->skeleton = malloc(MAX(counter.position, 1u));
    pk->result_errors = result_count > 0 ? calloc(result_count, sizeof(i16)) : NULL;
    if (pk->skeleton == NULL || (result_count > 0 && pk->result_errors == NULL)) {
        free(pk->skeleton);
        free(pk->result_errors);
        memset(pk, 0, sizeof(*pk));
        return -1;
    }
    struct proto_writer writer;
    proto_writer_init(&writer, pk->skeleton, counter.position);
    ASSERT(skeleton_encode(&writer, kind, version, draft) == PROTO_OK);
    pk->skeleton_size = writer.position;
    pk->used = true;
    pk->answerable = true;
    pk->token = token;
    pk->kind = kind;
    pk->version = version;
    pk->waiting = 1;
    pk->result_count = result_count;
    return index;
}

static void parked_answer(struct group_coordinator *c, struct parked *pk)
{
    i16 api_key = parked_api_key(pk->kind);
    struct answer a = answer_begin(c, pk->token, api_key);
    /* The decoded strings point into the bytes decoded: an answer given at once outlives this
     * call (the caller encodes it), so it decodes a copy in the caller's arena. */
    const u8 *skeleton = pk->skeleton;
    if (a.is_inline) {
        u8 *copy = proto_arena_alloc(a.arena, MAX(pk->skeleton_size, 1u));
        if (copy != NULL) memcpy(copy, pk->skeleton, pk->skeleton_size);
        skeleton = copy;
    }
    struct proto_reader reader;
    proto_reader_init(&reader, skeleton, skeleton == NULL ? 0 : pk->skeleton_size);
    enum proto_error decoded = PROTO_ERROR_INVALID;
    if (pk->kind == PARKED_COMMIT) {
        struct kafka_offset_commit_response *r = &a.response->OffsetCommit;
        decoded = kafka_offset_commit_response_decode(&reader, pk->version, r, a.arena);
        if (decoded != PROTO_OK) kafka_offset_commit_response_init(r);
        for (i32 t = 0; t < r->Topics.count && pk->error != KAFKA_ERROR_NONE; t++) {
            for (i32 i = 0; i < r->Topics.items[t].Partitions.count; i++) {
                r->Topics.items[t].Partitions.items[i].ErrorCode = pk->error;
            }
        }
    } else if (pk->kind == PARKED_DELETE_GROUPS) {
        struct kafka_delete_groups_response *r = &a.response->DeleteGroups;
        decoded = kafka_delete_groups_response_decode(&reader, pk->version, r, a.arena);
        if (decoded != PROTO_OK) kafka_delete_groups_response_init(r);
        for (i32 i = 0; i < r->Results.count && (u32)i < pk->result_count; i++) {
            if (pk->result_errors[i] != KAFKA_ERROR_NONE) {
                r->Results.items[i].ErrorCode = pk->result_errors[i];
            }
        }
    } else {
        struct kafka_offset_delete_response *r = &a.response->OffsetDelete;
        decoded = kafka_offset_delete_response_decode(&reader, pk->version, r, a.arena);
        if (decoded != PROTO_OK) kafka_offset_delete_response_init(r);
        if (pk->error != KAFKA_ERROR_NONE) {
            r->ErrorCode = pk->error;
            r->Topics.count = 0;
            r->Topics.items = NULL;
        }
    }
    (void)decoded; /* Our own encoding decodes unless the arena is full: then an empty one. */
    answer_end(c, pk->token, api_key, pk->version, &a);
}

/* One wait of a parked request ended (error: the mapped error of its batch, or NONE). */
static void parked_done(struct group_coordinator *c, i32 index, u32 result_index, i16 error)
{
    ASSERT(index >= 0 && (u32)index < GROUP_PARKED_MAX);
    struct parked *pk = &c->parked[index];
    ASSERT(pk->used && pk->waiting > 0);
    if (error != KAFKA_ERROR_NONE) {
        if (pk->kind == PARKED_DELETE_GROUPS) {
            ASSERT(result_index < pk->result_count);
            pk->result_errors[result_index] = error;
        } else if (pk->error == KAFKA_ERROR_NONE) {
            pk->error = error;
        }
    }
    if (--pk->waiting > 0) return;
    struct parked done = *pk;
    memset(pk, 0, sizeof(*pk));
    if (done.answerable) parked_answer(c, &done);
    free(done.skeleton);
    free(done.result_errors);
}

/* ================================================================================ */
/* Persist completions                                                              */
/* ================================================================================ */

static void sync_persisted(struct group_coordinator *c, const struct persist *p, i16 error,
                           u64 now_ns)
{
    struct group *g = group_by_serial(c, p->group_serial);
    /* Another rebalance may have begun meanwhile: then this assignment is moot. */
    if (g == NULL || g->state != STATE_COMPLETING || g->generation != p->generation) return;
    struct group_metadata_value value;
    struct blob assignments[GROUP_MEMBERS_MAX];
    bool ok = error == KAFKA_ERROR_NONE;
    if (ok) ok = batch_group_metadata(c, p->batch, p->batch_size, &value);
    u32 filled = 0;
    for (; ok && filled < g->member_count; filled++) {
        struct proto_bytes given = {EMPTY_BYTES, 0};
        for (u32 k = 0; k < value.member_count; k++) {
            if (text_is(&g->members[filled]->id, value.members[k].member_id)) {
                given = value.members[k].assignment;
            }
        }
        ok = blob_set(&assignments[filled], given.data, given.size);
    }
    if (!ok) {
        for (u32 i = 0; i < filled; i++) blob_free(&assignments[i]);
        if (error == KAFKA_ERROR_NONE) error = KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
        reset_and_propagate_assignment(c, g, persist_error_mapped(error), now_ns);
        maybe_prepare_rebalance_or_complete_join(c, g, now_ns);
        return;
    }
    for (u32 i = 0; i < g->member_count; i++) {
        blob_free(&g->members[i]->assignment);
        g->members[i]->assignment = assignments[i];
        g->members[i]->assigned_generation = g->generation;
    }
    propagate_assignment(c, g, KAFKA_ERROR_NONE, now_ns);
    transition(g, STATE_STABLE, now_ns);
}

static void static_replace_persisted(struct group_coordinator *c, struct persist *p, i16 error,
                                     u64 now_ns)
{
    struct group *g = group_by_serial(c, p->group_serial);
    struct member *m = g == NULL ? NULL : member_by_serial(g, p->member_serial);
    if (m == NULL) return;
    bool waiting = m->awaiting_join && m->join_token == p->join_token;
    if (error != KAFKA_ERROR_NONE) {
        /* The new id never reached the log: the instance keeps its old one. */
        if (member_find(g, text_view(&p->old_member_id)) < 0) {
            text_free(&m->id);
            m->id = p->old_member_id;
            p->old_member_id = TEXT_NULL;
        }
        m->rebalance_timeout_ms = p->old_rebalance_timeout_ms;
        m->session_timeout_ms = p->old_session_timeout_ms;
        m->heartbeat_deadline = after_ms(now_ns, m->session_timeout_ms);
        if (!waiting) return;
        m->awaiting_join = false;
        if (m->join_answerable) {
            join_reply(c, m->join_token, m->join_version, persist_error_mapped(error),
                       EMPTY_STRING, g, false, false);
        }
        return;
    }
    m->heartbeat_deadline = after_ms(now_ns, m->session_timeout_ms);
    if (!waiting) return;
    bool leader = g->leader == m && m->join_version >= 9;
    m->awaiting_join = false;
    if (m->join_answerable) {
        join_reply(c, m->join_token, m->join_version, KAFKA_ERROR_NONE, text_view(&m->id), g,
                   leader, leader);
    }
}

/* A batch committed (error NONE) or failed. unloading: its partition is being dropped, so
 * only what waits outside the partition's groups is told. */
static void persist_finish(struct group_coordinator *c, struct persist *slot, i16 error,
                           u64 now_ns, bool unloading)
{
    ASSERT(slot->used);
    struct persist p = *slot;
    memset(slot, 0, sizeof(*slot));
    if (!unloading) {
        switch (p.kind) {
        case PERSIST_OFFSETS:
            if (error == KAFKA_ERROR_NONE) {
                replay_batch(c, p.partition, p.batch, p.batch_size, true);
            }
            break;
        case PERSIST_GROUP_REMOVAL: {
            if (error == KAFKA_ERROR_NONE) {
                replay_batch(c, p.partition, p.batch, p.batch_size, true);
            }
            /* Gone from the cache either way, as in Kafka; a failed tombstone leaves the log
             * saying otherwise until the next expiry or deletion. */
            struct group *g = group_by_serial(c, p.group_serial);
            if (p.removes_group && g != NULL && g->state == STATE_DEAD) group_drop(c, g);
            break;
        }
        case PERSIST_SYNC: sync_persisted(c, &p, error, now_ns); break;
        case PERSIST_STATIC_REPLACE: static_replace_persisted(c, &p, error, now_ns); break;
        case PERSIST_GROUP: break; /* An empty generation: nobody waits (Kafka only warns). */
        }
    }
    if (p.counts_commit) {
        struct group *g = group_by_serial(c, p.group_serial);
        if (g != NULL && g->commits_in_flight > 0) g->commits_in_flight--;
    }
    if (p.parked >= 0) {
        parked_done(c, p.parked, p.result_index,
                    error == KAFKA_ERROR_NONE ? KAFKA_ERROR_NONE : persist_error_mapped(error));
    }
    text_free(&p.old_member_id);
    free(p.batch);
}

static void tombstones_flush(struct group_coordinator *c, struct batch_writer *w,
                             u32 partition, i32 parked, u32 result_index, u64 now_ns)
{
    struct persist *p = persist_prepare(c, partition, PERSIST_OFFSETS);
    p->parked = parked;
    p->result_index = result_index;
    if (parked >= 0) c->parked[parked].waiting++;
    persist_batch(c, p, w, now_ns);
    batch_start(c, w, now_ns);
}

/* Tombstones for the selected offsets of a group (all when selected is NULL), and for the
 * group itself when group_tombstone (the group is then Dead and goes when that batch is
 * done), in as many batches as they need. */
static void persist_tombstones(struct group_coordinator *c, struct group *g,
                               const bool *selected, bool group_tombstone, i32 parked,
                               u32 result_index, u64 now_ns)
{
    ASSERT(!group_tombstone || g->state == STATE_DEAD);
    u64 serial = g->serial;
    u32 partition = g->partition;
    struct batch_writer w;
    batch_start(c, &w, now_ns);
    u8 key[GROUP_ID_MAX + GROUP_TOPIC_NAME_MAX + 16];
    /* The group may not survive a failed batch's completion: iterate over a stable count and
     * look it up again after each submission. */
    u32 count = g->offset_count;
    for (u32 i = 0; i < count; i++) {
        g = group_by_serial(c, serial);
        if (g == NULL || i >= g->offset_count) break;
        if (selected != NULL && !selected[i]) continue;
        const struct offset_entry *entry = &g->offsets[i];
        u32 key_size = group_offset_key_encode(key, sizeof(key), GROUP_OFFSET_KEY_VERSION,
                                               text_view(&g->id), text_view(&entry->topic),
                                               entry->partition);
        ASSERT(key_size > 0);
        if (!batch_fits(&w, key_size, 0)) {
            tombstones_flush(c, &w, partition, parked, result_index, now_ns);
        }
        batch_put(&w, key, key_size, NULL, 0);
    }
    g = group_by_serial(c, serial);
    enum persist_kind kind = PERSIST_OFFSETS;
    if (group_tombstone && g != NULL) {
        u32 key_size = group_metadata_key_encode(key, sizeof(key), text_view(&g->id));
        ASSERT(key_size > 0);
        if (!batch_fits(&w, key_size, 0)) {
            tombstones_flush(c, &w, partition, parked, result_index, now_ns);
        }
        batch_put(&w, key, key_size, NULL, 0);
        kind = PERSIST_GROUP_REMOVAL;
    }
    if (batch_records(&w) == 0) return;
    struct persist *p = persist_prepare(c, partition, kind);
    p->parked = parked;
    p->result_index = result_index;
    p->group_serial = serial;
    p->removes_group = kind == PERSIST_GROUP_REMOVAL;
    if (parked >= 0) c->parked[parked].waiting++;
    persist_batch(c, p, &w, now_ns);
}

/* ================================================================================ */
/* JoinGroup                                                                        */
/* ================================================================================ */

struct join_context {
    u64 token;
    i16 version;
    const struct kafka_join_group_request *request;
    struct proto_string client_id;
    struct proto_string client_host;
    i32 rebalance_timeout_ms;
    u64 now_ns;
};

static u32 decimal(char *out, u64 value)
{
    char digits[20];
    u32 n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (u32 i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

/* "<prefix>-<node id>-<leader epoch>-<counter>", unique in the group (see the header). */
static struct proto_string member_id_generate(struct group_coordinator *c, const struct group *g,
                                              struct proto_string prefix, char *out)
{
    struct partition_info *info = &c->partitions[g->partition];
    u32 prefix_size = (u32)MIN(MAX(prefix.size, 0), (i32)MEMBER_ID_PREFIX_MAX);
    for (;;) {
        u32 size = 0;
        if (prefix_size > 0) memcpy(out, prefix.data, prefix_size);
        size += prefix_size;
        out[size++] = '-';
        if (c->config.node_id < 0) out[size++] = '-';
        size += decimal(out + size, (u64)(c->config.node_id < 0 ? -(i64)c->config.node_id
                                                                 : c->config.node_id));
        out[size++] = '-';
        size += decimal(out + size, (u64)MAX(info->leader_epoch, 0));
        out[size++] = '-';
        size += decimal(out + size, ++info->member_counter);
        struct proto_string id = {out, (i32)size};
        if (member_find(g, id) < 0 && pending_find(g, id) < 0) return id;
    }
}

/* Kafka's acceptJoiningMember, plus this coordinator's hard limit of GROUP_MEMBERS_MAX. */
static bool accept_joining_member(const struct group_coordinator *c, const struct group *g,
                                  const struct member *m)
{
    u32 max_size = c->config.max_size == 0 ? GROUP_MEMBERS_MAX
                                           : MIN(c->config.max_size, GROUP_MEMBERS_MAX);
    if (m == NULL && g->member_count >= GROUP_MEMBERS_MAX) return false;
    switch (g->state) {
    case STATE_EMPTY:
    case STATE_DEAD: return true;
    case STATE_PREPARING:
        return (m != NULL && m->awaiting_join) || awaiting_join_count(g) < max_size;
    case STATE_COMPLETING:
    case STATE_STABLE: return m != NULL || g->member_count < max_size;
    }
    return false;
}

/* Kafka's validateMember: NONE, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID. */
static i16 validate_member(const struct group *g, struct proto_string member_id,
                           struct proto_string instance_id)
{
    if (instance_id.size >= 0) {
        const struct member *existing = static_member(g, instance_id);
        if (existing == NULL) return KAFKA_ERROR_UNKNOWN_MEMBER_ID;
        if (!text_is(&existing->id, member_id)) return KAFKA_ERROR_FENCED_INSTANCE_ID;
    }
    return member_find(g, member_id) < 0 ? KAFKA_ERROR_UNKNOWN_MEMBER_ID : KAFKA_ERROR_NONE;
}

static void member_await_join(struct group_coordinator *c, struct member *m,
                              const struct join_context *j)
{
    if (m->awaiting_join && m->join_answerable) {
        /* A second JoinGroup supersedes the first, which Kafka leaves unanswered: told to
         * retry, it cannot confuse the client. */
        join_error(c, m->join_token, m->join_version, KAFKA_ERROR_REBALANCE_IN_PROGRESS,
                   text_view(&m->id));
    }
    m->awaiting_join = true;
    m->join_answerable = true;
    m->join_token = j->token;
    m->join_version = j->version;
}

static void add_member(struct group_coordinator *c, struct group *g, struct proto_string id,
                       const struct join_context *j)
{
    const struct kafka_join_group_request *request = j->request;
    struct member *m = calloc(1, sizeof(*m));
    bool ok = m != NULL;
    if (ok) {
        m->serial = ++c->next_serial;
        ok = text_of(&m->id, id) && text_of(&m->instance_id, request->GroupInstanceId) &&
             text_of(&m->client_id, j->client_id) && text_of(&m->client_host, j->client_host) &&
             protocols_copy(m->protocols, &m->protocol_count, request);
    }
    if (!ok) {
        if (m != NULL) member_free(m);
        join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_SERVER_ERROR, EMPTY_STRING);
        return;
    }
    m->rebalance_timeout_ms = j->rebalance_timeout_ms;
    m->session_timeout_ms = request->SessionTimeoutMs;
    m->assigned_generation = -1;
    m->is_new = true;
    if (g->state == STATE_PREPARING && g->previous_state == STATE_EMPTY) {
        g->new_member_added = true; /* The initial delay is extended. */
    }
    if (g->member_count == 0) label_set(&g->protocol_type, request->ProtocolType);
    ASSERT(g->member_count < GROUP_MEMBERS_MAX);
    g->members[g->member_count++] = m;
    if (g->leader == NULL) g->leader = m;
    i32 pending = pending_find(g, id);
    if (pending >= 0) pending_remove(g, (u32)pending);
    m->awaiting_join = true;
    m->join_answerable = true;
    m->join_token = j->token;
    m->join_version = j->version;
    /* A new member cannot heartbeat before its first answer; a JoinGroup parked too long
     * (the client gave up and will retry) must not keep it forever. */
    m->heartbeat_deadline = after_ms(j->now_ns, NEW_MEMBER_JOIN_TIMEOUT_MS);
    maybe_prepare_rebalance_or_complete_join(c, g, j->now_ns);
}

static void update_member_then_rebalance(struct group_coordinator *c, struct group *g,
                                         struct member *m, const struct join_context *j)
{
    struct member_protocol protocols[GROUP_PROTOCOLS_MAX];
    u32 count = 0;
    if (!protocols_copy(protocols, &count, j->request)) {
        join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_SERVER_ERROR,
                   text_view(&m->id));
        return;
    }
    member_protocols_free(m);
    memcpy(m->protocols, protocols, count * sizeof(protocols[0]));
    m->protocol_count = count;
    m->rebalance_timeout_ms = j->rebalance_timeout_ms;
    m->session_timeout_ms = j->request->SessionTimeoutMs;
    member_await_join(c, m, j);
    maybe_prepare_rebalance_or_complete_join(c, g, j->now_ns);
}

/* A known group.instance.id joins with a new member id: the new id replaces the old one,
 * which is fenced; without a rebalance when the group is Stable and its protocol would not
 * change (then once the new id is in the log). */
static void update_static_member(struct group_coordinator *c, struct group *g,
                                 struct member *m, struct proto_string new_id,
                                 const struct join_context *j)
{
    struct member_protocol protocols[GROUP_PROTOCOLS_MAX];
    u32 count = 0;
    struct text id;
    if (!text_of(&id, new_id)) {
        join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_SERVER_ERROR, EMPTY_STRING);
        return;
    }
    if (!protocols_copy(protocols, &count, j->request)) {
        text_free(&id);
        join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_SERVER_ERROR, EMPTY_STRING);
        return;
    }
    member_join_answer(c, g, m, KAFKA_ERROR_FENCED_INSTANCE_ID, false, false);
    member_sync_answer(c, g, m, KAFKA_ERROR_FENCED_INSTANCE_ID);
    struct text old_id = m->id;
    m->id = id;
    m->serial = ++c->next_serial; /* Kafka makes a new member object. */
    m->pending_sync = false;
    m->heartbeat_deadline = after_ms(j->now_ns, m->session_timeout_ms);
    i32 old_rebalance = m->rebalance_timeout_ms, old_session = m->session_timeout_ms;
    member_protocols_free(m);
    memcpy(m->protocols, protocols, count * sizeof(protocols[0]));
    m->protocol_count = count;
    m->rebalance_timeout_ms = j->rebalance_timeout_ms;
    m->session_timeout_ms = j->request->SessionTimeoutMs;
    member_await_join(c, m, j);
    if (g->state == STATE_STABLE &&
        label_is(&g->protocol_name, text_view(select_protocol(g)))) {
        struct persist *p = persist_prepare(c, g->partition, PERSIST_STATIC_REPLACE);
        p->group_serial = g->serial;
        p->member_serial = m->serial;
        p->old_member_id = old_id;
        p->old_rebalance_timeout_ms = old_rebalance;
        p->old_session_timeout_ms = old_session;
        p->join_token = j->token;
        persist_group_metadata(c, g, p, NULL, j->now_ns);
        return;
    }
    text_free(&old_id);
    if (g->state == STATE_STABLE) {
        maybe_prepare_rebalance_or_complete_join(c, g, j->now_ns);
    } else if (g->state == STATE_COMPLETING) {
        prepare_rebalance(c, g, j->now_ns);
    } else {
        maybe_complete_join_phase(c, g, j->now_ns);
    }
}

static void join_new_member(struct group_coordinator *c, struct group *g,
                            const struct join_context *j)
{
    const struct kafka_join_group_request *request = j->request;
    if (g->state == STATE_DEAD) {
        join_error(c, j->token, j->version, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE, EMPTY_STRING);
        return;
    }
    if (!supports_protocols(g, request)) {
        join_error(c, j->token, j->version, KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL,
                   EMPTY_STRING);
        return;
    }
    bool is_static = request->GroupInstanceId.size >= 0;
    char buffer[MEMBER_ID_PREFIX_MAX + 64];
    struct proto_string id = member_id_generate(
        c, g, is_static ? request->GroupInstanceId : j->client_id, buffer);
    if (is_static) {
        struct member *existing = static_member(g, request->GroupInstanceId);
        if (existing != NULL) {
            update_static_member(c, g, existing, id, j);
        } else {
            add_member(c, g, id, j);
        }
        return;
    }
    if (j->version < 4) {
        add_member(c, g, id, j);
        return;
    }
    /* KIP-394: the member learns its id first and joins with it. */
    if (g->pending_count >= GROUP_MEMBERS_MAX) {
        join_error(c, j->token, j->version, KAFKA_ERROR_GROUP_MAX_SIZE_REACHED, EMPTY_STRING);
        return;
    }
    struct pending_member *pending = &g->pending[g->pending_count];
    if (!text_of(&pending->id, id)) {
        join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_SERVER_ERROR, EMPTY_STRING);
        return;
    }
    pending->deadline = after_ms(j->now_ns, request->SessionTimeoutMs);
    g->pending_count++;
    join_error(c, j->token, j->version, KAFKA_ERROR_MEMBER_ID_REQUIRED, text_view(&pending->id));
}

static void join_existing_member(struct group_coordinator *c, struct group *g,
                                 const struct join_context *j)
{
    const struct kafka_join_group_request *request = j->request;
    struct proto_string id = request->MemberId;
    if (g->state == STATE_DEAD) {
        join_error(c, j->token, j->version, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE, id);
        return;
    }
    if (!supports_protocols(g, request)) {
        join_error(c, j->token, j->version, KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL, id);
        return;
    }
    if (pending_find(g, id) >= 0) {
        if (request->GroupInstanceId.size >= 0) {
            /* Pending ids are only handed to dynamic members (Kafka: IllegalStateException). */
            join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_SERVER_ERROR, id);
        } else {
            add_member(c, g, id, j);
        }
        return;
    }
    i16 error = validate_member(g, id, request->GroupInstanceId);
    if (error != KAFKA_ERROR_NONE) {
        join_error(c, j->token, j->version, error, id);
        return;
    }
    struct member *m = member_get(g, id);
    switch (g->state) {
    case STATE_PREPARING: update_member_then_rebalance(c, g, m, j); return;
    case STATE_COMPLETING:
        if (protocols_match(m, request)) {
            /* It missed its answer: the current generation again. */
            join_reply(c, j->token, j->version, KAFKA_ERROR_NONE, id, g, m == g->leader, false);
        } else {
            update_member_then_rebalance(c, g, m, j);
        }
        return;
    case STATE_STABLE:
        if (m == g->leader || !protocols_match(m, request)) {
            /* The leader rejoining asks for a rebalance (e.g. topic metadata changed). */
            update_member_then_rebalance(c, g, m, j);
        } else {
            join_reply(c, j->token, j->version, KAFKA_ERROR_NONE, id, g, false, false);
        }
        return;
    case STATE_EMPTY:
    case STATE_DEAD: join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_MEMBER_ID, id);
        return;
    }
}

static bool join_protocols_acceptable(const struct kafka_join_group_request *request)
{
    if (request->ProtocolType.size > (i32)GROUP_PROTOCOL_NAME_MAX) return false;
    if (request->Protocols.count > (i32)GROUP_PROTOCOLS_MAX) return false;
    for (i32 i = 0; i < request->Protocols.count; i++) {
        const struct kafka_join_group_request_protocol *p = &request->Protocols.items[i];
        if (p->Name.size < 0 || p->Name.size > (i32)GROUP_PROTOCOL_NAME_MAX) return false;
        if (p->Metadata.size > (i32)GROUP_METADATA_MAX) return false;
    }
    return true;
}

static void join_handle(struct group_coordinator *c, const struct join_context *j)
{
    const struct kafka_join_group_request *request = j->request;
    struct proto_string member_id = request->MemberId.size < 0 ? EMPTY_STRING : request->MemberId;
    if (request->GroupId.size <= 0 || request->GroupId.size > (i32)GROUP_ID_MAX) {
        join_error(c, j->token, j->version, KAFKA_ERROR_INVALID_GROUP_ID, member_id);
        return;
    }
    i16 error = partition_error(c, request->GroupId);
    if (error != KAFKA_ERROR_NONE) {
        join_error(c, j->token, j->version, error, member_id);
        return;
    }
    i64 session_ms = request->SessionTimeoutMs;
    if (session_ms < ms_of(c->config.min_session_timeout_ns) ||
        session_ms > ms_of(c->config.max_session_timeout_ns)) {
        join_error(c, j->token, j->version, KAFKA_ERROR_INVALID_SESSION_TIMEOUT, member_id);
        return;
    }
    if (!join_protocols_acceptable(request)) {
        join_error(c, j->token, j->version, KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL, member_id);
        return;
    }
    struct group *g = group_get(c, request->GroupId);
    bool unknown = member_id.size == 0;
    if (g == NULL) {
        if (!unknown) {
            join_error(c, j->token, j->version, KAFKA_ERROR_UNKNOWN_MEMBER_ID, member_id);
            return;
        }
        g = group_create(c, request->GroupId, partition_of(c, request->GroupId));
        if (g == NULL) {
            join_error(c, j->token, j->version, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE,
                       member_id);
            return;
        }
    }
    struct member *m = unknown ? NULL : member_get(g, member_id);
    if (!accept_joining_member(c, g, m)) {
        if (m != NULL) member_remove(c, g, m);
        i32 pending = unknown ? -1 : pending_find(g, member_id);
        if (pending >= 0) pending_remove(g, (u32)pending);
        join_error(c, j->token, j->version, KAFKA_ERROR_GROUP_MAX_SIZE_REACHED, EMPTY_STRING);
    } else if (unknown) {
        join_new_member(c, g, j);
    } else {
        join_existing_member(c, g, j);
    }
}

enum group_outcome group_join(struct group_coordinator *coordinator, u64 token, i16 version,
                              const struct kafka_join_group_request *request,
                              const char *client_id, const char *client_host, u64 now_ns,
                              struct proto_arena *arena, union kafka_response *response)
{
    request_begin(coordinator, token, KAFKA_API_JOIN_GROUP, arena, response);
    struct join_context j = {
        .token = token,
        .version = version,
        .request = request,
        .client_id = proto_string_of(client_id != NULL ? client_id : ""),
        .client_host = proto_string_of(client_host != NULL ? client_host : ""),
        /* JoinGroup v0 had no rebalance timeout: the session timeout served as one. */
        .rebalance_timeout_ms = MAX(version == 0 ? request->SessionTimeoutMs
                                                 : request->RebalanceTimeoutMs, 0),
        .now_ns = now_ns,
    };
    join_handle(coordinator, &j);
    return request_end(coordinator);
}

/* ================================================================================ */
/* SyncGroup, Heartbeat, LeaveGroup                                                 */
/* ================================================================================ */

static bool group_id_valid(struct proto_string id)
{
    return id.size > 0 && id.size <= (i32)GROUP_ID_MAX;
}

/* Set and different from the group's (SyncGroup v5). */
static bool protocol_inconsistent(struct proto_string given, const struct label *group)
{
    return given.size >= 0 && group->size >= 0 && !label_is(group, given);
}

static void sync_error(struct group_coordinator *c, u64 token, i16 version, i16 error)
{
    sync_reply(c, token, version, error, NULL, (struct proto_bytes){EMPTY_BYTES, 0});
}

static bool any_pending_sync(const struct group *g)
{
    for (u32 i = 0; i < g->member_count; i++) {
        if (g->members[i]->pending_sync) return true;
    }
    return false;
}

static void sync_received(struct group *g, struct member *m)
{
    m->pending_sync = false;
    if (!any_pending_sync(g)) g->sync_deadline = UINT64_MAX;
}

static void sync_handle(struct group_coordinator *c, u64 token, i16 version,
                        const struct kafka_sync_group_request *request, u64 now_ns)
{
    if (!group_id_valid(request->GroupId)) {
        sync_error(c, token, version, KAFKA_ERROR_INVALID_GROUP_ID);
        return;
    }
    i16 error = partition_error(c, request->GroupId);
    if (error != KAFKA_ERROR_NONE) {
        sync_error(c, token, version, error);
        return;
    }
    struct group *g = group_get(c, request->GroupId);
    if (g == NULL || g->state == STATE_EMPTY) {
        sync_error(c, token, version, KAFKA_ERROR_UNKNOWN_MEMBER_ID);
        return;
    }
    if (g->state == STATE_DEAD) {
        sync_error(c, token, version, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    error = validate_member(g, request->MemberId, request->GroupInstanceId);
    if (error == KAFKA_ERROR_NONE && request->GenerationId != g->generation) {
        error = KAFKA_ERROR_ILLEGAL_GENERATION;
    }
    if (error == KAFKA_ERROR_NONE &&
        (protocol_inconsistent(request->ProtocolType, &g->protocol_type) ||
         protocol_inconsistent(request->ProtocolName, &g->protocol_name))) {
        error = KAFKA_ERROR_INCONSISTENT_GROUP_PROTOCOL;
    }
    if (error == KAFKA_ERROR_NONE && g->state == STATE_PREPARING) {
        error = KAFKA_ERROR_REBALANCE_IN_PROGRESS;
    }
    if (error != KAFKA_ERROR_NONE) {
        sync_error(c, token, version, error);
        return;
    }
    struct member *m = member_get(g, request->MemberId);
    if (g->state == STATE_STABLE) {
        sync_received(g, m);
        sync_reply(c, token, version, KAFKA_ERROR_NONE, g, blob_view(&m->assignment));
        return;
    }
    ASSERT(g->state == STATE_COMPLETING);
    if (m->awaiting_sync && m->sync_answerable) {
        /* Superseded by this one (Kafka would leave it unanswered). */
        sync_error(c, m->sync_token, m->sync_version, KAFKA_ERROR_REBALANCE_IN_PROGRESS);
    }
    m->awaiting_sync = true;
    m->sync_answerable = true;
    m->sync_token = token;
    m->sync_version = version;
    sync_received(g, m);
    if (m != g->leader) return;
    /* The leader's assignment: everyone is answered once it is in the log. */
    struct persist *p = persist_prepare(c, g->partition, PERSIST_SYNC);
    p->group_serial = g->serial;
    p->generation = g->generation;
    persist_group_metadata(c, g, p, request, now_ns);
}

enum group_outcome group_sync(struct group_coordinator *coordinator, u64 token, i16 version,
                              const struct kafka_sync_group_request *request, u64 now_ns,
                              struct proto_arena *arena, union kafka_response *response)
{
    request_begin(coordinator, token, KAFKA_API_SYNC_GROUP, arena, response);
    sync_handle(coordinator, token, version, request, now_ns);
    return request_end(coordinator);
}

static i16 heartbeat_error(struct group_coordinator *c,
                           const struct kafka_heartbeat_request *request, u64 now_ns)
{
    if (!group_id_valid(request->GroupId)) return KAFKA_ERROR_INVALID_GROUP_ID;
    i16 error = partition_error(c, request->GroupId);
    /* Kafka answers a heartbeat to a loading group blindly with success. */
    if (error == KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS) return KAFKA_ERROR_NONE;
    if (error != KAFKA_ERROR_NONE) return error;
    struct group *g = group_get(c, request->GroupId);
    if (g == NULL) return KAFKA_ERROR_UNKNOWN_MEMBER_ID;
    if (g->state == STATE_DEAD) return KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
    error = validate_member(g, request->MemberId, request->GroupInstanceId);
    if (error != KAFKA_ERROR_NONE) return error;
    if (request->GenerationId != g->generation) return KAFKA_ERROR_ILLEGAL_GENERATION;
    if (g->state == STATE_EMPTY) return KAFKA_ERROR_UNKNOWN_MEMBER_ID;
    struct member *m = member_get(g, request->MemberId);
    m->heartbeat_deadline = after_ms(now_ns, m->session_timeout_ms);
    return g->state == STATE_PREPARING ? KAFKA_ERROR_REBALANCE_IN_PROGRESS : KAFKA_ERROR_NONE;
}

enum group_outcome group_heartbeat(struct group_coordinator *coordinator, u64 token, i16 version,
                                   const struct kafka_heartbeat_request *request, u64 now_ns,
                                   struct proto_arena *arena, union kafka_response *response)
{
    request_begin(coordinator, token, KAFKA_API_HEARTBEAT, arena, response);
    i16 error = heartbeat_error(coordinator, request, now_ns);
    struct answer a = answer_begin(coordinator, token, KAFKA_API_HEARTBEAT);
    kafka_heartbeat_response_init(&a.response->Heartbeat);
    a.response->Heartbeat.ErrorCode = error;
    answer_end(coordinator, token, KAFKA_API_HEARTBEAT, version, &a);
    return request_end(coordinator);
}

static void leave_reply(struct group_coordinator *c, u64 token, i16 version, i16 error,
                        struct kafka_leave_group_response_member *members, i32 count)
{
    struct answer a = answer_begin(c, token, KAFKA_API_LEAVE_GROUP);
    struct kafka_leave_group_response *r = &a.response->LeaveGroup;
    kafka_leave_group_response_init(r);
    r->ErrorCode = error;
    if (version >= 3) {
        r->Members.items = members;
        r->Members.count = members == NULL ? 0 : count;
    } else if (error == KAFKA_ERROR_NONE) {
        /* Before v3 there is one member and its error is the answer's. */
        for (i32 i = 0; i < count && members != NULL; i++) {
            if (members[i].ErrorCode != KAFKA_ERROR_NONE) {
                r->ErrorCode = members[i].ErrorCode;
                break;
            }
        }
    }
    answer_end(c, token, KAFKA_API_LEAVE_GROUP, version, &a);
}

static void leave_handle(struct group_coordinator *c, u64 token, i16 version,
                         const struct kafka_leave_group_request *request, u64 now_ns)
{
    if (!group_id_valid(request->GroupId)) {
        leave_reply(c, token, version, KAFKA_ERROR_INVALID_GROUP_ID, NULL, 0);
        return;
    }
    i16 error = partition_error(c, request->GroupId);
    if (error != KAFKA_ERROR_NONE) {
        leave_reply(c, token, version, error, NULL, 0);
        return;
    }
    struct kafka_leave_group_request_member_identity single;
    const struct kafka_leave_group_request_member_identity *identities = request->Members.items;
    i32 count = MAX(request->Members.count, 0);
    if (version < 3) {
        kafka_leave_group_request_member_identity_init(&single);
        single.MemberId = request->MemberId;
        single.GroupInstanceId = PROTO_STRING_NULL;
        identities = &single;
        count = 1;
    }
    struct group *g = group_get(c, request->GroupId);
    if (g != NULL && g->state == STATE_DEAD) {
        leave_reply(c, token, version, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE, NULL, 0);
        return;
    }
    struct kafka_leave_group_response_member *members =
        count > 0 ? proto_arena_alloc(c->inline_arena, (u64)count * sizeof(*members)) : NULL;
    if (count > 0 && members == NULL) {
        leave_reply(c, token, version, KAFKA_ERROR_UNKNOWN_SERVER_ERROR, NULL, 0);
        return;
    }
    u32 left = 0;
    for (i32 i = 0; i < count; i++) {
        const struct kafka_leave_group_request_member_identity *who = &identities[i];
        struct kafka_leave_group_response_member *out = &members[i];
        kafka_leave_group_response_member_init(out);
        out->MemberId = who->MemberId;
        out->GroupInstanceId = who->GroupInstanceId;
        out->ErrorCode = KAFKA_ERROR_NONE;
        if (g == NULL) {
            out->ErrorCode = KAFKA_ERROR_UNKNOWN_MEMBER_ID;
        } else if (who->MemberId.size <= 0) {
            /* An administrative removal names the instance only. */
            struct member *m = static_member(g, who->GroupInstanceId);
            if (m == NULL) {
                out->ErrorCode = KAFKA_ERROR_UNKNOWN_MEMBER_ID;
            } else {
                member_remove(c, g, m);
                left++;
            }
        } else if (pending_find(g, who->MemberId) >= 0) {
            pending_remove(g, (u32)pending_find(g, who->MemberId));
            left++;
        } else {
            out->ErrorCode = validate_member(g, who->MemberId, who->GroupInstanceId);
            if (out->ErrorCode == KAFKA_ERROR_NONE) {
                member_remove(c, g, member_get(g, who->MemberId));
                left++;
            }
        }
    }
    if (left > 0) {
        if (g->state == STATE_STABLE || g->state == STATE_COMPLETING) {
            maybe_prepare_rebalance_or_complete_join(c, g, now_ns);
        } else if (g->state == STATE_PREPARING) {
            maybe_complete_join_phase(c, g, now_ns);
        }
    }
    leave_reply(c, token, version, KAFKA_ERROR_NONE, members, count);
}

enum group_outcome group_leave(struct group_coordinator *coordinator, u64 token, i16 version,
                               const struct kafka_leave_group_request *request, u64 now_ns,
                               struct proto_arena *arena, union kafka_response *response)
{
    request_begin(coordinator, token, KAFKA_API_LEAVE_GROUP, arena, response);
    leave_handle(coordinator, token, version, request, now_ns);
    return request_end(coordinator);
}

/* ================================================================================ */
/* OffsetCommit, OffsetFetch                                                        */
/* ================================================================================ */

/* Kafka's ClassicGroup.validateOffsetCommit. */
static i16 validate_offset_commit(const struct group *g,
                                  const struct kafka_offset_commit_request *request)
{
    if (g->state == STATE_DEAD) return KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
    i32 generation = request->GenerationIdOrMemberEpoch;
    /* The admin client, or a consumer assigning its own partitions: only into an Empty group. */
    if (generation < 0 && g->state == STATE_EMPTY) return KAFKA_ERROR_NONE;
    if (generation >= 0 || request->MemberId.size > 0 || request->GroupInstanceId.size >= 0) {
        i16 error = validate_member(g, request->MemberId, request->GroupInstanceId);
        if (error != KAFKA_ERROR_NONE) return error;
        if (generation != g->generation) return KAFKA_ERROR_ILLEGAL_GENERATION;
    } else if (g->state != STATE_EMPTY) {
        return KAFKA_ERROR_UNKNOWN_MEMBER_ID;
    }
    if (g->state == STATE_COMPLETING) return KAFKA_ERROR_REBALANCE_IN_PROGRESS;
    return KAFKA_ERROR_NONE;
}

static void commit_set_all(struct kafka_offset_commit_response *r, i16 error)
{
    for (i32 t = 0; t < r->Topics.count; t++) {
        for (i32 i = 0; i < r->Topics.items[t].Partitions.count; i++) {
            r->Topics.items[t].Partitions.items[i].ErrorCode = error;
        }
    }
}

/* The response mirrors the request; false when the caller's arena cannot hold it. */
static bool commit_draft(struct answer *a, const struct kafka_offset_commit_request *request)
{
    struct kafka_offset_commit_response *r = &a->response->OffsetCommit;
    kafka_offset_commit_response_init(r);
    u32 topics = (u32)MAX(request->Topics.count, 0);
    r->Topics.items = answer_items(a, topics, sizeof(*r->Topics.items));
    if (topics > 0 && r->Topics.items == NULL) return false;
    r->Topics.count = (i32)topics;
    for (u32 t = 0; t < topics; t++) {
        const struct kafka_offset_commit_request_topic *in = &request->Topics.items[t];
        struct kafka_offset_commit_response_topic *out = &r->Topics.items[t];
        kafka_offset_commit_response_topic_init(out);
        out->Name = in->Name;
        u32 partitions = (u32)MAX(in->Partitions.count, 0);
        out->Partitions.items = answer_items(a, partitions, sizeof(*out->Partitions.items));
        if (partitions > 0 && out->Partitions.items == NULL) return false;
        out->Partitions.count = (i32)partitions;
        for (u32 i = 0; i < partitions; i++) {
            kafka_offset_commit_response_partition_init(&out->Partitions.items[i]);
            out->Partitions.items[i].PartitionIndex = in->Partitions.items[i].PartitionIndex;
        }
    }
    return true;
}

static void commit_handle(struct group_coordinator *c, u64 token, i16 version,
                          const struct kafka_offset_commit_request *request, u64 now_ns)
{
    struct answer a = answer_begin(c, token, KAFKA_API_OFFSET_COMMIT);
    struct kafka_offset_commit_response *r = &a.response->OffsetCommit;
    if (!commit_draft(&a, request)) {
        kafka_offset_commit_response_init(r);
        answer_end(c, token, KAFKA_API_OFFSET_COMMIT, version, &a);
        return;
    }
    i16 error = KAFKA_ERROR_NONE;
    struct group *g = NULL;
    if (!group_id_storable(request->GroupId)) {
        error = KAFKA_ERROR_INVALID_GROUP_ID;
    } else if ((error = partition_error(c, request->GroupId)) == KAFKA_ERROR_NONE) {
        g = group_get(c, request->GroupId);
        if (g == NULL && request->GenerationIdOrMemberEpoch < 0) {
            g = group_create(c, request->GroupId, partition_of(c, request->GroupId));
            if (g == NULL) error = KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
        } else if (g == NULL) {
            error = version >= 9 ? KAFKA_ERROR_GROUP_ID_NOT_FOUND
                                 : KAFKA_ERROR_ILLEGAL_GENERATION;
        } else {
            error = validate_offset_commit(g, request);
        }
    }
    if (error != KAFKA_ERROR_NONE) {
        commit_set_all(r, error);
        answer_end(c, token, KAFKA_API_OFFSET_COMMIT, version, &a);
        return;
    }
    /* A commit keeps the member's session alive. */
    struct member *m = member_get(g, request->MemberId);
    if (m != NULL && (g->state == STATE_STABLE || g->state == STATE_PREPARING)) {
        m->heartbeat_deadline = after_ms(now_ns, m->session_timeout_ms);
    }
    i64 now_ms = ms_of(now_ns);
    i64 expire_ms = -1;
    if (version >= 2 && version <= 4 && request->RetentionTimeMs != -1) {
        expire_ms = now_ms + MAX(request->RetentionTimeMs, 0);
    }
    struct batch_writer w;
    batch_start(c, &w, now_ns);
    u32 entries = 0;
    u8 key[GROUP_ID_MAX + GROUP_TOPIC_NAME_MAX + 16];
    bool too_large = false;
    for (i32 t = 0; t < request->Topics.count; t++) {
        const struct kafka_offset_commit_request_topic *topic = &request->Topics.items[t];
        for (i32 i = 0; i < topic->Partitions.count; i++) {
            const struct kafka_offset_commit_request_partition *in = &topic->Partitions.items[i];
            struct kafka_offset_commit_response_partition *out =
                &r->Topics.items[t].Partitions.items[i];
            if (in->CommittedMetadata.size > (i32)c->config.offset_metadata_max_bytes) {
                out->ErrorCode = KAFKA_ERROR_OFFSET_METADATA_TOO_LARGE;
                continue;
            }
            if (topic->Name.size <= 0 || topic->Name.size > (i32)GROUP_TOPIC_NAME_MAX) {
                out->ErrorCode = KAFKA_ERROR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (entries >= GROUP_OFFSETS_MAX) {
                out->ErrorCode = KAFKA_ERROR_INVALID_COMMIT_OFFSET_SIZE;
                continue;
            }
            struct group_offset_value value = {
                .version = expire_ms >= 0 ? GROUP_OFFSET_VALUE_VERSION_EXPIRING
                                          : GROUP_OFFSET_VALUE_VERSION,
                .offset = in->CommittedOffset,
                .leader_epoch = version >= 6 ? in->CommittedLeaderEpoch : -1,
                .metadata = in->CommittedMetadata.size < 0 ? EMPTY_STRING
                                                            : in->CommittedMetadata,
                .commit_timestamp = now_ms,
                .expire_timestamp = expire_ms,
            };
            u32 key_size = group_offset_key_encode(key, sizeof(key), GROUP_OFFSET_KEY_VERSION,
                                                   request->GroupId, topic->Name,
                                                   in->PartitionIndex);
            u32 value_size = group_offset_value_encode(c->record_buffer, GROUP_BATCH_MAX, &value);
            ASSERT(key_size > 0 && value_size > 0);
            if (!batch_fits(&w, key_size, value_size)) {
                too_large = true; /* One commit is one batch, as in Kafka. */
                break;
            }
            batch_put(&w, key, key_size, c->record_buffer, value_size);
            entries++;
        }
    }
    if (too_large) {
        commit_set_all(r, persist_error_mapped(KAFKA_ERROR_RECORD_LIST_TOO_LARGE));
        entries = 0;
    }
    if (entries == 0) {
        answer_end(c, token, KAFKA_API_OFFSET_COMMIT, version, &a);
        return;
    }
    i32 parked = parked_open(c, token, PARKED_COMMIT, version, a.response, 0);
    if (parked < 0) {
        commit_set_all(r, KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE);
        answer_end(c, token, KAFKA_API_OFFSET_COMMIT, version, &a);
        return;
    }
    struct persist *p = persist_prepare(c, g->partition, PERSIST_OFFSETS);
    p->parked = parked;
    p->group_serial = g->serial;
    p->counts_commit = true;
    g->commits_in_flight++;
    c->parked[parked].waiting++;
    persist_batch(c, p, &w, now_ns);
    parked_done(c, parked, 0, KAFKA_ERROR_NONE);
}

enum group_outcome group_offset_commit(struct group_coordinator *coordinator, u64 token,
                                       i16 version,
                                       const struct kafka_offset_commit_request *request,
                                       u64 now_ns, struct proto_arena *arena,
                                       union kafka_response *response)
{
    request_begin(coordinator, token, KAFKA_API_OFFSET_COMMIT, arena, response);
    commit_handle(coordinator, token, version, request, now_ns);
    return request_end(coordinator);
}

static void fetch_partition_fill(struct kafka_offset_fetch_response_partition *out,
                                 i32 partition, const struct offset_entry *entry, i16 error)
{
    kafka_offset_fetch_response_partition_init(out);
    out->PartitionIndex = partition;
    out->CommittedOffset = entry != NULL ? entry->offset : -1;
    out->CommittedLeaderEpoch = entry != NULL ? entry->leader_epoch : -1;
    out->Metadata = entry != NULL ? text_view(&entry->metadata) : EMPTY_STRING;
    out->ErrorCode = error;
}

/* Every offset of the group, grouped by topic in the order the topics were first committed. */
static bool fetch_all(struct answer *a, const struct group *g)
{
    struct kafka_offset_fetch_response *r = &a->response->OffsetFetch;
    if (g == NULL || g->offset_count == 0) return true;
    bool *done = answer_items(a, g->offset_count, sizeof(bool));
    struct kafka_offset_fetch_response_topic *topics =
        answer_items(a, g->offset_count, sizeof(*topics));
    if (done == NULL || topics == NULL) return false;
    memset(done, 0, g->offset_count * sizeof(bool));
    u32 topic_count = 0;
    for (u32 i = 0; i < g->offset_count; i++) {
        if (done[i]) continue;
        const struct text *name = &g->offsets[i].topic;
        u32 partitions = 0;
        for (u32 k = i; k < g->offset_count; k++) {
            if (text_is(&g->offsets[k].topic, text_view(name))) partitions++;
        }
        struct kafka_offset_fetch_response_topic *out = &topics[topic_count++];
        kafka_offset_fetch_response_topic_init(out);
        out->Name = text_view(name);
        out->Partitions.items = answer_items(a, partitions, sizeof(*out->Partitions.items));
        if (out->Partitions.items == NULL) return false;
        for (u32 k = i; k < g->offset_count; k++) {
            if (done[k] || !text_is(&g->offsets[k].topic, text_view(name))) continue;
            done[k] = true;
            fetch_partition_fill(&out->Partitions.items[out->Partitions.count++],
                                 g->offsets[k].partition, &g->offsets[k], KAFKA_ERROR_NONE);
        }
    }
    r->Topics.items = topics;
    r->Topics.count = (i32)topic_count;
    return true;
}

static bool fetch_some(struct answer *a, const struct group *g,
                       const struct kafka_offset_fetch_request *request, i16 error)
{
    struct kafka_offset_fetch_response *r = &a->response->OffsetFetch;
    u32 topics = (u32)MAX(request->Topics.count, 0);
    r->Topics.items = answer_items(a, topics, sizeof(*r->Topics.items));
    if (topics > 0 && r->Topics.items == NULL) return false;
    r->Topics.count = (i32)topics;
    for (u32 t = 0; t < topics; t++) {
        const struct kafka_offset_fetch_request_topic *in = &request->Topics.items[t];
        struct kafka_offset_fetch_response_topic *out = &r->Topics.items[t];
        kafka_offset_fetch_response_topic_init(out);
        out->Name = in->Name;
        u32 partitions = (u32)MAX(in->PartitionIndexes.count, 0);
        out->Partitions.items = answer_items(a, partitions, sizeof(*out->Partitions.items));
        if (partitions > 0 && out->Partitions.items == NULL) return false;
        out->Partitions.count = (i32)partitions;
        for (u32 i = 0; i < partitions; i++) {
            i32 partition = in->PartitionIndexes.items[i];
            i32 index = g == NULL ? -1 : offset_find(g, in->Name, partition);
            fetch_partition_fill(&out->Partitions.items[i], partition,
                                 index < 0 ? NULL : &g->offsets[index], error);
        }
    }
    return true;
}

enum group_outcome group_offset_fetch(struct group_coordinator *coordinator, u64 token,
                                      i16 version,
                                      const struct kafka_offset_fetch_request *request,
                                      struct proto_arena *arena, union kafka_response *response)
{
    struct group_coordinator *c = coordinator;
    request_begin(c, token, KAFKA_API_OFFSET_FETCH, arena, response);
    struct answer a = answer_begin(c, token, KAFKA_API_OFFSET_FETCH);
    struct kafka_offset_fetch_response *r = &a.response->OffsetFetch;
    kafka_offset_fetch_response_init(r);
    if (version >= 8) {
        /* Batched groups (v8+) are not advertised: each is refused. */
        u32 count = (u32)MAX(request->Groups.count, 0);
        r->Groups.items = answer_items(&a, count, sizeof(*r->Groups.items));
        r->Groups.count = r->Groups.items == NULL ? 0 : (i32)count;
        for (i32 i = 0; i < r->Groups.count; i++) {
            kafka_offset_fetch_response_group_init(&r->Groups.items[i]);
            r->Groups.items[i].GroupId = request->Groups.items[i].GroupId;
            r->Groups.items[i].ErrorCode = KAFKA_ERROR_UNSUPPORTED_VERSION;
        }
    } else {
        i16 error = group_id_storable(request->GroupId) ? partition_error(c, request->GroupId)
                                                        : KAFKA_ERROR_INVALID_GROUP_ID;
        const struct group *g = error == KAFKA_ERROR_NONE ? group_get(c, request->GroupId)
                                                          : NULL;
        if (g != NULL && g->state == STATE_DEAD) g = NULL;
        bool ok = true;
        if (error != KAFKA_ERROR_NONE && version >= 2) {
            r->ErrorCode = error;
        } else if (request->Topics.count < 0) {
            ok = fetch_all(&a, g);
        } else {
            ok = fetch_some(&a, g, request, error);
        }
        if (!ok) {
            kafka_offset_fetch_response_init(r);
            r->ErrorCode = KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
        }
    }
    answer_end(c, token, KAFKA_API_OFFSET_FETCH, version, &a);
    return request_end(c);
}

/* ================================================================================ */
/* DescribeGroups, ListGroups, DeleteGroups, OffsetDelete                           */
/* ================================================================================ */

static bool describe_group(struct answer *a, i16 version, const struct group *g,
                           struct kafka_describe_groups_response_described_group *out)
{
    out->GroupState = proto_string_of(STATE_NAMES[g->state]);
    out->ProtocolType = g->protocol_type.size >= 0 ? label_view(&g->protocol_type)
                                                   : EMPTY_STRING;
    bool stable = g->state == STATE_STABLE;
    out->ProtocolData = stable ? label_view(&g->protocol_name) : EMPTY_STRING;
    if (g->member_count == 0) return true;
    out->Members.items = answer_items(a, g->member_count, sizeof(*out->Members.items));
    if (out->Members.items == NULL) return false;
    out->Members.count = (i32)g->member_count;
    for (u32 i = 0; i < g->member_count; i++) {
        const struct member *m = g->members[i];
        struct kafka_describe_groups_response_described_group_member *item =
            &out->Members.items[i];
        kafka_describe_groups_response_described_group_member_init(item);
        item->MemberId = text_view(&m->id);
        if (version >= 4) item->GroupInstanceId = text_view(&m->instance_id);
        item->ClientId = text_view(&m->client_id);
        item->ClientHost = text_view(&m->client_host);
        /* Only a Stable group's members have metadata and assignments worth showing. */
        item->MemberMetadata = stable ? member_metadata(m, &g->protocol_name)
                                      : (struct proto_bytes){EMPTY_BYTES, 0};
        item->MemberAssignment = stable ? blob_view(&m->assignment)
                                        : (struct proto_bytes){EMPTY_BYTES, 0};
    }
    return true;
}

enum group_outcome group_describe(struct group_coordinator *coordinator, u64 token, i16 version,
                                  const struct kafka_describe_groups_request *request,
                                  struct proto_arena *arena, union kafka_response *response)
{
    struct group_coordinator *c = coordinator;
    request_begin(c, token, KAFKA_API_DESCRIBE_GROUPS, arena, response);
    struct answer a = answer_begin(c, token, KAFKA_API_DESCRIBE_GROUPS);
    struct kafka_describe_groups_response *r = &a.response->DescribeGroups;
    kafka_describe_groups_response_init(r);
    u32 count = (u32)MAX(request->Groups.count, 0);
    r->Groups.items = answer_items(&a, count, sizeof(*r->Groups.items));
    r->Groups.count = r->Groups.items == NULL ? 0 : (i32)count;
    for (i32 i = 0; i < r->Groups.count; i++) {
        struct proto_string id = request->Groups.items[i];
        struct kafka_describe_groups_response_described_group *out = &r->Groups.items[i];
        kafka_describe_groups_response_described_group_init(out);
        out->GroupId = id;
        out->GroupState = proto_string_of(STATE_NAMES[STATE_DEAD]);
        out->ProtocolType = EMPTY_STRING;
        out->ProtocolData = EMPTY_STRING;
        if (!group_id_storable(id)) continue; /* No such group can exist: Dead. */
        out->ErrorCode = partition_error(c, id);
        const struct group *g = out->ErrorCode == KAFKA_ERROR_NONE ? group_get(c, id) : NULL;
        if (g != NULL && !describe_group(&a, version, g, out)) {
            out->ErrorCode = KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
        }
    }
    answer_end(c, token, KAFKA_API_DESCRIBE_GROUPS, version, &a);
    return request_end(c);
}

static bool equal_ignoring_case(struct proto_string a, const char *b)
{
    size_t size = strlen(b);
    if (a.size < 0 || (size_t)a.size != size) return false;
    for (size_t i = 0; i < size; i++) {
        char x = a.data[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

static bool listed(const struct group_coordinator *c, const struct group *g, i16 version,
                   const struct kafka_list_groups_request *request)
{
    if (c->partitions[g->partition].state != GROUP_PARTITION_LOADED) return false;
    if (g->state == STATE_DEAD) return false;
    if (version >= 4 && request->StatesFilter.count > 0) {
        bool match = false;
        for (i32 i = 0; i < request->StatesFilter.count; i++) {
            match |= equal_ignoring_case(request->StatesFilter.items[i], STATE_NAMES[g->state]);
        }
        if (!match) return false;
    }
    if (version >= 5 && request->TypesFilter.count > 0) {
        bool match = false;
        for (i32 i = 0; i < request->TypesFilter.count; i++) {
            match |= equal_ignoring_case(request->TypesFilter.items[i], "classic");
        }
        if (!match) return false;
    }
    return true;
}

enum group_outcome group_list(struct group_coordinator *coordinator, u64 token, i16 version,
                              const struct kafka_list_groups_request *request,
                              struct proto_arena *arena, union kafka_response *response)
{
    struct group_coordinator *c = coordinator;
    request_begin(c, token, KAFKA_API_LIST_GROUPS, arena, response);
    struct answer a = answer_begin(c, token, KAFKA_API_LIST_GROUPS);
    struct kafka_list_groups_response *r = &a.response->ListGroups;
    kafka_list_groups_response_init(r);
    for (u32 p = 0; p < c->config.offsets_partitions; p++) {
        if (c->partitions[p].state == GROUP_PARTITION_LOADING) {
            r->ErrorCode = KAFKA_ERROR_COORDINATOR_LOAD_IN_PROGRESS; /* As Kafka: and list. */
        }
    }
    u32 count = 0;
    for (u32 i = 0; i < c->group_count; i++) count += listed(c, c->groups[i], version, request);
    r->Groups.items = answer_items(&a, count, sizeof(*r->Groups.items));
    if (count > 0 && r->Groups.items == NULL) {
        r->ErrorCode = KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
        count = 0;
    }
    for (u32 i = 0, n = 0; i < c->group_count && n < count; i++) {
        const struct group *g = c->groups[i];
        if (!listed(c, g, version, request)) continue;
        struct kafka_list_groups_response_listed_group *out = &r->Groups.items[n++];
        kafka_list_groups_response_listed_group_init(out);
        out->GroupId = text_view(&g->id);
        out->ProtocolType = g->protocol_type.size >= 0 ? label_view(&g->protocol_type)
                                                       : EMPTY_STRING;
        out->GroupState = proto_string_of(STATE_NAMES[g->state]);
        out->GroupType = proto_string_of("classic");
    }
    r->Groups.count = (i32)count;
    answer_end(c, token, KAFKA_API_LIST_GROUPS, version, &a);
    return request_end(c);
}

static void delete_handle(struct group_coordinator *c, u64 token, i16 version,
                          const struct kafka_delete_groups_request *request, u64 now_ns)
{
    struct answer a = answer_begin(c, token, KAFKA_API_DELETE_GROUPS);
    struct kafka_delete_groups_response *r = &a.response->DeleteGroups;
    kafka_delete_groups_response_init(r);
    u32 count = (u32)MAX(request->GroupsNames.count, 0);
    r->Results.items = answer_items(&a, count, sizeof(*r->Results.items));
    r->Results.count = r->Results.items == NULL ? 0 : (i32)count;
    u32 deletable = 0;
    for (i32 i = 0; i < r->Results.count; i++) {
        struct proto_string id = request->GroupsNames.items[i];
        struct kafka_delete_groups_response_deletable_group_result *out = &r->Results.items[i];
        kafka_delete_groups_response_deletable_group_result_init(out);
        out->GroupId = id;
        if (!group_id_storable(id)) {
            out->ErrorCode = KAFKA_ERROR_GROUP_ID_NOT_FOUND;
            continue;
        }
        out->ErrorCode = partition_error(c, id);
        if (out->ErrorCode != KAFKA_ERROR_NONE) continue;
        const struct group *g = group_get(c, id);
        if (g == NULL || g->state == STATE_DEAD) {
            out->ErrorCode = KAFKA_ERROR_GROUP_ID_NOT_FOUND;
        } else if (g->state != STATE_EMPTY) {
            out->ErrorCode = KAFKA_ERROR_NON_EMPTY_GROUP;
        } else {
            deletable++;
        }
    }
    if (deletable == 0) {
        answer_end(c, token, KAFKA_API_DELETE_GROUPS, version, &a);
        return;
    }
    i32 parked = parked_open(c, token, PARKED_DELETE_GROUPS, version, a.response,
                             (u32)r->Results.count);
    if (parked < 0) {
        for (i32 i = 0; i < r->Results.count; i++) {
            if (r->Results.items[i].ErrorCode == KAFKA_ERROR_NONE) {
                r->Results.items[i].ErrorCode = KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
            }
        }
        answer_end(c, token, KAFKA_API_DELETE_GROUPS, version, &a);
        return;
    }
    for (i32 i = 0; i < r->Results.count; i++) {
        if (r->Results.items[i].ErrorCode != KAFKA_ERROR_NONE) continue;
        struct group *g = group_get(c, request->GroupsNames.items[i]);
        if (g == NULL || g->state != STATE_EMPTY) continue; /* A duplicate name. */
        transition(g, STATE_DEAD, now_ns);
        persist_tombstones(c, g, NULL, true, parked, (u32)i, now_ns);
    }
    parked_done(c, parked, 0, KAFKA_ERROR_NONE);
}

enum group_outcome group_delete(struct group_coordinator *coordinator, u64 token, i16 version,
                                const struct kafka_delete_groups_request *request, u64 now_ns,
                                struct proto_arena *arena, union kafka_response *response)
{
    request_begin(coordinator, token, KAFKA_API_DELETE_GROUPS, arena, response);
    delete_handle(coordinator, token, version, request, now_ns);
    return request_end(coordinator);
}

/* Whether a member of a consumer group subscribes to the topic (ConsumerProtocolSubscription
 * starts with its version and the topics in every version; metadata that does not parse
 * counts as subscribing to everything, as in Kafka). */
static bool subscribed_to(const struct group *g, struct proto_string topic)
{
    if (g->state == STATE_EMPTY) return false;
    if (g->protocol_name.size < 0) return g->generation == 0;
    for (u32 i = 0; i < g->member_count; i++) {
        struct proto_bytes metadata = member_metadata(g->members[i], &g->protocol_name);
        struct proto_reader reader;
        proto_reader_init(&reader, metadata.data, (u32)MAX(metadata.size, 0));
        i16 version = proto_read_i16(&reader);
        i32 count = proto_read_array_count(&reader, false, false, 2);
        if (reader.error != PROTO_OK || version < 0) return true;
        for (i32 k = 0; k < count; k++) {
            struct proto_string name = proto_read_string(&reader, false, false);
            if (reader.error != PROTO_OK) return true;
            if (strings_equal(name, topic)) return true;
        }
    }
    return false;
}

static void offset_delete_handle(struct group_coordinator *c, u64 token, i16 version,
                                 const struct kafka_offset_delete_request *request, u64 now_ns)
{
    struct answer a = answer_begin(c, token, KAFKA_API_OFFSET_DELETE);
    struct kafka_offset_delete_response *r = &a.response->OffsetDelete;
    kafka_offset_delete_response_init(r);
    struct group *g = NULL;
    if (!group_id_valid(request->GroupId)) {
        r->ErrorCode = KAFKA_ERROR_INVALID_GROUP_ID;
    } else if ((r->ErrorCode = partition_error(c, request->GroupId)) == KAFKA_ERROR_NONE) {
        g = group_get(c, request->GroupId);
        if (g == NULL || g->state == STATE_DEAD) {
            r->ErrorCode = KAFKA_ERROR_GROUP_ID_NOT_FOUND;
        } else if (g->state != STATE_EMPTY && !group_is_consumer(g)) {
            r->ErrorCode = KAFKA_ERROR_NON_EMPTY_GROUP;
        }
    }
    bool *selected = NULL;
    u32 count = (u32)MAX(request->Topics.count, 0);
    if (r->ErrorCode == KAFKA_ERROR_NONE) {
        r->Topics.items = answer_items(&a, count, sizeof(*r->Topics.items));
        selected = answer_items(&a, g->offset_count, sizeof(bool));
        if ((count > 0 && r->Topics.items == NULL) ||
            (g->offset_count > 0 && selected == NULL)) {
            r->ErrorCode = KAFKA_ERROR_UNKNOWN_SERVER_ERROR;
            r->Topics.items = NULL;
        } else if (selected != NULL) {
            memset(selected, 0, g->offset_count * sizeof(bool));
        }
    }
    if (r->ErrorCode != KAFKA_ERROR_NONE) {
        answer_end(c, token, KAFKA_API_OFFSET_DELETE, version, &a);
        return;
    }
    r->Topics.count = (i32)count;
    u32 tombstones = 0;
    for (u32 t = 0; t < count; t++) {
        const struct kafka_offset_delete_request_topic *in = &request->Topics.items[t];
        struct kafka_offset_delete_response_topic *out = &r->Topics.items[t];
        kafka_offset_delete_response_topic_init(out);
        out->Name = in->Name;
        u32 partitions = (u32)MAX(in->Partitions.count, 0);
        out->Partitions.items = answer_items(&a, partitions, sizeof(*out->Partitions.items));
        if (partitions > 0 && out->Partitions.items == NULL) {
            r->Topics.count = (i32)t;
            break;
        }
        out->Partitions.count = (i32)partitions;
        bool subscribed = subscribed_to(g, in->Name);
        for (u32 i = 0; i < partitions; i++) {
            i32 partition = in->Partitions.items[i].PartitionIndex;
            kafka_offset_delete_response_partition_init(&out->Partitions.items[i]);
            out->Partitions.items[i].PartitionIndex = partition;
            if (subscribed) {
                out->Partitions.items[i].ErrorCode = KAFKA_ERROR_GROUP_SUBSCRIBED_TO_TOPIC;
                continue;
            }
            i32 index = offset_find(g, in->Name, partition);
            if (index >= 0 && !selected[index]) {
                selected[index] = true;
                tombstones++;
            }
        }
    }
    if (tombstones == 0) {
        answer_end(c, token, KAFKA_API_OFFSET_DELETE, version, &a);
        return;
    }
    i32 parked = parked_open(c, token, PARKED_OFFSET_DELETE, version, a.response, 0);
    if (parked < 0) {
        r->ErrorCode = KAFKA_ERROR_COORDINATOR_NOT_AVAILABLE;
        r->Topics.count = 0;
        answer_end(c, token, KAFKA_API_OFFSET_DELETE, version, &a);
        return;
    }
    persist_tombstones(c, g, selected, false, parked, 0, now_ns);
    parked_done(c, parked, 0, KAFKA_ERROR_NONE);
}

enum group_outcome group_offset_delete(struct group_coordinator *coordinator, u64 token,
                                       i16 version,
                                       const struct kafka_offset_delete_request *request,
                                       u64 now_ns, struct proto_arena *arena,
                                       union kafka_response *response)
{
    request_begin(coordinator, token, KAFKA_API_OFFSET_DELETE, arena, response);
    offset_delete_handle(coordinator, token, version, request, now_ns);
    return request_end(coordinator);
}

/* ================================================================================ */
/* Time                                                                             */
/* ================================================================================ */

enum due_kind { DUE_NONE, DUE_RETENTION, DUE_HEARTBEAT, DUE_PENDING, DUE_JOIN, DUE_SYNC };

struct due {
    enum due_kind kind;
    u64 at;
    struct group *group;
    u32 index;
};

static void due_consider(struct due *due, enum due_kind kind, u64 at, struct group *g,
                         u32 index)
{
    if (at < due->at) *due = (struct due){kind, at, g, index};
}

/* The earliest thing due; ties go to the first in scan order, so the order is fixed. */
static struct due due_earliest(const struct group_coordinator *c)
{
    struct due due = {DUE_NONE, UINT64_MAX, NULL, 0};
    due_consider(&due, DUE_RETENTION, c->retention_deadline, NULL, 0);
    for (u32 i = 0; i < c->group_count; i++) {
        struct group *g = c->groups[i];
        if (c->partitions[g->partition].state != GROUP_PARTITION_LOADED) continue;
        for (u32 k = 0; k < g->member_count; k++) {
            due_consider(&due, DUE_HEARTBEAT, g->members[k]->heartbeat_deadline, g, k);
        }
        for (u32 k = 0; k < g->pending_count; k++) {
            due_consider(&due, DUE_PENDING, g->pending[k].deadline, g, k);
        }
        due_consider(&due, DUE_JOIN, g->join_deadline, g, 0);
        due_consider(&due, DUE_SYNC, g->sync_deadline, g, 0);
    }
    return due;
}

u64 group_next_deadline(const struct group_coordinator *coordinator)
{
    return due_earliest(coordinator).at;
}

static bool offset_expired(const struct group_coordinator *c, const struct offset_entry *entry,
                           i64 base_ms, i64 now_ms)
{
    if (entry->expire_ms >= 0) return now_ms >= entry->expire_ms;
    return now_ms - base_ms >= ms_of(c->config.offsets_retention_ns);
}

/* Kafka's cleanupGroupMetadata for one group: tombstones for the offsets whose retention
 * passed (counted from when the group became Empty, or from the commit for a group without a
 * protocol, or for topics a Stable consumer group no longer subscribes to), and for the group
 * itself once it is Empty with no offsets left. */
static void retention_group(struct group_coordinator *c, struct group *g, u64 now_ns)
{
    if (g->state == STATE_DEAD || g->commits_in_flight > 0) return;
    if (c->partitions[g->partition].state != GROUP_PARTITION_LOADED) return;
    enum { FROM_EMPTY, FROM_COMMIT, UNSUBSCRIBED_FROM_COMMIT } base;
    if (g->protocol_type.size <= 0) {
        base = FROM_COMMIT;
    } else if (g->state == STATE_EMPTY) {
        base = FROM_EMPTY;
    } else if (group_is_consumer(g) && g->state == STATE_STABLE) {
        base = UNSUBSCRIBED_FROM_COMMIT;
    } else {
        return;
    }
    i64 now_ms = ms_of(now_ns);
    bool *selected = g->offset_count > 0 ? calloc(g->offset_count, sizeof(bool)) : NULL;
    if (g->offset_count > 0 && selected == NULL) return; /* The next check tries again. */
    bool all_expired = true;
    u32 expired = 0;
    for (u32 i = 0; i < g->offset_count; i++) {
        const struct offset_entry *entry = &g->offsets[i];
        i64 from = entry->commit_ms;
        if (base == FROM_EMPTY && g->state_timestamp_ms >= 0) from = g->state_timestamp_ms;
        bool eligible = base != UNSUBSCRIBED_FROM_COMMIT ||
                        !subscribed_to(g, text_view(&entry->topic));
        selected[i] = eligible && offset_expired(c, entry, from, now_ms);
        expired += selected[i];
        all_expired &= selected[i];
    }
    bool remove_group = all_expired && g->state == STATE_EMPTY;
    if (remove_group) transition(g, STATE_DEAD, now_ns);
    if (expired > 0 || remove_group) {
        persist_tombstones(c, g, selected, remove_group, -1, 0, now_ns);
    }
    free(selected);
}

static void retention_check(struct group_coordinator *c, u64 now_ns)
{
    /* Groups may go (a failed tombstone drops a Dead group at once): walk by serial. */
    u64 serials[GROUP_GROUPS_MAX];
    u32 count = c->group_count;
    for (u32 i = 0; i < count; i++) serials[i] = c->groups[i]->serial;
    for (u32 i = 0; i < count; i++) {
        struct group *g = group_by_serial(c, serials[i]);
        if (g != NULL) retention_group(c, g, now_ns);
    }
}

static u64 retention_interval_ms(const struct group_coordinator *c)
{
    u64 ms = c->config.offsets_retention_check_interval_ns / NS_PER_MS;
    return ms == 0 ? RETENTION_CHECK_DEFAULT_MS : ms;
}

static void due_run(struct group_coordinator *c, const struct due *due, u64 now_ns)
{
    struct group *g = due->group;
    switch (due->kind) {
    case DUE_NONE: return;
    case DUE_RETENTION:
        c->retention_deadline = after_ms(now_ns, (i64)retention_interval_ms(c));
        retention_check(c, now_ns);
        return;
    case DUE_HEARTBEAT: {
        struct member *m = g->members[due->index];
        if (has_satisfied_heartbeat(m)) {
            m->heartbeat_deadline = UINT64_MAX; /* Rescheduled when its answer goes out. */
        } else {
            remove_member_and_update(c, g, m, now_ns);
        }
        return;
    }
    case DUE_PENDING:
        pending_remove(g, due->index);
        if (g->state == STATE_PREPARING && all_members_joined(g)) complete_join(c, g, now_ns);
        return;
    case DUE_JOIN:
        if (g->join_initial && g->new_member_added && g->initial_remaining_ms != 0) {
            /* Members keep arriving: wait another delay, within the rebalance timeout. */
            i64 delay = MIN(ms_of(c->config.initial_rebalance_delay_ns),
                            g->initial_remaining_ms);
            g->initial_remaining_ms = MAX(g->initial_remaining_ms - g->initial_delay_ms, 0);
            g->initial_delay_ms = delay;
            g->new_member_added = false;
            g->join_deadline = after_ms(now_ns, delay);
        } else {
            complete_join(c, g, now_ns);
        }
        return;
    case DUE_SYNC: {
        g->sync_deadline = UINT64_MAX;
        if (g->state != STATE_COMPLETING && g->state != STATE_STABLE) return;
        if (!any_pending_sync(g)) return;
        /* Members that never sent SyncGroup leave; the rest rebalance. */
        for (u32 i = 0; i < g->member_count;) {
            if (g->members[i]->pending_sync) {
                member_remove(c, g, g->members[i]);
            } else {
                i++;
            }
        }
        prepare_rebalance(c, g, now_ns);
        return;
    }
    }
}

void group_coordinator_tick(struct group_coordinator *coordinator, u64 now_ns)
{
    enter(coordinator);
    for (u32 n = 0; n < TICK_EVENTS_MAX; n++) {
        struct due due = due_earliest(coordinator);
        if (due.kind == DUE_NONE || due.at > now_ns) break;
        due_run(coordinator, &due, now_ns);
    }
    leave(coordinator);
}

/* ================================================================================ */
/* Leadership of __consumer_offsets partitions                                      */
/* ================================================================================ */

static void unload_partition(struct group_coordinator *c, u32 partition)
{
    for (u32 i = 0; i < GROUP_PERSISTS_MAX; i++) {
        if (c->persists[i].used && c->persists[i].partition == partition) {
            persist_finish(c, &c->persists[i], KAFKA_ERROR_NOT_LEADER_OR_FOLLOWER, 0, true);
        }
    }
    for (u32 i = c->group_count; i-- > 0;) {
        struct group *g = c->groups[i];
        if (g->partition != partition) continue;
        for (u32 k = 0; k < g->member_count; k++) {
            member_join_answer(c, g, g->members[k], KAFKA_ERROR_NOT_COORDINATOR, false, false);
            member_sync_answer(c, g, g->members[k], KAFKA_ERROR_NOT_COORDINATOR);
        }
        group_drop(c, g);
    }
    c->partitions[partition].state = GROUP_PARTITION_NONE;
}

static bool any_partition_loaded(const struct group_coordinator *c)
{
    for (u32 p = 0; p < c->config.offsets_partitions; p++) {
        if (c->partitions[p].state == GROUP_PARTITION_LOADED) return true;
    }
    return false;
}

void group_load_begin(struct group_coordinator *coordinator, u32 partition, i32 leader_epoch)
{
    struct group_coordinator *c = coordinator;
    ASSERT(partition < c->config.offsets_partitions);
    enter(c);
    if (c->partitions[partition].state != GROUP_PARTITION_NONE) unload_partition(c, partition);
    struct partition_info *info = &c->partitions[partition];
    /* Member ids carry the epoch: a new epoch starts its counter afresh. */
    if (leader_epoch != info->leader_epoch) info->member_counter = 0;
    info->leader_epoch = leader_epoch;
    info->state = GROUP_PARTITION_LOADING;
    leave(c);
}

void group_load_batch(struct group_coordinator *coordinator, u32 partition, const u8 *batch,
                      u32 size)
{
    struct group_coordinator *c = coordinator;
    ASSERT(partition < c->config.offsets_partitions);
    enter(c);
    if (c->partitions[partition].state == GROUP_PARTITION_LOADING) {
        replay_batch(c, partition, batch, size, false);
    } else {
        c->records_skipped++;
    }
    leave(c);
}

void group_load_end(struct group_coordinator *coordinator, u32 partition, u64 now_ns)
{
    struct group_coordinator *c = coordinator;
    ASSERT(partition < c->config.offsets_partitions);
    enter(c);
    if (c->partitions[partition].state == GROUP_PARTITION_LOADING) {
        for (u32 i = c->group_count; i-- > 0;) {
            struct group *g = c->groups[i];
            if (g->partition != partition) continue;
            if (!g->has_metadata && g->offset_count == 0) {
                group_drop(c, g); /* Its records were all deleted. */
                continue;
            }
            for (u32 k = 0; k < g->member_count; k++) {
                g->members[k]->heartbeat_deadline =
                    after_ms(now_ns, g->members[k]->session_timeout_ms);
            }
        }
        bool first = !any_partition_loaded(c);
        c->partitions[partition].state = GROUP_PARTITION_LOADED;
        if (first) c->retention_deadline = after_ms(now_ns, (i64)retention_interval_ms(c));
    }
    leave(c);
}

void group_unload(struct group_coordinator *coordinator, u32 partition)
{
    struct group_coordinator *c = coordinator;
    ASSERT(partition < c->config.offsets_partitions);
    enter(c);
    unload_partition(c, partition);
    if (!any_partition_loaded(c)) c->retention_deadline = UINT64_MAX;
    leave(c);
}

enum group_partition_state group_partition_state(const struct group_coordinator *coordinator,
                                                 u32 partition)
{
    if (partition >= coordinator->config.offsets_partitions) return GROUP_PARTITION_NONE;
    return coordinator->partitions[partition].state;
}

void group_coordinator_cancel(struct group_coordinator *coordinator, u64 token)
{
    struct group_coordinator *c = coordinator;
    enter(c);
    for (u32 i = 0; i < c->group_count; i++) {
        struct group *g = c->groups[i];
        for (u32 k = 0; k < g->member_count; k++) {
            struct member *m = g->members[k];
            if (m->awaiting_join && m->join_token == token) m->join_answerable = false;
            if (m->awaiting_sync && m->sync_token == token) m->sync_answerable = false;
        }
    }
    for (u32 i = 0; i < GROUP_PARKED_MAX; i++) {
        if (c->parked[i].used && c->parked[i].token == token) c->parked[i].answerable = false;
    }
    leave(c);
}

void group_persisted(struct group_coordinator *coordinator, u64 persist_token, i16 error,
                     u64 now_ns)
{
    struct group_coordinator *c = coordinator;
    enter(c);
    for (u32 i = 0; i < GROUP_PERSISTS_MAX; i++) {
        if (c->persists[i].used && c->persists[i].token == persist_token) {
            persist_finish(c, &c->persists[i], error, now_ns, false);
            break;
        }
    }
    leave(c);
}

/* ================================================================================ */
/* Creation                                                                         */
/* ================================================================================ */

struct group_coordinator *group_coordinator_create(const struct group_coordinator_config *config,
                                                   const struct group_coordinator_owner *owner)
{
    ASSERT(config != NULL && owner != NULL && owner->answer != NULL && owner->persist != NULL);
    if (config->offsets_partitions == 0 || config->offsets_partitions > GROUP_PARTITIONS_MAX) {
        return NULL;
    }
    struct group_coordinator *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->config = *config;
    c->owner = *owner;
    c->retention_deadline = UINT64_MAX;
    for (u32 p = 0; p < GROUP_PARTITIONS_MAX; p++) c->partitions[p].leader_epoch = -1;
    c->batch_buffer = malloc(GROUP_BATCH_MAX);
    c->record_buffer = malloc(GROUP_BATCH_MAX);
    void *answer_memory = malloc(ANSWER_ARENA_SIZE);
    void *scratch_memory = malloc(SCRATCH_ARENA_SIZE);
    if (c->batch_buffer == NULL || c->record_buffer == NULL || answer_memory == NULL ||
        scratch_memory == NULL) {
        free(c->batch_buffer);
        free(c->record_buffer);
        free(answer_memory);
        free(scratch_memory);
        free(c);
        return NULL;
    }
    proto_arena_init(&c->answer_arena, answer_memory, ANSWER_ARENA_SIZE);
    proto_arena_init(&c->scratch_arena, scratch_memory, SCRATCH_ARENA_SIZE);
    return c;
}

void group_coordinator_destroy(struct group_coordinator *coordinator)
{
    struct group_coordinator *c = coordinator;
    if (c == NULL) return;
    ASSERT(!c->busy);
    for (u32 i = 0; i < c->group_count; i++) group_free(c->groups[i]);
    for (u32 i = 0; i < GROUP_PERSISTS_MAX; i++) {
        text_free(&c->persists[i].old_member_id);
        free(c->persists[i].batch);
    }
    for (u32 i = 0; i < GROUP_PARKED_MAX; i++) {
        free(c->parked[i].skeleton);
        free(c->parked[i].result_errors);
    }
    free(c->batch_buffer);
    free(c->record_buffer);
    free(c->answer_arena.memory);
    free(c->scratch_arena.memory);
    free(c);
}

/* ================================================================================ */
/* Introspection                                                                    */
/* ================================================================================ */

bool group_coordinator_group(const struct group_coordinator *coordinator, u32 i,
                             struct group_summary *summary)
{
    if (i >= coordinator->group_count) return false;
    const struct group *g = coordinator->groups[i];
    memset(summary, 0, sizeof(*summary));
    ASSERT(g->id.size >= 0 && g->id.size <= (i32)GROUP_ID_MAX);
    if (g->id.size > 0) memcpy(summary->group_id, g->id.data, (size_t)g->id.size);
    summary->state = STATE_NAMES[g->state];
    summary->generation = g->generation;
    summary->members = g->member_count;
    summary->offsets = g->offset_count;
    summary->partition = g->partition;
    return true;
}

u64 group_coordinator_records_skipped(const struct group_coordinator *coordinator)
{
    return coordinator->records_skipped;
}

static void tokens_check(const u64 *tokens, u32 count)
{
    for (u32 i = 0; i < count; i++) {
        for (u32 k = i + 1; k < count; k++) ASSERT(tokens[i] != tokens[k]);
    }
}

static void group_invariants(const struct group_coordinator *c, const struct group *g)
{
    ASSERT(g->id.size >= 0 && g->id.size <= (i32)GROUP_ID_MAX);
    ASSERT(g->partition < c->config.offsets_partitions);
    ASSERT(partition_of(c, text_view(&g->id)) == g->partition);
    ASSERT(c->partitions[g->partition].state != GROUP_PARTITION_NONE);
    ASSERT(g->generation >= 0);
    ASSERT(g->member_count <= GROUP_MEMBERS_MAX && g->pending_count <= GROUP_MEMBERS_MAX);
    ASSERT((g->leader == NULL) == (g->member_count == 0));
    bool leader_found = g->leader == NULL;
    for (u32 i = 0; i < g->member_count; i++) {
        const struct member *m = g->members[i];
        leader_found |= m == g->leader;
        ASSERT(m->id.size >= 0);
        ASSERT(m->protocol_count >= 1 && m->protocol_count <= GROUP_PROTOCOLS_MAX);
        ASSERT(!(m->awaiting_join && m->awaiting_sync));
        ASSERT(!m->awaiting_sync || g->state == STATE_COMPLETING);
        ASSERT(!m->awaiting_join || g->state == STATE_PREPARING || g->state == STATE_STABLE);
        ASSERT(!m->pending_sync || g->state == STATE_COMPLETING || g->state == STATE_STABLE);
        if (g->state == STATE_STABLE) ASSERT(m->assigned_generation == g->generation);
        if (g->protocol_name.size >= 0) {
            ASSERT(member_protocol(m, label_view(&g->protocol_name)) != NULL ||
                   g->state == STATE_PREPARING);
        }
        for (u32 k = i + 1; k < g->member_count; k++) {
            ASSERT(!text_is(&g->members[k]->id, text_view(&m->id)));
            ASSERT(m->instance_id.size < 0 ||
                   !text_is(&g->members[k]->instance_id, text_view(&m->instance_id)));
        }
        ASSERT(pending_find(g, text_view(&m->id)) < 0);
    }
    ASSERT(leader_found);
    switch (g->state) {
    case STATE_EMPTY: ASSERT(g->member_count == 0); break;
    case STATE_PREPARING: ASSERT(g->join_deadline != UINT64_MAX); break;
    case STATE_COMPLETING:
    case STATE_STABLE:
        ASSERT(g->member_count > 0 && g->protocol_name.size >= 0);
        ASSERT(g->join_deadline == UINT64_MAX);
        break;
    case STATE_DEAD: ASSERT(g->member_count == 0); break;
    }
    if (g->member_count > 0) ASSERT(g->protocol_type.size > 0);
    ASSERT(g->offset_count <= GROUP_OFFSETS_MAX && g->offset_count <= g->offset_capacity);
    for (u32 i = 0; i < g->offset_count; i++) {
        for (u32 k = i + 1; k < g->offset_count; k++) {
            ASSERT(g->offsets[i].partition != g->offsets[k].partition ||
                   !text_is(&g->offsets[k].topic, text_view(&g->offsets[i].topic)));
        }
    }
}

void group_coordinator_invariants(const struct group_coordinator *coordinator)
{
    const struct group_coordinator *c = coordinator;
    ASSERT(!c->busy && !c->inline_active);
    ASSERT(c->group_count <= GROUP_GROUPS_MAX);
    ASSERT(!c->spare.used);
    u32 token_capacity = GROUP_PARKED_MAX + 2 * GROUP_MEMBERS_MAX * c->group_count;
    u64 *tokens = malloc(MAX(token_capacity, 1u) * sizeof(u64));
    ASSERT(tokens != NULL);
    u32 tokens_count = 0;
    for (u32 i = 0; i < c->group_count; i++) {
        const struct group *g = c->groups[i];
        group_invariants(c, g);
        for (u32 k = i + 1; k < c->group_count; k++) {
            ASSERT(!text_is(&c->groups[k]->id, text_view(&g->id)));
            ASSERT(c->groups[k]->serial != g->serial);
        }
        for (u32 k = 0; k < g->member_count; k++) {
            const struct member *m = g->members[k];
            if (m->awaiting_join && m->join_answerable) tokens[tokens_count++] = m->join_token;
            if (m->awaiting_sync && m->sync_answerable) tokens[tokens_count++] = m->sync_token;
        }
    }
    for (u32 i = 0; i < GROUP_PARKED_MAX; i++) {
        const struct parked *pk = &c->parked[i];
        if (!pk->used) continue;
        ASSERT(pk->waiting > 0);
        if (pk->answerable) tokens[tokens_count++] = pk->token;
    }
    tokens_check(tokens, tokens_count);
    free(tokens);
    for (u32 i = 0; i < GROUP_PERSISTS_MAX; i++) {
        const struct persist *p = &c->persists[i];
        if (!p->used) continue;
        ASSERT(p->partition < c->config.offsets_partitions);
        ASSERT(c->partitions[p->partition].state != GROUP_PARTITION_NONE);
        ASSERT(p->batch != NULL && p->batch_size > 0);
        ASSERT(p->parked < 0 || c->parked[p->parked].used);
        for (u32 k = i + 1; k < GROUP_PERSISTS_MAX; k++) {
            ASSERT(!c->persists[k].used || c->persists[k].token != p->token);
        }
    }
}
