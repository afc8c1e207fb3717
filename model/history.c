/* history.c: the growable record of a run's events (see history.h).
 *
 * Invariants: count <= capacity, data_size <= data_capacity; an event's payload, when it has
 * one, lives at [data_offset, data_offset + data_size) of data. Events are stored in the order
 * they are appended (the recorder appends in time order). Growth doubles, so appending is
 * amortised constant time; the history is the one structure in the project allowed to grow
 * while a run records, because its size is the run's length. Tested by
 * tests/unit/test_model_checkers.c (every crafted history goes through history_append). */
#include "history.h"

#include <stdlib.h>
#include <string.h>

void history_init(struct history *history)
{
    memset(history, 0, sizeof(*history));
}

void history_free(struct history *history)
{
    free(history->events);
    free(history->data);
    memset(history, 0, sizeof(*history));
}

static void history_grow_events(struct history *history)
{
    u32 capacity = history->capacity == 0 ? 1024 : history->capacity * 2;
    ASSERT(capacity > history->capacity);
    struct history_event *events = realloc(history->events, sizeof(*events) * capacity);
    ASSERT(events != NULL);
    history->events = events;
    history->capacity = capacity;
}

static void history_grow_data(struct history *history, u32 needed)
{
    u32 capacity = history->data_capacity == 0 ? 4096 : history->data_capacity;
    while (capacity < needed) {
        ASSERT(capacity < UINT32_MAX / 2);
        capacity *= 2;
    }
    u8 *data = realloc(history->data, capacity);
    ASSERT(data != NULL);
    history->data = data;
    history->data_capacity = capacity;
}

void history_append(struct history *history, const struct history_event *event, const u8 *data,
                    u32 data_size)
{
    ASSERT(event != NULL);
    ASSERT(data != NULL || data_size == 0);
    if (history->count == history->capacity) history_grow_events(history);
    struct history_event *target = &history->events[history->count];
    *target = *event;
    target->data_offset = 0;
    target->data_size = data_size;
    if (data_size > 0) {
        ASSERT(history->data_size <= UINT32_MAX - data_size);
        u32 needed = history->data_size + data_size;
        if (needed > history->data_capacity) history_grow_data(history, needed);
        memcpy(history->data + history->data_size, data, data_size);
        target->data_offset = history->data_size;
        history->data_size = needed;
    }
    history->count++;
    ASSERT(history->count <= history->capacity);
}
