/* checkpoint.c: Kafka's text checkpoint formats (see checkpoint.h).
 *
 * The parser reads a line at a time with explicit bounds; numbers are decimal with an optional
 * '-' and must fit their type. Invariant of a parsed epoch list: epochs strictly increase and
 * start offsets do not decrease. Tested by round trips and malformed inputs in
 * tests/unit/test_log_segment.c. */
#include "checkpoint.h"

#include <stdio.h>
#include <string.h>

struct checkpoint_reader {
    const char *text;
    u32 size;
    u32 position;
};

/* Reads the next line into line (without '\n'); false at end or when it is too long. */
static bool checkpoint_line(struct checkpoint_reader *reader, char *line, u32 line_size)
{
    ASSERT(line_size > 0);
    if (reader->position >= reader->size) return false;
    u32 length = 0;
    while (reader->position < reader->size && reader->text[reader->position] != '\n') {
        if (length + 1 >= line_size) return false;
        line[length++] = reader->text[reader->position++];
    }
    if (reader->position >= reader->size) return false; /* Every line ends in '\n'. */
    reader->position++;
    line[length] = '\0';
    return true;
}

/* Parses a decimal i64 from *cursor up to a space or the end; advances past one space. */
static bool checkpoint_number(const char **cursor, i64 *value)
{
    const char *c = *cursor;
    bool negative = *c == '-';
    if (negative) c++;
    if (*c < '0' || *c > '9') return false;
    u64 magnitude = 0;
    for (u32 digits = 0; *c >= '0' && *c <= '9'; c++, digits++) {
        if (digits >= 18) return false; /* Keeps the arithmetic far from overflow. */
        magnitude = magnitude * 10 + (u64)(*c - '0');
    }
    if (*c != ' ' && *c != '\0') return false;
    if (*c == ' ') c++;
    *value = negative ? -(i64)magnitude : (i64)magnitude;
    *cursor = c;
    return true;
}

/* Reads the "version" and "count" lines. */
static bool checkpoint_preamble(struct checkpoint_reader *reader, i64 *count)
{
    char line[64];
    i64 version = -1;
    const char *cursor = line;
    if (!checkpoint_line(reader, line, sizeof(line))) return false;
    if (!checkpoint_number(&cursor, &version) || *cursor != '\0') return false;
    if (version != CHECKPOINT_VERSION) return false;
    if (!checkpoint_line(reader, line, sizeof(line))) return false;
    cursor = line;
    if (!checkpoint_number(&cursor, count) || *cursor != '\0') return false;
    return *count >= 0;
}

u32 checkpoint_offset_encode(char *buffer, u32 capacity, const char *topic, i32 partition,
                             i64 offset)
{
    ASSERT(strlen(topic) < CHECKPOINT_TOPIC_MAX);
    ASSERT(partition >= 0);
    int written = snprintf(buffer, capacity, "%d\n1\n%s %d %lld\n", CHECKPOINT_VERSION, topic,
                           partition, (long long)offset);
    if (written < 0 || (u32)written >= capacity) return 0;
    return (u32)written;
}

bool checkpoint_offset_parse(const char *text, u32 size, const char *topic, i32 partition,
                             i64 *offset)
{
    struct checkpoint_reader reader = {text, size, 0};
    i64 count = 0;
    if (!checkpoint_preamble(&reader, &count)) return false;
    bool found = false;
    char line[CHECKPOINT_TOPIC_MAX + 64];
    for (i64 i = 0; i < count; i++) {
        if (!checkpoint_line(&reader, line, sizeof(line))) return false;
        char *space = strchr(line, ' ');
        if (space == NULL) return false;
        *space = '\0';
        const char *cursor = space + 1;
        i64 entry_partition = 0, entry_offset = 0;
        if (!checkpoint_number(&cursor, &entry_partition)) return false;
        if (!checkpoint_number(&cursor, &entry_offset) || *cursor != '\0') return false;
        if (strcmp(line, topic) == 0 && entry_partition == partition) {
            *offset = entry_offset;
            found = true;
        }
    }
    return found && reader.position == size;
}

u32 checkpoint_epochs_encode(char *buffer, u32 capacity, const struct epoch_entry *entries,
                             u32 count)
{
    int written = snprintf(buffer, capacity, "%d\n%u\n", CHECKPOINT_VERSION, count);
    if (written < 0 || (u32)written >= capacity) return 0;
    u32 size = (u32)written;
    for (u32 i = 0; i < count; i++) {
        if (i > 0) ASSERT(entries[i].epoch > entries[i - 1].epoch);
        written = snprintf(buffer + size, capacity - size, "%d %lld\n", entries[i].epoch,
                           (long long)entries[i].start_offset);
        if (written < 0 || (u32)written >= capacity - size) return 0;
        size += (u32)written;
    }
    return size;
}

bool checkpoint_epochs_parse(const char *text, u32 size, struct epoch_entry *entries,
                             u32 capacity, u32 *count)
{
    struct checkpoint_reader reader = {text, size, 0};
    i64 total = 0;
    if (!checkpoint_preamble(&reader, &total)) return false;
    if (total > capacity) return false;
    char line[64];
    for (i64 i = 0; i < total; i++) {
        if (!checkpoint_line(&reader, line, sizeof(line))) return false;
        const char *cursor = line;
        i64 epoch = 0, start = 0;
        if (!checkpoint_number(&cursor, &epoch)) return false;
        if (!checkpoint_number(&cursor, &start) || *cursor != '\0') return false;
        if (epoch < 0 || epoch > INT32_MAX || start < 0) return false;
        if (i > 0 && (epoch <= entries[i - 1].epoch || start < entries[i - 1].start_offset)) {
            return false;
        }
        entries[i].epoch = (i32)epoch;
        entries[i].start_offset = start;
    }
    if (reader.position != size) return false;
    *count = (u32)total;
    return true;
}
