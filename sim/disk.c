/* disk.c: files with a durable image, a current image and a list of unsynced operations.
 *
 * Method (after SQLite's test6.c): operations are applied to the current image when they
 * complete and remembered in the pending list. A sync folds the pending operations issued
 * before it, in completion order, into the durable image. A crash replays onto the durable
 * image a seed-chosen prefix of the pending list; the first dropped operation, if it is a write
 * spanning several sectors, may be torn: a prefix of its sectors (cut at absolute 512-byte
 * boundaries of the file) reaches the platter and the rest does not.
 *
 * Invariants: durable.size and current.size are within capacity; a file with refs > 0 stays in
 * its slot; an unlinked file with no refs is freed; pending issue_seq values are unique.
 * Tested by tests/unit/test_sim_disk.c (synced data survives, unsynced bytes lost, torn tail on
 * a sector boundary, sync covers only earlier writes, rename/remove/list, corruption). */
#include "disk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void disk_init(struct disk *disk)
{
    memset(disk, 0, sizeof(*disk));
    disk->issue_seq_next = 1;
}

static void disk_pending_clear(struct disk_file *file)
{
    for (u32 i = 0; i < file->pending_count; i++) free(file->pending[i].bytes);
    file->pending_count = 0;
}

static void disk_file_release(struct disk_file *file)
{
    ASSERT(file->used);
    disk_pending_clear(file);
    free(file->pending);
    free(file->durable.bytes);
    free(file->current.bytes);
    memset(file, 0, sizeof(*file));
}

void disk_free(struct disk *disk)
{
    for (u32 i = 0; i < disk->file_count; i++) {
        if (disk->files[i].used) disk_file_release(&disk->files[i]);
    }
    free(disk->files);
    memset(disk, 0, sizeof(*disk));
}

i32 disk_find(const struct disk *disk, const char *path)
{
    for (u32 i = 0; i < disk->file_count; i++) {
        const struct disk_file *file = &disk->files[i];
        if (file->used && file->linked && strcmp(file->path, path) == 0) return (i32)i;
    }
    return -1;
}

u32 disk_create(struct disk *disk, const char *path)
{
    ASSERT(disk_find(disk, path) < 0);
    ASSERT(strlen(path) < IO_PATH_MAX);
    u32 slot = disk->file_count;
    for (u32 i = 0; i < disk->file_count; i++) {
        if (!disk->files[i].used) {
            slot = i;
            break;
        }
    }
    if (slot == disk->file_count) {
        ASSERT(disk->file_count < DISK_FILES_MAX);
        if (disk->file_count == disk->file_capacity) {
            disk->file_capacity = disk->file_capacity == 0 ? 16 : disk->file_capacity * 2;
            disk->files = realloc(disk->files, sizeof(struct disk_file) * disk->file_capacity);
            ASSERT(disk->files != NULL);
        }
        disk->file_count++;
    }
    struct disk_file *file = &disk->files[slot];
    memset(file, 0, sizeof(*file));
    file->used = true;
    file->linked = true;
    snprintf(file->path, sizeof(file->path), "%s", path);
    ASSERT(disk_find(disk, path) == (i32)slot);
    return slot;
}

u64 disk_issue_seq(struct disk *disk) { return disk->issue_seq_next++; }

static struct disk_file *disk_file_get(const struct disk *disk, u32 file)
{
    ASSERT(file < disk->file_count);
    ASSERT(disk->files[file].used);
    return &disk->files[file];
}

void disk_ref(struct disk *disk, u32 file) { disk_file_get(disk, file)->refs++; }

void disk_unref(struct disk *disk, u32 file)
{
    struct disk_file *entry = disk_file_get(disk, file);
    ASSERT(entry->refs > 0);
    entry->refs--;
    if (entry->refs == 0 && !entry->linked) disk_file_release(entry);
}

static void disk_image_resize(struct disk_image *image, u64 size)
{
    if (size > image->capacity) {
        u64 capacity = image->capacity == 0 ? 4096 : image->capacity;
        while (capacity < size) capacity *= 2;
        image->bytes = realloc(image->bytes, capacity);
        ASSERT(image->bytes != NULL);
        image->capacity = capacity;
    }
    /* Growing exposes zeros, as a sparse file does. */
    if (size > image->size) memset(image->bytes + image->size, 0, size - image->size);
    image->size = size;
    ASSERT(image->size <= image->capacity);
}

static void disk_image_write(struct disk_image *image, u64 offset, const u8 *bytes, u32 size)
{
    if (offset + size > image->size) disk_image_resize(image, offset + size);
    if (size > 0) memcpy(image->bytes + offset, bytes, size);
}

static void disk_pending_apply(struct disk_image *image, const struct disk_pending *pending)
{
    if (pending->kind == DISK_PENDING_WRITE) {
        disk_image_write(image, pending->offset, pending->bytes, pending->size);
    } else {
        disk_image_resize(image, pending->offset);
    }
}

static void disk_pending_push(struct disk_file *file, const struct disk_pending *pending)
{
    if (file->pending_count == file->pending_capacity) {
        file->pending_capacity = file->pending_capacity == 0 ? 8 : file->pending_capacity * 2;
        file->pending = realloc(file->pending, sizeof(*file->pending) * file->pending_capacity);
        ASSERT(file->pending != NULL);
    }
    file->pending[file->pending_count++] = *pending;
}

void disk_write(struct disk *disk, u32 file, u64 offset, const u8 *bytes, u32 size,
                u64 issue_seq)
{
    struct disk_file *entry = disk_file_get(disk, file);
    ASSERT(issue_seq < disk->issue_seq_next);
    struct disk_pending pending = {DISK_PENDING_WRITE, offset, size, NULL, issue_seq};
    if (size > 0) {
        pending.bytes = malloc(size);
        ASSERT(pending.bytes != NULL);
        memcpy(pending.bytes, bytes, size);
    }
    disk_pending_apply(&entry->current, &pending);
    disk_pending_push(entry, &pending);
    ASSERT(entry->current.size >= offset + size);
}

void disk_truncate(struct disk *disk, u32 file, u64 size, u64 issue_seq)
{
    struct disk_file *entry = disk_file_get(disk, file);
    ASSERT(issue_seq < disk->issue_seq_next);
    struct disk_pending pending = {DISK_PENDING_TRUNCATE, size, 0, NULL, issue_seq};
    disk_pending_apply(&entry->current, &pending);
    disk_pending_push(entry, &pending);
    ASSERT(entry->current.size == size);
}

void disk_sync(struct disk *disk, u32 file, u64 sync_issue_seq)
{
    struct disk_file *entry = disk_file_get(disk, file);
    u32 kept = 0;
    for (u32 i = 0; i < entry->pending_count; i++) {
        struct disk_pending *pending = &entry->pending[i];
        if (pending->issue_seq < sync_issue_seq) {
            disk_pending_apply(&entry->durable, pending);
            free(pending->bytes);
        } else {
            entry->pending[kept++] = *pending; /* Issued after the sync: still volatile. */
        }
    }
    entry->pending_count = kept;
    if (kept == 0) {
        ASSERT(entry->durable.size == entry->current.size);
    }
}

u32 disk_read(const struct disk *disk, u32 file, u64 offset, u8 *buffer, u32 size)
{
    const struct disk_file *entry = disk_file_get(disk, file);
    if (offset >= entry->current.size) return 0;
    u64 available = entry->current.size - offset;
    u32 count = (u32)MIN((u64)size, available);
    memcpy(buffer, entry->current.bytes + offset, count);
    ASSERT(count <= size);
    return count;
}

u64 disk_size(const struct disk *disk, u32 file) { return disk_file_get(disk, file)->current.size; }

/* The file at slot index stops being reachable by path; it lives on while referenced. */
static void disk_unlink(struct disk *disk, u32 index)
{
    struct disk_file *entry = disk_file_get(disk, index);
    ASSERT(entry->linked);
    entry->linked = false;
    if (entry->refs == 0) disk_file_release(entry);
}

enum io_result disk_rename(struct disk *disk, const char *source, const char *target)
{
    i32 from = disk_find(disk, source);
    if (from < 0) return IO_ERR_NOT_FOUND;
    if (strlen(target) >= IO_PATH_MAX) return IO_ERR_INVALID;
    if (strcmp(source, target) == 0) return IO_OK;
    i32 replaced = disk_find(disk, target);
    if (replaced >= 0) disk_unlink(disk, (u32)replaced);
    struct disk_file *entry = disk_file_get(disk, (u32)from);
    snprintf(entry->path, sizeof(entry->path), "%s", target);
    ASSERT(disk_find(disk, target) == from);
    ASSERT(disk_find(disk, source) < 0);
    return IO_OK;
}

enum io_result disk_remove(struct disk *disk, const char *path)
{
    i32 index = disk_find(disk, path);
    if (index < 0) return IO_ERR_NOT_FOUND;
    disk_unlink(disk, (u32)index);
    ASSERT(disk_find(disk, path) < 0);
    return IO_OK;
}

enum io_result disk_remove_directory(const struct disk *disk, const char *path)
{
    size_t length = strlen(path);
    if (length == 0) return IO_ERR_INVALID; /* The root is not ours to remove. */
    for (u32 i = 0; i < disk->file_count; i++) {
        const struct disk_file *file = &disk->files[i];
        if (!file->used || !file->linked) continue;
        if (strncmp(file->path, path, length) == 0 && file->path[length] == '/') {
            return IO_ERR_NOT_EMPTY;
        }
    }
    return IO_OK;
}

/* The name of path inside directory when it is a direct child, else NULL. */
static const char *disk_child_name(const char *path, const char *directory)
{
    size_t length = strlen(directory);
    while (length > 0 && directory[length - 1] == '/') length--;
    bool root = length == 0 || (length == 1 && directory[0] == '.');
    const char *rest = path;
    if (!root) {
        if (strncmp(path, directory, length) != 0 || path[length] != '/') return NULL;
        rest = path + length + 1;
    }
    if (*rest == '\0' || strchr(rest, '/') != NULL) return NULL;
    return rest;
}

enum io_result disk_list(const struct disk *disk, const char *directory, u8 *buffer,
                         u32 buffer_size, u32 *used, u32 *count)
{
    *used = 0;
    *count = 0;
    const char *previous = NULL; /* Emit names in strcmp order by repeated minimum search. */
    for (u32 round = 0; round < disk->file_count; round++) {
        const char *best = NULL;
        for (u32 i = 0; i < disk->file_count; i++) {
            const struct disk_file *file = &disk->files[i];
            if (!file->used || !file->linked) continue;
            const char *name = disk_child_name(file->path, directory);
            if (name == NULL) continue;
            if (previous != NULL && strcmp(name, previous) <= 0) continue;
            if (best == NULL || strcmp(name, best) < 0) best = name;
        }
        if (best == NULL) break;
        u32 size = (u32)strlen(best) + 1;
        if (*used + size > buffer_size) return IO_ERR_LIMIT;
        memcpy(buffer + *used, best, size);
        *used += size;
        *count += 1;
        previous = best;
    }
    ASSERT(*used <= buffer_size);
    return IO_OK;
}

/* Applies the part of a dropped write that reached the platter before the crash: a prefix of
 * its sectors, cut at absolute sector boundaries. Returns the bytes that persisted. */
static u64 disk_tear(struct disk_image *image, const struct disk_pending *write,
                     struct prng *prng, struct disk_stats *stats)
{
    u64 first_sector = write->offset / DISK_SECTOR_SIZE;
    u64 last_sector = (write->offset + write->size - 1) / DISK_SECTOR_SIZE;
    u64 sectors = last_sector - first_sector + 1;
    if (sectors < 2) return 0; /* A single sector is written atomically. */
    u64 kept = prng_below(prng, sectors); /* 0 .. sectors-1: never the whole write. */
    if (kept == 0) return 0;
    u64 end = (first_sector + kept) * DISK_SECTOR_SIZE;
    ASSERT(end > write->offset);
    ASSERT(end < write->offset + write->size);
    u32 persisted = (u32)(end - write->offset);
    disk_image_write(image, write->offset, write->bytes, persisted);
    stats->writes_torn++;
    ASSERT(end % DISK_SECTOR_SIZE == 0);
    return persisted;
}

static void disk_file_crash(struct disk_file *file, struct prng *prng, struct disk_stats *stats)
{
    u32 keep = (u32)prng_below(prng, (u64)file->pending_count + 1);
    for (u32 i = 0; i < keep; i++) disk_pending_apply(&file->durable, &file->pending[i]);
    for (u32 i = keep; i < file->pending_count; i++) {
        const struct disk_pending *pending = &file->pending[i];
        if (pending->kind != DISK_PENDING_WRITE || pending->size == 0) continue;
        u64 persisted = 0;
        if (i == keep) persisted = disk_tear(&file->durable, pending, prng, stats);
        stats->bytes_lost_to_crash += pending->size - persisted;
    }
    disk_pending_clear(file);
    /* After the reboot the page cache is gone: reads see exactly the durable image. */
    disk_image_resize(&file->current, 0);
    disk_image_resize(&file->current, file->durable.size);
    if (file->durable.size > 0) {
        memcpy(file->current.bytes, file->durable.bytes, file->durable.size);
    }
    ASSERT(file->current.size == file->durable.size);
}

void disk_crash(struct disk *disk, struct prng *prng)
{
    for (u32 i = 0; i < disk->file_count; i++) {
        struct disk_file *file = &disk->files[i];
        if (!file->used) continue;
        ASSERT(file->refs == 0);
        if (!file->linked) {
            disk_file_release(file);
            continue;
        }
        disk_file_crash(file, prng, &disk->stats);
    }
}

u32 disk_corrupt(struct disk *disk, struct prng *prng, u32 count)
{
    u64 sectors_total = 0;
    for (u32 i = 0; i < disk->file_count; i++) {
        const struct disk_file *file = &disk->files[i];
        if (file->used && file->linked) {
            sectors_total += (file->durable.size + DISK_SECTOR_SIZE - 1) / DISK_SECTOR_SIZE;
        }
    }
    if (sectors_total == 0) return 0;
    for (u32 n = 0; n < count; n++) {
        u64 pick = prng_below(prng, sectors_total);
        for (u32 i = 0; i < disk->file_count; i++) {
            struct disk_file *file = &disk->files[i];
            if (!file->used || !file->linked) continue;
            u64 sectors = (file->durable.size + DISK_SECTOR_SIZE - 1) / DISK_SECTOR_SIZE;
            if (pick >= sectors) {
                pick -= sectors;
                continue;
            }
            u64 start = pick * DISK_SECTOR_SIZE;
            u64 length = MIN((u64)DISK_SECTOR_SIZE, file->durable.size - start);
            u64 offset = start + prng_below(prng, length);
            u8 mask = (u8)(1u << prng_below(prng, 8));
            /* The platter rots, not the page cache: the running process keeps reading good
             * bytes, and the damage shows after a crash drops the cache (recovery's case). */
            file->durable.bytes[offset] ^= mask;
            break;
        }
        disk->stats.sectors_corrupted++;
    }
    return count;
}
